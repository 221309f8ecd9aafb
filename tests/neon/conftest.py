"""Fixtures of the Neon area: a running local Neon API stand-in on a real local database."""

import time

import pytest

from dashboard.models import Project
from tests.support import pg
from tests.support.browser import browser_type_launch_args, login  # noqa: F401  (Chromium for browser tests)
from tests.support.neon_standin import RunningStandIn, StandIn

STANDIN_KEY = "standin-test-key"
STANDIN_PROJECT = "proj-standin"

BASE_SCHEMA = """
CREATE TABLE film (film_id int PRIMARY KEY, title text NOT NULL);
INSERT INTO film VALUES (1, 'ACADEMY DINOSAUR'), (2, 'ACE GOLDFINGER');
"""


@pytest.fixture
def standin_db():
    """The base database of the stand-in project (its default branch); branches are dropped after."""
    name = pg.create_database("neonbase", extensions=())
    with pg.admin_connect(name) as conn:
        conn.execute(BASE_SCHEMA)
    yield name
    with pg.admin_connect() as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",)).fetchall()
    for (database,) in rows:
        pg.drop_database(database)


@pytest.fixture
def neon_standin(standin_db):
    """A stand-in served on 127.0.0.1 (free port) with one project; operations take 50 ms."""
    standin = StandIn(pg.url_for("postgres"), STANDIN_KEY, op_seconds=0.05)
    standin.add_project(STANDIN_PROJECT, standin_db, name="Stand-in project")
    running = RunningStandIn(standin).start()
    yield running
    running.stop()
    _wait_for_operations_to_end(standin)


def _wait_for_operations_to_end(standin: StandIn, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(op["status"] != "running" for op in standin.state["operations"].values()):
            return
        time.sleep(0.02)


@pytest.fixture
def neon_settings(settings, neon_standin):
    settings.NEON_API_BASE_URL = neon_standin.base_url
    settings.NEON_API_TIMEOUT = 5.0
    return settings


@pytest.fixture
def neon_project(team, neon_settings, neon_standin, standin_db):
    """A dashboard project registered against the stand-in project."""
    url = neon_standin.standin.uri_for_database(standin_db)
    return Project.objects.create(
        team=team,
        name="Pagila on Neon",
        slug="pagila-neon",
        pooled_url=url,
        neon_project_id=STANDIN_PROJECT,
        neon_api_key=STANDIN_KEY,
    )


@pytest.fixture
def neon_worker(neon_standin, monkeypatch, transactional_db):
    """A real Celery worker process that talks to the stand-in."""
    from tests.support.celery_worker import start_worker, stop_worker

    monkeypatch.setenv("NEON_API_BASE_URL", neon_standin.base_url)
    proc = start_worker()
    yield proc
    stop_worker(proc)
