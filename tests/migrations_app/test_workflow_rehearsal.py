"""Rehearsals: in a rolled-back transaction on a small plain Postgres target (locks, rewrites, rows and
the schema diff recorded, nothing left behind), refused for big tables, and on a temporary Neon branch
that is deleted again even when the rehearsal fails."""

import pytest

from dashboard.neon.sync import sync_project
from dashboard.schema.snapshots import capture_snapshot
from dashboard.taskruns import lifecycle as taskruns
from migrations_app.models import ProjectMigrationPolicy
from migrations_app.services import rehearse, workflow
from tests.migrations_app.workflow_support import draft, page
from tests.neon.conftest import STANDIN_PROJECT
from tests.support import pg

pytestmark = pytest.mark.django_db

REWRITE = (
    "ALTER TABLE small ADD COLUMN c int DEFAULT (random() * 10)::int;\nUPDATE small SET id = id WHERE id < 3;"
)


def run_rehearsal(req):
    rehearsal = workflow.latest_rehearsal(workflow.current_revision(req))
    rehearse.run_rehearsal(taskruns.claim(str(rehearsal.task_run_id)))
    rehearsal.refresh_from_db()
    return rehearsal


@pytest.fixture
def small_table(project, target_db):
    with pg.admin_connect(target_db) as conn:
        conn.execute(
            "CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small SELECT generate_series(1, 10)"
        )
    capture_snapshot(project)  # the sizes the rehearsal rule reads


def test_plain_rehearsal_records_locks_rewrites_rows_and_diff_and_leaves_nothing(
    client_for, project, users, small_table, target_db
):
    req = draft(project, users["engineer"], sql=REWRITE)
    rehearsal = run_rehearsal(req)
    assert rehearsal.status == "succeeded", rehearsal.reason
    assert rehearsal.method == "transaction"
    first, second = rehearsal.report["statements"]
    assert {"relation": "public.small", "kind": "table", "mode": "AccessExclusiveLock"} in first["locks"]
    assert first["rewrites"] == ["public.small"]  # a volatile default rewrites the table
    assert second["rows"] == 2
    assert any(c["part"] == "column c" for o in rehearsal.diff for c in o["changes"])
    with pg.admin_connect(target_db) as conn:  # rolled back: no column, no history schema
        assert (
            conn.execute(
                "SELECT count(*) FROM information_schema.columns WHERE column_name = 'c'"
            ).fetchone()[0]
            == 0
        )
        assert conn.execute("SELECT to_regnamespace('neon_ops')").fetchone()[0] is None
    req.refresh_from_db()
    assert req.state == "awaiting_approval"
    shown = page(client_for("admin"), req)
    report = shown.split('id="rehearsal-report"')[1].split("</table>")[0]
    assert "<code>AccessExclusiveLock</code> on public.small" in report and "public.small</strong>" in report
    assert "added column c" in shown or "added column c" in shown.replace("<code>", "")


def test_no_rehearsal_on_a_table_above_the_size_limit(client_for, project, users, small_table):
    policy = ProjectMigrationPolicy.for_project(project)
    policy.rehearsal_max_table_bytes = 1
    policy.save()
    rehearsal = run_rehearsal(draft(project, users["engineer"], sql=REWRITE))
    assert rehearsal.status == "skipped"
    assert "public.small is" in rehearsal.reason and "above the rehearsal limit" in rehearsal.reason
    assert "No rehearsal ran" in page(client_for("admin"), rehearsal.revision.request)


def test_no_rehearsal_in_a_transaction_for_a_concurrent_index(project, users, small_table):
    rehearsal = run_rehearsal(
        draft(project, users["engineer"], sql="CREATE INDEX CONCURRENTLY small_id ON small (id);")
    )
    assert rehearsal.status == "skipped"
    assert "cannot run inside a transaction" in rehearsal.reason


def branch_names(neon_standin):
    return [b["name"] for b in neon_standin.standin.branches_of(STANDIN_PROJECT)]


def test_neon_rehearsal_runs_on_a_temporary_branch_and_deletes_it(
    neon_project, users, neon_standin, standin_db
):
    sync_project(neon_project)
    sql = "CREATE INDEX CONCURRENTLY film_title_idx ON film (title);"
    rehearsal = run_rehearsal(draft(neon_project, users["engineer"], sql=sql))
    assert rehearsal.status == "succeeded", rehearsal.reason
    assert rehearsal.method == "neon-branch" and rehearsal.temp_branch_id.startswith("br-")
    # Same engine path as the apply: one report row per statement (a build this small may finish
    # between two lock samples, so which locks were seen is not asserted here).
    assert [row["number"] for row in rehearsal.report["statements"]] == [1]
    assert any(c["part"] == "index film_title_idx" for o in rehearsal.diff for c in o["changes"])
    assert not [n for n in branch_names(neon_standin) if n.startswith("rehearsal-")]
    with pg.admin_connect(standin_db) as conn:  # the target branch itself is untouched
        assert conn.execute("SELECT to_regclass('film_title_idx')").fetchone()[0] is None


def test_a_failed_neon_rehearsal_still_deletes_its_branch(client_for, neon_project, users, neon_standin):
    sync_project(neon_project)
    req = draft(
        neon_project,
        users["engineer"],
        sql="ALTER TABLE film ADD COLUMN x int;\nALTER TABLE no_such ADD COLUMN y int;",
    )
    rehearsal = run_rehearsal(req)
    assert rehearsal.status == "failed"
    assert "Statement 2 (line 2) failed" in rehearsal.reason and "no_such" in rehearsal.reason
    assert not [n for n in branch_names(neon_standin) if n.startswith("rehearsal-")]
    assert "The rehearsal failed" in page(client_for("admin"), req)


def test_a_session_lost_during_a_plain_rehearsal_is_a_clear_rehearsal_failure(
    client_for, project, users, small_table, target_db
):
    sql = "UPDATE small SET id = id WHERE id < 3;\nSELECT pg_terminate_backend(pg_backend_pid());"
    req = draft(project, users["engineer"], sql=sql, title="Loses its session")
    rehearsal = run_rehearsal(req)
    assert rehearsal.status == "failed"
    assert "Statement 2 (line 2) failed" in rehearsal.reason
    assert "unexpected error" not in rehearsal.reason and "unexpected error" not in rehearsal.task_run.error
    assert "Statement 2 (line 2) failed" in page(client_for("viewer"), req)
    with pg.admin_connect(target_db) as conn:
        assert conn.execute("SELECT to_regnamespace('neon_ops')").fetchone()[0] is None


def test_a_neon_rehearsal_whose_target_branch_is_unknown_says_so(neon_project, users, neon_standin):
    sync_project(neon_project)
    req = draft(neon_project, users["engineer"], sql="ALTER TABLE film ADD COLUMN x int;", title="X")
    req.branch_id = "br-gone-0000"
    req.save(update_fields=["branch_id"])
    rehearsal = run_rehearsal(req)
    assert rehearsal.status == "failed"
    assert rehearsal.reason.startswith("The rehearsal could not run: ")
    assert "unknown to the dashboard; sync the branches first." in rehearsal.reason
