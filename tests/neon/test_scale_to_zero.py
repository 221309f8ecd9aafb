"""Scale to zero: periodic jobs and pages never wake a compute Neon reports idle.

The stand-in's compute proxy sees every connection attempt, so "left idle"
means no job or page even tried to connect, and no job asked Neon to start it.
"""

import pytest

from config.celery import app as celery_app
from dashboard.models import NeonCompute, NeonSyncState, TaskRun
from dashboard.neon.sync import sync_project
from dashboard.neon.tasks import SYNC_KIND, sync_neon_project
from dashboard.taskruns import lifecycle
from tests.conftest import wait_until
from tests.neon.conftest import STANDIN_PROJECT
from tests.neon.test_sync import client_for_standin, make_branch, suspend

# Every page of a project a person can open without parameters.
PROJECT_PAGES = [
    "",
    "branches/",
    "schema/",
    "schema/advice/",
    "schema/diff/",
    "queries/",
    "health/",
    "activity/",
    "migrations/",
    "audit/",
]


def run_every_periodic_job(settings, capture_on_commit) -> list[str]:
    """Run each task of the beat schedule once in this process, raising if one fails.

    The tasks they enqueue (on commit) run here too (eager), so a job that fans
    out per project is followed all the way to its connection attempt.
    """
    celery_app.loader.import_default_modules()  # autodiscovery, as in a worker
    names = []
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with capture_on_commit(execute=True):
            for entry in settings.CELERY_BEAT_SCHEDULE.values():
                task = celery_app.tasks[entry["task"]]
                task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}), throw=True)
                names.append(entry["task"])
    finally:
        celery_app.conf.task_always_eager = eager
    return names


@pytest.fixture
def idle_default_compute(neon_project, neon_standin):
    """The default branch's compute suspended in the stand-in, a second branch `dev` still active."""
    make_branch(neon_standin, "dev")
    sync_project(neon_project)
    endpoint_id = NeonCompute.objects.get(project=neon_project, branch__is_default=True).endpoint_id
    suspend(neon_standin, endpoint_id)
    neon_standin.standin.connection_attempts.clear()
    return endpoint_id


def test_periodic_jobs_leave_an_idle_compute_idle(
    neon_project, neon_standin, idle_default_compute, settings, django_capture_on_commit_callbacks
):
    settings.NEON_STATE_MAX_AGE_SECONDS = 0  # every idle check asks the Neon API, as after a long pause
    synced_before = NeonSyncState.objects.get(project=neon_project).synced_at
    starts_before = neon_standin.standin.calls("POST", "/start")

    jobs = run_every_periodic_job(settings, django_capture_on_commit_callbacks)

    assert "neon.sync_all_projects" in jobs
    standin = neon_standin.standin
    assert standin.state["endpoints"][idle_default_compute]["current_state"] == "idle"
    assert standin.attempts_on(idle_default_compute) == 0, (
        "a periodic job tried to connect to the idle compute"
    )
    assert standin.calls("POST", "/start") == starts_before
    # The jobs did run: the sync read Neon again and stored the idle state.
    assert NeonSyncState.objects.get(project=neon_project).synced_at > synced_before
    assert NeonCompute.objects.get(endpoint_id=idle_default_compute).current_state == "idle"
    with client_for_standin(neon_standin) as client:
        assert client.get_endpoint(STANDIN_PROJECT, idle_default_compute)["current_state"] == "idle"


def test_pages_show_stored_data_without_touching_the_idle_compute(
    client_for, neon_project, neon_standin, idle_default_compute
):
    sync_project(neon_project)
    for who in ("viewer", "engineer", "admin"):
        for page in PROJECT_PAGES:
            url = f"/projects/pagila-neon/{page}"
            assert client_for(who).get(url).status_code == 200, url
            assert neon_standin.standin.attempts_on(idle_default_compute) == 0, f"{url} connected"
    overview = client_for("engineer").get("/projects/pagila-neon/").content.decode()
    assert "Wake compute" in overview
    assert "State from Neon" in overview
    assert neon_standin.standin.attempts_on(idle_default_compute) == 0


def test_waking_is_what_a_person_asks_for(client_for, neon_project, neon_standin, idle_default_compute):
    from tests.neon.test_branches_views import run_queued

    main_id = NeonCompute.objects.get(endpoint_id=idle_default_compute).branch.branch_id
    client_for("engineer").post(f"/projects/pagila-neon/branches/{main_id}/wake/")
    assert run_queued(neon_project).status == "succeeded"
    assert neon_standin.standin.state["endpoints"][idle_default_compute]["current_state"] == "active"
    assert neon_standin.standin.attempts_on(idle_default_compute, "idle") == 0
    assert neon_standin.standin.attempts_on(idle_default_compute, "active") >= 1


@pytest.mark.worker
def test_sync_on_demand_runs_on_a_real_worker(neon_worker, neon_project, neon_standin, client_for):
    make_branch(neon_standin, "from-worker")
    run = lifecycle.enqueue(sync_neon_project, SYNC_KIND, project=neon_project, params={"action": "sync"})
    wait_until(lambda: TaskRun.objects.get(pk=run.pk).is_finished)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    html = client_for("viewer").get("/projects/pagila-neon/branches/").content.decode()
    assert "from-worker" in html


def test_the_same_jobs_do_connect_to_an_active_compute(
    neon_project, neon_standin, settings, django_capture_on_commit_callbacks
):
    """The control for the test above: with the compute active, the periodic jobs reach it."""
    sync_project(neon_project)
    endpoint_id = NeonCompute.objects.get(project=neon_project, branch__is_default=True).endpoint_id
    neon_standin.standin.connection_attempts.clear()
    run_every_periodic_job(settings, django_capture_on_commit_callbacks)
    assert neon_standin.standin.attempts_on(endpoint_id, "active") >= 1


def test_a_neon_project_never_synced_is_skipped_by_the_periodic_jobs(
    neon_project, neon_standin, settings, django_capture_on_commit_callbacks, client_for
):
    """No API key: the sync cannot run, so the dashboard knows nothing of the compute and must not connect."""
    neon_project.neon_api_key = ""
    neon_project.save()
    neon_standin.standin.connection_attempts.clear()

    run_every_periodic_job(settings, django_capture_on_commit_callbacks)

    assert NeonCompute.objects.filter(project=neon_project).count() == 0
    assert neon_standin.standin.connection_attempts == [], "a periodic job connected to an unknown compute"
    overview = client_for("engineer").get("/projects/pagila-neon/").content.decode()
    assert "never synced" in overview
    activity = client_for("engineer").get("/projects/pagila-neon/activity/").content.decode()
    assert "never synced" in activity
    assert neon_standin.standin.connection_attempts == []
