"""Applies that meet other sessions, through real Celery workers: a table held ACCESS EXCLUSIVE by
another client (retried, then failed naming the blocking session, nothing applied), a concurrent index
build that fails (no invalid index left, the page says why), and two applies on one target at once
(the second waits for the first and says so; both applied, one after the other)."""

import pytest

from dashboard.models import TaskRun
from migrations_app.models import ApplyRun, MigrationRequest, ProjectMigrationPolicy
from migrations_app.services import workflow
from tests.conftest import wait_until
from tests.migrations_app.test_apply_worker import finished_run, ready_for_apply
from tests.migrations_app.workflow_support import draft, page
from tests.support import pg
from tests.support.celery_worker import start_worker, stop_worker

pytestmark = pytest.mark.worker


@pytest.fixture
def retrying_worker(monkeypatch, transactional_db):
    """A worker that retries a lock timeout twice, soon (the defaults wait about a minute in all)."""
    monkeypatch.setenv("MIGRATION_LOCK_RETRIES", "2")
    monkeypatch.setenv("MIGRATION_LOCK_RETRY_BASE_SECONDS", "0.2")
    proc = start_worker()
    yield proc
    stop_worker(proc)


@pytest.fixture
def two_workers(transactional_db):
    first = start_worker(name="first")
    second = start_worker(name="second", flush=False)
    yield first, second
    stop_worker(second)
    stop_worker(first)


def target_run(dbname: str, sql: str) -> None:
    with pg.admin_connect(dbname) as conn:
        conn.execute(sql)


def target_rows(dbname: str, sql: str, params=None) -> list[tuple]:
    with pg.admin_connect(dbname) as conn:
        return conn.execute(sql, params).fetchall()


def progress_of(req) -> str:
    run = ApplyRun.objects.filter(revision__request=req).select_related("task_run").first()
    return run.task_run.progress if run is not None and run.task_run is not None else ""


LOCKED = "SELECT pg_sleep(2);\nALTER TABLE busy ADD COLUMN note text;"


def test_a_table_held_by_another_session_is_retried_then_fails_naming_that_session(
    retrying_worker, client_for, project, users, target_db, hold_lock
):
    target_run(target_db, "CREATE TABLE busy (id int PRIMARY KEY)")
    ProjectMigrationPolicy.objects.filter(pk=ProjectMigrationPolicy.for_project(project).pk).update(
        lock_timeout_ms=300
    )
    req = ready_for_apply(draft(project, users["engineer"], sql=LOCKED, title="Busy"), users["admin"])
    client_for("engineer").post(f"/projects/shop/migrations/{req.pk}/apply/")
    # Past the pre-flight (nobody in the way yet), statement 1 runs: now another client takes the table.
    wait_until(lambda: "Statement 1 of 2" in progress_of(req), timeout=60, interval=0.05)
    holder = hold_lock("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
    viewer = client_for("viewer")
    wait_until(lambda: "did not get its lock within 300 ms; retry 1 of 2" in page(viewer, req), timeout=30)
    run = finished_run(req)
    holder.release()
    assert run.outcome == "not_applied"
    assert (
        "Statement 2 (line 2) failed [55P03]: could not get its lock within 300 ms in 3 attempts"
        in run.message
    )
    assert f"Held by: pid {holder.pid} (user postgres" in run.message
    assert "idle in transaction): holds public.busy (AccessExclusiveLock)" in run.message
    assert run.message.endswith("Nothing was applied.")
    shown = page(viewer, req)
    assert "statements 1-2: <strong>failed, rolled back</strong> after 2 lock retries" in shown
    assert f"pid {holder.pid}" in shown and "Nothing was applied." in shown
    columns = target_rows(
        target_db, "SELECT column_name FROM information_schema.columns WHERE table_name = 'busy'"
    )
    assert columns == [("id",)]
    assert target_rows(target_db, "SELECT count(*) FROM neon_ops.migration_steps") == [(0,)]


def test_a_failed_concurrent_index_build_leaves_no_invalid_index_and_the_page_says_why(
    celery_worker, client_for, project, users, target_db
):
    target_run(target_db, "CREATE TABLE dups (id int, v int); INSERT INTO dups VALUES (1, 7), (2, 7)")
    sql = "CREATE UNIQUE INDEX CONCURRENTLY dups_v_key ON dups (v);"
    req = ready_for_apply(draft(project, users["engineer"], sql=sql, title="Unique v"), users["admin"])
    client_for("engineer").post(f"/projects/shop/migrations/{req.pk}/apply/")
    run = finished_run(req)
    assert run.outcome == "not_applied"
    assert "Statement 1 (line 1) failed [23505]: could not create unique index" in run.message
    assert "Dropped invalid index public.dups_v_key (left by this failed build)." in run.message
    indexes = target_rows(
        target_db,
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = 'dups'::regclass",
    )
    assert indexes == []
    shown = page(client_for("viewer"), req)
    assert "could not create unique index" in shown and "Dropped invalid index public.dups_v_key" in shown


SLOW_FIRST = "SELECT pg_sleep(2);\nCREATE TABLE first_table (id int);"
SECOND = "CREATE TABLE second_table (id int);"


def test_two_applies_on_one_target_never_overlap_the_second_waits_and_says_so(
    two_workers, client_for, project, users, target_db
):
    first = draft(project, users["engineer"], sql=SLOW_FIRST, title="First")
    second = draft(project, users["engineer"], sql=SECOND, title="Second")
    first, second = (ready_for_apply(r, users["admin"]) for r in (first, second))
    engineer = client_for("engineer")
    engineer.post(f"/projects/shop/migrations/{first.pk}/apply/")
    wait_until(lambda: "Statement 1 of 2" in progress_of(first), timeout=60, interval=0.05)
    engineer.post(f"/projects/shop/migrations/{second.pk}/apply/")
    wait_until(lambda: "Waiting for another apply on this database (pid" in progress_of(second), timeout=30)
    assert "Waiting for another apply on this database" in page(client_for("viewer"), second)
    first_run, second_run = finished_run(first), finished_run(second)
    assert (first_run.outcome, second_run.outcome) == ("applied", "applied"), second_run.message
    assert (
        second_run.message.startswith("Waited ")
        and "for another apply on this database (pid" in second_run.message
    )
    assert "Waited" in page(client_for("viewer"), second)
    steps = dict(
        target_rows(
            target_db, "SELECT migration_id, min(applied_at) FROM neon_ops.migration_steps GROUP BY 1"
        )
    )
    finished = dict(target_rows(target_db, "SELECT migration_id, finished_at FROM neon_ops.migrations"))
    first_id, second_id = f"neon-ops-{first.pk}-r1", f"neon-ops-{second.pk}-r1"
    assert finished[first_id] <= steps[second_id]  # the second began only after the first was done
    assert second_run.started_at < first_run.finished_at  # it was started meanwhile, and waited
    assert {MigrationRequest.objects.get(pk=r.pk).state for r in (first, second)} == {"applied"}
    assert TaskRun.objects.filter(kind="migrations.apply", status="succeeded").count() == 2
    assert workflow.current_revision(second).number == 1
