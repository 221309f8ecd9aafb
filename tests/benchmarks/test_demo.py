"""The demo's benchmark runs: one select-only run on pagila, one cold-start run on pagila-neon."""

import pytest

from dashboard.benchmarks import demo
from dashboard.neon.sync import sync_project
from tests.benchmarks.conftest import run_here

pytestmark = pytest.mark.django_db


def test_the_demo_queues_one_select_only_run_once_and_it_finishes(project):
    run = demo.queue_select_only(project)
    assert demo.queue_select_only(project) is None  # idempotent: nothing more on a second start
    run = run_here(run)
    assert (run.status, run.workload) == ("finished", "select-only"), run.error
    assert run.result["tps"] > 0 and run.created_by is None


def test_the_neon_demo_queues_a_cold_start_run_that_suspends_and_wakes(neon_project, neon_standin):
    sync_project(neon_project)
    run = run_here(demo.queue_cold_start(neon_project))
    assert run.status == "finished", run.error
    assert len(run.result["samples"]) == 3 and run.temporary_branch_deleted
    assert neon_standin.standin.calls("POST", "/suspend") == 3
    assert demo.queue_cold_start(neon_project) is None
