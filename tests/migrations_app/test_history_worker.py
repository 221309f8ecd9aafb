"""Through a real Celery worker: a schema snapshot reads the migration history first, and the page shows both."""

import pytest

from dashboard.models import SchemaSnapshot, TaskRun
from dashboard.schema.tasks import SNAPSHOT_KIND
from migrations_app.history.models import MigrationHistoryRead
from tests.conftest import wait_until
from tests.migrations_app.history_fixtures import create_tool_table, page, prisma

pytestmark = pytest.mark.worker


def test_a_snapshot_on_a_worker_stores_the_history_read_just_before_it(
    client_for, project, target_db, celery_worker
):
    create_tool_table(target_db, "prisma")
    prisma(target_db, "20240501_init")
    client = client_for("engineer")
    assert client.post("/projects/shop/schema/refresh/").status_code == 302
    run = TaskRun.objects.get(kind=SNAPSHOT_KIND)
    wait_until(lambda: TaskRun.objects.get(pk=run.pk).is_finished, timeout=30)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    [stored] = MigrationHistoryRead.objects.filter(project=project)
    snapshot = SchemaSnapshot.objects.get(project=project)
    assert stored.source == "snapshot" and stored.tool_tables == 1
    assert stored.read_at <= snapshot.first_taken_at  # read before the catalog
    html = page(client, "/projects/shop/migrations/")
    assert "20240501_init" in html and "<strong>v1</strong>" in html
