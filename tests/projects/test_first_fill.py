"""A new project fills itself: after its first check, a real worker takes its first snapshot and baseline."""

import pytest

from dashboard.models import CollectorState, CollectorStatus, Project, SchemaSnapshot, TaskRun
from dashboard.projects.services import queue_first_data
from dashboard.projects.tasks import CHECK_KIND
from tests.conftest import wait_until
from tests.support import pg


def test_registering_through_the_form_takes_the_first_snapshot_and_baseline(
    celery_worker, client_for, team, target_db
):
    with pg.admin_connect(target_db) as conn:
        conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY, placed_at timestamptz NOT NULL)")
    admin = client_for("admin")
    response = admin.post(
        "/projects/new/", {"team": team.pk, "name": "Fresh", "pooled_url": pg.url_for(target_db)}
    )
    assert response.status_code == 302
    project = Project.objects.get(slug="fresh")

    snapshot = wait_until(lambda: SchemaSnapshot.objects.filter(project=project).first(), timeout=60)
    assert snapshot.counts.get("relations", 0) >= 1
    wait_until(
        lambda: CollectorState.objects.filter(project=project, status=CollectorStatus.BASELINE).exists(),
        timeout=60,
    )
    run = TaskRun.objects.get(project=project, kind=CHECK_KIND)
    assert run.result["queued"] == ["first schema snapshot", "statement baseline"]

    page = admin.get("/projects/fresh/").content.decode()
    assert "Queued after registration: first schema snapshot and statement baseline" in page
    assert "orders" in admin.get("/projects/fresh/schema/").content.decode()


@pytest.mark.django_db
def test_nothing_is_queued_for_a_neon_project_whose_compute_state_is_unknown(team, target_db, settings):
    """The Neon API does not answer, so the compute counts as idle: nothing connects to it."""
    settings.NEON_API_BASE_URL = "http://127.0.0.1:9/api/v2/"
    settings.NEON_API_TIMEOUT = 0.5
    project = Project.objects.create(
        team=team, name="Sleepy", slug="sleepy", pooled_url=pg.url_for(target_db), neon_project_id="p-sleepy",
        neon_api_key="key",
    )  # fmt: skip
    assert queue_first_data(project, None) == []
    assert not TaskRun.objects.filter(project=project).exists()
    assert not CollectorState.objects.filter(project=project).exists()
