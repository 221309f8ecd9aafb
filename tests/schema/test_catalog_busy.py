"""A pending ALTER TABLE in another session: the refresh ends with "catalog busy" within the lock timeout."""

import time

import pytest

from dashboard.models import SchemaSnapshot, TaskRun
from dashboard.schema.tasks import SNAPSHOT_KIND, run_capture
from dashboard.taskruns import lifecycle
from tests.support import pg

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending_alter(target_db):
    """Another session has begun an ALTER TABLE and not committed: it holds an ACCESS EXCLUSIVE lock."""
    with pg.admin_connect(target_db) as setup:
        setup.execute("CREATE TABLE orders (id int PRIMARY KEY)")
    blocker = pg.admin_connect(target_db)
    blocker.autocommit = False
    blocker.execute("ALTER TABLE orders ADD COLUMN note text")
    yield
    blocker.rollback()
    blocker.close()


def test_refresh_reports_catalog_busy_within_the_lock_timeout(client_for, project, pending_alter, settings):
    settings.TARGET_LOCK_TIMEOUT_MS = 500
    settings.TARGET_STATEMENT_TIMEOUT_MS = 20000  # the lock timeout, not the statement timeout, must end it
    client = client_for("engineer")
    client.post("/projects/shop/schema/refresh/")
    run = TaskRun.objects.get(kind=SNAPSHOT_KIND)
    started = time.monotonic()
    run_capture(lifecycle.claim(str(run.pk)))
    elapsed = time.monotonic() - started
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error == "Catalog busy: another session holds a lock on a table; try again."
    assert elapsed < 5, elapsed
    assert not SchemaSnapshot.objects.exists()
    page = client.get("/projects/shop/schema/").content.decode()
    assert "Last refresh failed" in page and "Catalog busy" in page and "try again" in page
    assert project.audit_events.filter(action="schema.snapshot", outcome="failure").exists()
