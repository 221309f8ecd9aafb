"""The periodic Neon sync: one task per project, never two syncs of one project at once."""

import pytest
from django.utils import timezone

from dashboard.models import NeonSyncState, Project
from dashboard.neon.sync import claim_sync, release_sync
from dashboard.neon.tasks import sync_all_neon_projects, sync_neon_project_periodically
from tests.conftest import wait_until
from tests.neon.conftest import STANDIN_KEY, STANDIN_PROJECT
from tests.support import pg
from tests.support.celery_worker import start_worker, stop_worker

SLOW_PROJECT = "proj-slow"
SLOW_SECONDS = 2.0


@pytest.fixture
def slow_db():
    name = pg.create_database("neonslow", extensions=())
    yield name
    pg.drop_database(name)


@pytest.fixture
def two_projects(team, neon_settings, neon_standin, standin_db, slow_db):
    """A fast and a slow stand-in project (every API call about the slow one takes SLOW_SECONDS)."""
    standin = neon_standin.standin
    standin.add_project(SLOW_PROJECT, slow_db, name="Slow project")
    standin.delay_next(SLOW_SECONDS, times=1000, path_contains=f"/projects/{SLOW_PROJECT}/")

    def register(name, slug, neon_id, db):
        return Project.objects.create(
            team=team, name=name, slug=slug, pooled_url=standin.uri_for_database(db),
            neon_project_id=neon_id, neon_api_key=STANDIN_KEY,
        )  # fmt: skip

    return register("Slow", "slow", SLOW_PROJECT, slow_db), register(
        "Fast", "fast", STANDIN_PROJECT, standin_db
    )


@pytest.fixture
def threaded_worker(neon_standin, monkeypatch, transactional_db):
    """A real worker running up to four tasks at once, talking to the stand-in."""
    monkeypatch.setenv("NEON_API_BASE_URL", neon_standin.base_url)
    proc = start_worker(concurrency=4)
    yield proc
    stop_worker(proc)


def synced_at(project):
    state = NeonSyncState.objects.filter(project=project).first()
    return state.synced_at if state else None


def test_a_slow_project_delays_only_itself_and_is_never_synced_twice_at_once(
    two_projects, threaded_worker, neon_standin
):
    slow, fast = two_projects
    standin = neon_standin.standin
    assert sync_all_neon_projects() == 2

    wait_until(lambda: synced_at(fast), timeout=30)
    assert synced_at(slow) is None  # still waiting on the slow API: the fast one did not wait for it
    wait_until(lambda: standin.calls("GET", f"/projects/{SLOW_PROJECT}/branches"), timeout=10)

    # The next beat comes while the slow sync runs: it is not started a second time.
    assert sync_all_neon_projects() == 1  # only the fast one
    assert sync_neon_project_periodically(slow.pk) == {"skipped": "another sync of this project is running"}

    wait_until(lambda: synced_at(slow), timeout=60)
    assert standin.calls("GET", f"/projects/{SLOW_PROJECT}/branches") == 1
    state = NeonSyncState.objects.get(project=slow)
    assert state.lease_until is None and state.error == ""  # released once done


@pytest.mark.django_db
def test_the_lease_is_taken_once_and_expires_if_the_worker_died(project):
    now = timezone.now()
    assert claim_sync(project.pk, 300, now=now)
    assert not claim_sync(project.pk, 300, now=now)
    later = now + timezone.timedelta(seconds=301)
    assert claim_sync(project.pk, 300, now=later)  # the holder died: the lease ran out
    release_sync(project.pk)
    assert claim_sync(project.pk, 300, now=later)
