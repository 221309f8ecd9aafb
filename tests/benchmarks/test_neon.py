"""Benchmarks on Neon projects, against the Neon API stand-in (real local databases behind it).

A temporary branch by default, deleted after success, failure and cancel; write workloads
on the default branch itself only with an admin's confirmation; no run wakes an idle
compute unless the person asked; cold starts suspend and wake on purpose.
"""

import pytest

from dashboard.benchmarks import cleanup
from dashboard.models import BenchmarkRun, NeonBranch, NeonCompute, TaskRun
from dashboard.neon.sync import sync_project
from tests.benchmarks.conftest import query, run_here
from tests.neon.conftest import STANDIN_PROJECT
from tests.neon.test_sync import make_branch, suspend

NEW = "/projects/pagila-neon/benchmarks/new/"


def post(client, **fields):
    data = {"workload": "select-only", "clients": "1", "duration_seconds": "1", "connection": "pooled",
            "protocol": "prepared", "scale": "1", "use_temporary_branch": "on", **fields}  # fmt: skip
    return client.post(NEW, {k: v for k, v in data.items() if v is not None})


def start(client, **fields) -> BenchmarkRun:
    response = post(client, **fields)
    assert response.status_code == 302, response.content.decode()[-3000:]
    return BenchmarkRun.objects.latest("pk")


def branch_names(neon_standin) -> list[str]:
    return sorted(b["name"] for b in neon_standin.standin.branches_of(STANDIN_PROJECT))


def default_endpoint(project) -> str:
    return NeonCompute.objects.get(project=project, branch__is_default=True).endpoint_id


@pytest.fixture
def synced(neon_project):
    sync_project(neon_project)
    return neon_project


def test_a_run_goes_to_a_temporary_branch_that_is_deleted_afterwards(client_for, synced, neon_standin):
    main = default_endpoint(synced)
    neon_standin.standin.connection_attempts.clear()
    run = run_here(start(client_for("engineer"), workload="tpcb-like"))
    assert run.status == "finished", run.error
    assert run.result["transactions"] > 0
    assert run.temporary_branch_id.startswith("br-") and run.temporary_branch_deleted
    assert branch_names(neon_standin) == ["main"]
    assert not NeonBranch.objects.filter(branch_id=run.temporary_branch_id).exists()
    assert neon_standin.standin.calls("POST", "/branches") == 1
    assert neon_standin.standin.calls("DELETE", f"/branches/{run.temporary_branch_id}") == 1
    # The chosen branch itself was never connected to: its data is untouched.
    assert neon_standin.standin.attempts_on(main) == 0


def test_the_temporary_branch_is_deleted_after_a_failure_too(client_for, synced, neon_standin, settings):
    # A million accounts (scale 10) never load in 1 ms: the set-up fails.
    settings.BENCHMARK_SETUP_TIMEOUT_MS = 1
    run = run_here(start(client_for("engineer"), scale="10"))
    assert run.status == "failed" and "statement timeout" in run.error
    assert run.task_run.status == "failed"
    assert run.temporary_branch_id and run.temporary_branch_deleted
    assert branch_names(neon_standin) == ["main"]


def test_a_delete_neon_refuses_is_said_on_the_run_page_and_retried_by_the_sweep(
    client_for, synced, neon_standin
):
    neon_standin.standin.fail_next(500, path_contains="/branches/br-", method="DELETE")
    run = run_here(start(client_for("engineer")))
    assert run.status == "finished", run.error
    assert not run.temporary_branch_deleted
    page = client_for("viewer").get(f"/projects/pagila-neon/benchmarks/{run.pk}/").content.decode()
    assert f"The temporary branch {run.temporary_branch_id} could not be deleted" in page
    assert "delete it on the Branches page" in page
    assert len(branch_names(neon_standin)) == 2  # still there
    assert cleanup.delete_leftover_branches() == 1
    run.refresh_from_db()
    assert run.temporary_branch_deleted and run.cleanup_error == ""
    assert branch_names(neon_standin) == ["main"]


def test_the_temporary_branch_is_deleted_after_a_cancel(
    client_for, synced, neon_standin, cancel_after_first_second
):
    run = run_here(start(client_for("engineer"), duration_seconds="60"))
    assert run.status == "cancelled" and run.result["measured_seconds"] < 10
    assert run.temporary_branch_deleted and branch_names(neon_standin) == ["main"]


def test_a_write_workload_on_the_default_branch_itself_needs_an_admins_confirmation(client_for, synced):
    before = BenchmarkRun.objects.count(), TaskRun.objects.count()
    direct = {"workload": "tpcb-like", "use_temporary_branch": None}
    engineer = post(client_for("engineer"), **direct)
    assert (
        engineer.status_code == 400 and "Only an admin may run a write workload" in engineer.content.decode()
    )
    admin = post(client_for("admin"), **direct)
    assert admin.status_code == 400 and "tick the confirmation" in admin.content.decode()
    assert (BenchmarkRun.objects.count(), TaskRun.objects.count()) == before
    # A read-only workload on the default branch, or a write on another branch, needs no confirmation.
    assert post(client_for("engineer"), use_temporary_branch=None).status_code == 302
    BenchmarkRun.objects.update(status="finished")
    run = start(client_for("admin"), confirm_default_branch_write="on", **direct)
    assert run.confirmed_default_branch_write and not run.use_temporary_branch


