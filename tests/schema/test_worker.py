"""Refresh through a real Celery worker process: the snapshot appears and the status stops polling."""

import pytest

from dashboard.models import SchemaSnapshot, TaskRun
from dashboard.schema.tasks import SNAPSHOT_KIND
from tests.conftest import wait_until

pytestmark = pytest.mark.worker


def test_refresh_is_captured_by_a_real_worker(client_for, project, target_sql, celery_worker):
    target_sql("CREATE TABLE orders (id int PRIMARY KEY, note json)")
    client = client_for("engineer")
    assert client.post("/projects/shop/schema/refresh/").status_code == 302
    run = TaskRun.objects.get(kind=SNAPSHOT_KIND)
    wait_until(lambda: TaskRun.objects.get(pk=run.pk).is_finished, timeout=30)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    snap = SchemaSnapshot.objects.get(project=project)
    assert snap.version == 1 and snap.counts["relations"] == 1
    assert [f["rule"] for f in snap.findings] == ["json-not-jsonb"]
    done = client.get("/projects/shop/schema/refresh/", HTTP_HX_REQUEST="true")
    assert done.status_code == 286 and b"Snapshot <strong>v1</strong>" in done.content
    assert b'<a href="/projects/shop/schema/public/orders/">' in client.get("/projects/shop/schema/").content
