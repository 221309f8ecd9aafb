"""Applying through a real Celery worker: plain Postgres and a Neon project through the stand-in's
direct host; an error in statement 3 of 5; cancel; an idle compute; a worker killed mid-apply."""

import os
import signal

import pytest

from dashboard.models import NeonCompute, SchemaSnapshot, TaskRun
from dashboard.neon.sync import sync_project
from dashboard.taskruns import lifecycle as taskruns
from migrations_app import tasks
from migrations_app.models import ApplyRun, MigrationRequest
from migrations_app.services import workflow
from tests.conftest import wait_until
from tests.migrations_app.workflow_support import draft, page
from tests.neon.conftest import STANDIN_PROJECT
from tests.neon.test_sync import client_for_standin, suspend
from tests.support import pg

pytestmark = pytest.mark.worker


def table_names(dbname: str) -> list[str]:
    with pg.admin_connect(dbname) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    return [name for (name,) in rows]


def ready_for_apply(req, admin) -> MigrationRequest:
    """Wait for the worker's rehearsal, then approve as the admin."""
    wait_until(lambda: MigrationRequest.objects.get(pk=req.pk).state == "awaiting_approval", timeout=60)
    req.refresh_from_db()
    workflow.approve(req, admin)
    req.refresh_from_db()
    return req


def finished_run(req) -> ApplyRun:
    def done():
        run = ApplyRun.objects.filter(revision__request=req).first()
        return run if run is not None and not run.is_active else None

    return wait_until(done, timeout=60)


def test_worker_applies_on_plain_postgres_and_history_shows_it(
    celery_worker, client_for, project, users, target_db
):
    req = ready_for_apply(draft(project, users["engineer"]), users["admin"])
    response = client_for("engineer").post(f"/projects/shop/migrations/{req.pk}/apply/")
    assert response.status_code == 302
    run = finished_run(req)
    assert run.outcome == "applied", run.message
    assert "audit_log" in table_names(target_db)
    with pg.admin_connect(target_db) as conn:
        recorded = conn.execute(
            "SELECT migration_id, steps_total, finished_at IS NOT NULL FROM neon_ops.migrations"
        ).fetchall()
    assert recorded == [(f"neon-ops-{req.pk}-r1", 1, True)]
    shown = page(client_for("viewer"), req)
    assert "Applied" in shown and "statement 1: <strong>applied</strong>" in shown
    assert "added table <code>public.audit_log</code>" in shown  # the diff after applying
    assert 'id="diff-mismatch"' not in shown  # same change as the rehearsal
    listing = client_for("viewer").get("/projects/shop/migrations/").content.decode()
    history = listing.split('id="history"')[1].split("</table>")[0]
    assert "Add audit log" in history
    assert "<td>engineer</td>" in history and "<td>admin</td>" in history  # drafted/approved, applied by
    # A schema snapshot with source "change" follows the apply.
    wait_until(lambda: SchemaSnapshot.objects.filter(project=project, source="change").exists(), timeout=30)


FIVE = """CREATE TABLE one (id bigint PRIMARY KEY);
CREATE TABLE two (id bigint PRIMARY KEY);
INSERT INTO no_such_table VALUES (1);
CREATE TABLE four (id bigint PRIMARY KEY);
CREATE TABLE five (id bigint PRIMARY KEY);"""


def test_an_error_in_statement_3_of_5_leaves_the_target_as_before(
    celery_worker, client_for, project, users, target_db
):
    req = draft(project, users["engineer"], sql=FIVE, title="Five statements")
    wait_until(lambda: MigrationRequest.objects.get(pk=req.pk).state == "awaiting_approval", timeout=60)
    # No rehearsal on the live target: the size of a table it touches is unknown (no snapshot says).
    rehearsal = workflow.latest_rehearsal(workflow.current_revision(req))
    assert rehearsal.status == "skipped"
    assert "The size of public.no_such_table is not known" in rehearsal.reason
    assert "No rehearsal ran: The size of public.no_such_table" in page(client_for("admin"), req)
    workflow.approve(req, users["admin"])
    client_for("engineer").post(f"/projects/shop/migrations/{req.pk}/apply/")
    run = finished_run(req)
    assert run.outcome == "not_applied"
    assert "Statement 3 (line 3) failed" in run.message and "no_such_table" in run.message
    assert table_names(target_db) == []  # not even the first two tables
    shown = page(client_for("viewer"), req)
    assert "Statement 3 (line 3) failed" in shown and "Nothing was applied." in shown
    req.refresh_from_db()
    assert req.state == "failed"
    assert TaskRun.objects.get(pk=run.task_run_id).status == "failed"


SLOW = "CREATE TABLE first_step (id bigint);\nCREATE INDEX CONCURRENTLY first_step_id ON first_step (id);\nSELECT pg_sleep(60);"