def test_a_confirmed_write_on_the_default_branch_runs_there_and_drops_its_schema(
    client_for, synced, neon_standin, standin_db
):
    run = run_here(start(client_for("admin"), workload="simple-update", use_temporary_branch=None,
                         confirm_default_branch_write="on"))  # fmt: skip
    assert run.status == "finished", run.error
    assert not run.temporary_branch_id and neon_standin.standin.calls("POST", "/branches") == 0
    assert query(standin_db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'neon_ops_bench'") == [(0,)]
    assert query(standin_db, "SELECT count(*) FROM film") == [(2,)]


def test_no_run_wakes_an_idle_compute_unless_asked(
    client_for, neon_project, neon_standin, idle_default_compute
):
    sync_project(neon_project)  # the dashboard has learned that the compute is idle
    client = client_for("engineer")
    for page in ("/projects/pagila-neon/benchmarks/", NEW, "/projects/pagila-neon/benchmarks/compare/"):
        assert client.get(page).status_code == 200
    assert neon_standin.standin.attempts_on(idle_default_compute) == 0  # pages show stored data only
    before = BenchmarkRun.objects.count()
    refused = post(client, use_temporary_branch=None)
    assert refused.status_code == 400 and "is idle (suspended)" in refused.content.decode()
    assert BenchmarkRun.objects.count() == before
    # On a temporary branch the idle compute is not needed: the run uses the new branch's own compute.
    run = run_here(start(client))
    assert run.status == "finished", run.error
    standin = neon_standin.standin
    assert standin.attempts_on(idle_default_compute) == 0
    assert standin.state["endpoints"][idle_default_compute]["current_state"] == "idle"
    assert standin.calls("POST", f"/endpoints/{idle_default_compute}/start") == 0
    # Asked for: the compute is woken, then benchmarked.
    run = run_here(start(client, use_temporary_branch=None, wake_compute="on"))
    assert run.status == "finished", run.error
    assert standin.calls("POST", f"/endpoints/{idle_default_compute}/start") == 1
    assert standin.attempts_on(idle_default_compute, "idle") == 0


def test_a_compute_that_suspended_after_the_start_is_not_woken_by_the_worker(
    client_for, synced, neon_standin, settings
):
    run = start(client_for("engineer"), use_temporary_branch=None)
    endpoint = default_endpoint(synced)
    suspend(neon_standin, endpoint)
    settings.NEON_STATE_MAX_AGE_SECONDS = 0  # the worker asks Neon again, as after a pause
    neon_standin.standin.connection_attempts.clear()
    run = run_here(run)
    assert run.status == "failed" and "is idle (suspended)" in run.error
    assert neon_standin.standin.attempts_on(endpoint) == 0


def test_a_cold_start_run_suspends_and_wakes_a_temporary_branch_and_reports_each_start(
    client_for, synced, neon_standin
):
    page = client_for("engineer").get(NEW).content.decode()
    assert "Cold starts suspend and wake the compute on purpose" in page
    main = default_endpoint(synced)
    run = run_here(start(client_for("engineer"), workload="cold-start", repeats="2"))
    assert run.status == "finished", run.error
    samples = run.result["samples"]
    assert len(samples) == 2 and all(s["connect_ms"] > 0 and s["first_query_ms"] > 0 for s in samples)
    assert (
        neon_standin.standin.calls("POST", "/suspend") == 2
        and neon_standin.standin.calls("POST", "/start") == 2
    )
    assert run.temporary_branch_deleted and branch_names(neon_standin) == ["main"]
    assert neon_standin.standin.state["endpoints"][main]["current_state"] == "active"
    shown = client_for("viewer").get(f"/projects/pagila-neon/benchmarks/{run.pk}/").content.decode()
    assert "Cold starts" in shown and "This wakes the compute on purpose" in shown
    assert f"{samples[0]['total_ms']:.1f}" in shown


def test_compare_with_the_parent_branch_starts_the_counterpart_on_the_parent(
    client_for, synced, neon_standin, measured_results
):
    make_branch(neon_standin, "dev")
    sync_project(synced)
    dev = NeonBranch.objects.get(project=synced, name="dev")
    run = start(client_for("engineer"), branch=dev.branch_id)
    BenchmarkRun.objects.filter(pk=run.pk).update(status="finished", result=measured_results["one"])
    page = client_for("engineer").get(f"/projects/pagila-neon/benchmarks/{run.pk}/").content.decode()
    assert "Compare with parent branch" in page
    response = client_for("engineer").post(f"/projects/pagila-neon/benchmarks/{run.pk}/counterpart/",
                                           {"kind": "parent-branch"})  # fmt: skip
    counterpart = BenchmarkRun.objects.latest("pk")
    # One click: the comparison page, which waits for the counterpart and then compares.
    assert response["Location"] == f"/projects/pagila-neon/benchmarks/compare/?a={run.pk}&b={counterpart.pk}"
    assert counterpart.branch_name == "main" and counterpart.counterpart_of == BenchmarkRun.objects.get(
        pk=run.pk
    )
    assert counterpart.use_temporary_branch and counterpart.workload == "select-only"
    waiting = client_for("engineer").get(response["Location"]).content.decode()
    assert f"#{counterpart.pk} (pooled, main)" in waiting and "to finish" in waiting
    shown = client_for("engineer").get(f"/projects/pagila-neon/benchmarks/{counterpart.pk}/").content.decode()
    assert f"?a={run.pk}&amp;b={counterpart.pk}" in shown
