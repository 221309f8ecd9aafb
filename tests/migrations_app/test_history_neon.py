"""Neon projects: the history per branch, two branches compared, and never a read of an idle compute."""

import psycopg
import pytest

from dashboard.connections import read_url
from dashboard.models import AuditEvent, NeonCompute, SnapshotSource, TaskRun
from dashboard.neon.sync import sync_project
from dashboard.schema.tasks import SNAPSHOT_KIND, request_snapshot, run_capture
from migrations_app.history.models import MigrationHistoryRead
from tests.migrations_app.history_fixtures import page, read_now
from tests.migrations_app.readers_fixtures import ddl
from tests.neon.conftest import neon_project, neon_settings, neon_standin, standin_db  # noqa: F401
from tests.neon.test_sync import make_branch, suspend

URL = "/projects/pagila-neon/migrations/"
REFRESH = URL + "history/refresh/"
PRISMA_ROW = """INSERT INTO _prisma_migrations (id, checksum, migration_name, finished_at, applied_steps_count)
VALUES (%s, 'c0ffee', %s, now(), 1)"""


def on_branch(project, branch: str | None, statement: str, params=None) -> None:
    """Fixed test SQL on one branch's database, through its compute (the compute must be active)."""
    with psycopg.connect(read_url(project, branch), autocommit=True) as conn:
        conn.execute(statement, params)


@pytest.fixture
def two_branches(neon_project, neon_standin):  # noqa: F811
    """main with Prisma's table and one migration; dev branched from it, then one more migration on dev."""
    on_branch(neon_project, None, ddl("prisma"))
    on_branch(neon_project, None, PRISMA_ROW, params=["m1", "20240501_init"])
    make_branch(neon_standin, "dev")
    sync_project(neon_project)
    on_branch(neon_project, "dev", PRISMA_ROW, params=["m2", "20240601_dev_only"])
    return neon_project


def test_each_branch_has_its_own_timeline(client_for, two_branches):
    read_now(two_branches)
    read_now(two_branches, "dev")
    main = page(client_for("viewer"), URL)
    dev = page(client_for("viewer"), URL + "?branch=dev")
    assert "20240501_init" in main and "20240601_dev_only" not in main
    assert "20240501_init" in dev and "20240601_dev_only" in dev
    assert 'name="branch" value="dev"' in page(
        client_for("engineer"), URL + "?branch=dev"
    )  # Refresh keeps it


def test_refresh_on_a_branch_stores_that_branch(client_for, two_branches):
    response = client_for("engineer").post(REFRESH, {"branch": "dev"})
    assert response.status_code == 302 and response["Location"] == URL + "?branch=dev"
    [stored] = MigrationHistoryRead.objects.all()
    assert stored.branch_name == "dev" and stored.branch_id.startswith("br-")


def test_two_branches_compared(client_for, two_branches):
    read_now(two_branches)
    read_now(two_branches, "dev")
    html = page(client_for("viewer"), URL + "?compare=dev")
    assert "Applied on dev, missing on main: <code>20240601_dev_only</code>" in html
    assert "20240501_init</code>" not in html.split('id="history-compare"', 1)[1]
    back = page(client_for("viewer"), URL + "?branch=dev&compare=main")
    assert "Applied on dev, missing on main: <code>20240601_dev_only</code>" in back


def test_comparing_without_a_read_or_with_a_bad_branch_says_so(client_for, two_branches):
    read_now(two_branches)
    assert "has no stored history read yet" in page(client_for("viewer"), URL + "?compare=dev")
    bad = page(client_for("viewer"), URL + "?compare=%3Cb%3Enope")
    assert "Choose another known branch than “&lt;b&gt;nope”" in bad
    assert "Choose another known branch than “main”" in page(client_for("viewer"), URL + "?compare=main")


@pytest.fixture
def idle_main(two_branches, neon_standin):  # noqa: F811
    endpoint_id = NeonCompute.objects.get(project=two_branches, branch__is_default=True).endpoint_id
    suspend(neon_standin, endpoint_id)
    sync_project(two_branches)
    neon_standin.standin.connection_attempts.clear()
    return endpoint_id


def test_refresh_never_reads_an_idle_compute(client_for, two_branches, neon_standin, idle_main):  # noqa: F811
    response = client_for("engineer").post(REFRESH, follow=True)
    html = response.content.decode()
    assert "The Neon compute is idle: the history was not read" in html
    assert "Wake compute" in html  # the idle notice, as on other pages
    assert neon_standin.standin.attempts_on(idle_main) == 0
    assert not MigrationHistoryRead.objects.exists()
    event = AuditEvent.objects.get(action="migrations.history_refresh")
    assert event.outcome == "failure" and "idle" in event.detail["error"]


def test_a_periodic_snapshot_of_an_idle_compute_reads_no_history(two_branches, neon_standin, idle_main):  # noqa: F811
    request_snapshot(two_branches, source=SnapshotSource.PERIODIC)
    run = TaskRun.objects.get(kind=SNAPSHOT_KIND)
    run_capture(run)
    assert neon_standin.standin.attempts_on(idle_main) == 0
    assert not MigrationHistoryRead.objects.exists()
