"""Admins restore a Neon branch to before an applied migration, end to end through a real worker and
the Neon API stand-in: the applied change is gone, the state after it is kept under a new branch
name, the step is audited, and engineers are refused."""

import pytest

from dashboard.models import AuditEvent, NeonBranch, TaskRun
from dashboard.neon.sync import sync_project
from tests.conftest import wait_until
from tests.migrations_app.test_apply_worker import finished_run, ready_for_apply
from tests.migrations_app.workflow_support import draft, page
from tests.neon.conftest import STANDIN_PROJECT
from tests.support import pg

pytestmark = pytest.mark.worker


def film_columns(dbname: str) -> set[str]:
    with pg.admin_connect(dbname) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'film'"
        ).fetchall()
    return {name for (name,) in rows}


def test_admin_restores_the_branch_to_before_the_migration_and_keeps_the_state_after_it(
    neon_worker, client_for, neon_project, users, neon_standin, standin_db
):
    standin = neon_standin.standin
    sync_project(neon_project)
    main = standin.default_branch(STANDIN_PROJECT)
    req = ready_for_apply(
        draft(
            neon_project, users["engineer"], sql="ALTER TABLE film ADD COLUMN rating text;", title="Rating"
        ),
        users["admin"],
    )
    standin.record_history_point(STANDIN_PROJECT, main["id"])  # the branch as it was before the apply
    client_for("engineer").post(f"/projects/pagila-neon/migrations/{req.pk}/apply/")
    run = finished_run(req)
    assert run.outcome == "applied", run.message
    assert "rating" in film_columns(standin_db)
    standin.record_history_point(STANDIN_PROJECT, main["id"])  # and after it: restoring to "now" gets this

    refused = client_for("engineer").post(
        f"/projects/pagila-neon/migrations/{req.pk}/restore/", {"run": run.pk}
    )
    assert refused.status_code == 403
    assert AuditEvent.objects.filter(
        actor=users["engineer"], outcome="denied", action="migration_restore"
    ).exists()
    assert not TaskRun.objects.filter(kind="migrations.restore").exists()

    admin = client_for("admin")
    response = admin.post(f"/projects/pagila-neon/migrations/{req.pk}/restore/", {"run": run.pk}, follow=True)
    assert f"Restoring default branch to LSN {run.lsn_before}" in response.content.decode()
    task_run = wait_until(
        lambda: TaskRun.objects.filter(kind="migrations.restore", finished_at__isnull=False).first(),
        timeout=60,
    )
    assert task_run.status == "succeeded", task_run.error
    preserved = task_run.result["preserved_as"]
    assert preserved.startswith(f"before-restore-{req.pk}-")

    assert "rating" not in film_columns(standin_db)  # the branch is back to before the migration
    kept = next(b for b in standin.branches_of(STANDIN_PROJECT) if b["name"] == preserved)
    assert "rating" in film_columns(kept["standin_database"])  # the state after it, under the new name
    assert NeonBranch.objects.filter(project=neon_project, name=preserved).exists()  # synced
    event = AuditEvent.objects.get(action="migration.restore", outcome="success")
    assert event.actor == users["admin"]
    assert event.detail == {"lsn": run.lsn_before, "preserved_as": preserved}
    assert "Restore the branch to before this migration" in page(admin, req)
