"""A benchmark whose worker is killed mid-run: the reconciler ends the run and deletes its temporary branch."""

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.benchmarks import cleanup
from dashboard.models import AuditEvent, BenchmarkRun, TaskRun
from dashboard.neon.sync import sync_project
from dashboard.taskruns import lifecycle
from tests.benchmarks.test_neon import branch_names, post, start
from tests.conftest import wait_until
from tests.neon.conftest import STANDIN_PROJECT
from tests.neon.test_sync import make_branch

pytestmark = pytest.mark.worker


def make_heartbeat_stale(run: BenchmarkRun) -> None:
    """What a minute without heartbeats looks like to the reconciler."""
    TaskRun.objects.filter(pk=run.task_run_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))


def test_a_worker_killed_mid_run_is_reconciled_and_its_temporary_branch_deleted(
    neon_worker, client_for, neon_project, neon_standin
):
    sync_project(neon_project)
    run = start(client_for("engineer"), duration_seconds="120")
    wait_until(lambda: len(BenchmarkRun.objects.get(pk=run.pk).progress) >= 2, timeout=90)
    run.refresh_from_db()
    branch_id = run.temporary_branch_id
    assert run.status == "running" and branch_id in {
        b["id"] for b in neon_standin.standin.branches_of(STANDIN_PROJECT)
    }

    os.kill(neon_worker.pid, signal.SIGKILL)  # no finally block runs: the branch stays behind
    neon_worker.wait(timeout=10)
    assert len(branch_names(neon_standin)) == 2 and lifecycle.reconcile_stale() == 0  # heartbeat still fresh

    make_heartbeat_stale(run)
    lifecycle.reconcile_stale()  # what the beat schedule runs every minute
    run.refresh_from_db()
    assert run.task_run.status == "lost"
    assert run.status == "failed" and run.error.startswith(cleanup.LOST_MESSAGE)
    assert run.temporary_branch_deleted and run.cleanup_error == ""
    assert branch_names(neon_standin) == ["main"]
    assert neon_standin.standin.calls("DELETE", f"/branches/{branch_id}") == 1
    assert AuditEvent.objects.filter(action="benchmark.cleanup", object_id=str(run.pk)).count() == 1
    page = client_for("viewer").get(f"/projects/pagila-neon/benchmarks/{run.pk}/").content.decode()
    assert "Failed" in page and "worker stopped" in page
    # The target takes runs again, and a second sweep has nothing left to do.
    assert post(client_for("engineer")).status_code == 302
    assert cleanup.delete_leftover_branches() == 0
    assert neon_standin.standin.calls("DELETE", f"/branches/{branch_id}") == 1


def test_a_branch_neon_could_not_delete_is_deleted_by_a_later_sweep(client_for, neon_project, neon_standin):
    """A finished run whose own clean-up could not reach Neon: the next sweep deletes the branch."""
    sync_project(neon_project)
    branch_id = make_branch(neon_standin, "bench-99-abcdef")["branch"]["id"]
    run = BenchmarkRun.objects.create(
        project=neon_project, workload="select-only", status="finished", finished_at=timezone.now(),
        temporary_branch_id=branch_id, target_key="main",
        cleanup_error=f"The temporary branch {branch_id} could not be deleted (timeout); delete it by hand.",
    )  # fmt: skip
    old = BenchmarkRun.objects.create(
        project=neon_project, workload="select-only", status="finished", target_key="old",
        finished_at=timezone.now() - cleanup.SWEEP_MAX_AGE - timedelta(hours=1), temporary_branch_id="br-gone",
    )  # fmt: skip
    assert cleanup.delete_leftover_branches() == 1
    run.refresh_from_db()
    assert run.temporary_branch_deleted and run.cleanup_error == ""
    assert branch_names(neon_standin) == ["main"]
    assert neon_standin.standin.calls("DELETE", "/branches/br-gone") == 0  # too old: left to a person
    old.refresh_from_db()
    assert not old.temporary_branch_deleted