def test_cancel_stops_the_running_statement_and_records_what_was_applied(
    celery_worker, client_for, project, users, target_db
):
    req = draft(project, users["engineer"], sql=SLOW, title="Slow")
    wait_until(lambda: MigrationRequest.objects.get(pk=req.pk).state == "awaiting_approval", timeout=60)
    workflow.approve(req, users["admin"])
    client = client_for("engineer")
    client.post(f"/projects/shop/migrations/{req.pk}/apply/")
    wait_until(
        lambda: (
            "Statement 3" in (TaskRun.objects.filter(kind="migrations.apply").first() or TaskRun()).progress
        ),
        timeout=30,
    )
    client.post(f"/projects/shop/migrations/{req.pk}/cancel/")
    run = finished_run(req)
    assert run.outcome == "partly_applied"
    assert "Cancelled during step 3, which was rolled back." in run.message
    assert "first_step" in table_names(target_db)
    req.refresh_from_db()
    assert req.state == "partly_applied"


def test_a_worker_killed_mid_apply_is_reconciled_from_the_history_table(
    celery_worker, project, users, target_db, settings
):
    req = draft(project, users["engineer"], sql=SLOW, title="Slow")
    wait_until(lambda: MigrationRequest.objects.get(pk=req.pk).state == "awaiting_approval", timeout=60)
    workflow.approve(req, users["admin"])
    run = workflow.request_apply(req, users["engineer"])
    wait_until(lambda: "Statement 3" in TaskRun.objects.get(pk=run.task_run_id).progress, timeout=30)
    os.kill(celery_worker.pid, signal.SIGKILL)
    celery_worker.wait(timeout=10)
    settings.TASK_STALE_AFTER_SECONDS = 10
    TaskRun.objects.filter(pk=run.task_run_id).update(
        heartbeat_at=TaskRun.objects.get(pk=run.task_run_id).created_at.replace(year=2000)
    )
    taskruns.reconcile_stale()
    run.refresh_from_db()
    assert run.outcome == "partly_applied"
    assert "partly applied (steps 1-2 of 3)" in run.message
    req.refresh_from_db()
    assert req.state == "partly_applied"


def test_worker_applies_on_neon_through_the_direct_host(
    neon_worker, client_for, neon_project, users, neon_standin, standin_db
):
    sync_project(neon_project)
    req = draft(
        neon_project, users["engineer"], sql="ALTER TABLE film ADD COLUMN rating text;", title="Rating"
    )
    ready_for_apply(req, users["admin"])
    rehearsal = workflow.latest_rehearsal(workflow.current_revision(req))
    assert rehearsal.status == "succeeded" and rehearsal.method == "neon-branch"
    assert any(o["label"] == "public.film" for o in rehearsal.diff)
    client_for("engineer").post(f"/projects/pagila-neon/migrations/{req.pk}/apply/")
    run = finished_run(req)
    assert run.outcome == "applied", run.message
    assert run.lsn_before  # recorded for "restore the branch to before this migration"
    endpoint = NeonCompute.objects.get(project=neon_project, branch__is_default=True).endpoint_id
    assert neon_standin.standin.attempts_on(endpoint, "active") >= 1  # through the compute's own host
    with pg.admin_connect(standin_db) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'film'"
        ).fetchall()
    assert ("rating",) in columns
    # The temporary rehearsal branch is gone again.
    names = [b["name"] for b in neon_standin.standin.branches_of(STANDIN_PROJECT)]
    assert not [n for n in names if n.startswith("rehearsal-")]


def test_an_apply_on_an_idle_compute_waits_until_a_person_wakes_it(
    neon_worker, neon_project, users, neon_standin, standin_db, settings
):
    settings.NEON_STATE_MAX_AGE_SECONDS = 0
    sync_project(neon_project)
    req = draft(neon_project, users["engineer"], sql="ALTER TABLE film ADD COLUMN note text;", title="Note")
    ready_for_apply(req, users["admin"])
    endpoint = NeonCompute.objects.get(project=neon_project, branch__is_default=True).endpoint_id
    suspend(neon_standin, endpoint)
    sync_project(neon_project)
    neon_standin.standin.connection_attempts.clear()
    run = workflow.request_apply(req, users["engineer"])
    assert run.task_run_id is None and "the compute is idle" in run.waiting_for
    assert tasks.start_due_applies() == 0  # the periodic starter does not wake it either
    req.refresh_from_db()
    assert req.state == "scheduled"
    assert neon_standin.standin.attempts_on(endpoint) == 0
    with client_for_standin(neon_standin) as client:  # a person presses "Wake compute"
        answer = client.start_endpoint(STANDIN_PROJECT, endpoint)
        client.wait_for_operations(STANDIN_PROJECT, answer["operations"], poll_seconds=0.02)
    assert tasks.start_due_applies() == 1
    run = finished_run(req)
    assert run.outcome == "applied", run.message
    assert neon_standin.standin.attempts_on(endpoint, "idle") == 0
