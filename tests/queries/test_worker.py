"""The beat job through Redis and a real Celery worker: snapshots and health checks land in storage."""

import pytest
from django.utils import timezone

from dashboard.models import CollectorState, CollectorStatus, HealthSnapshot, StatsSample
from dashboard.queries.tasks import collect_due_statements, collect_statements
from tests.conftest import wait_until
from tests.queries.conftest import run_workload

pytestmark = pytest.mark.worker


def test_beat_job_collects_due_projects_on_a_real_worker(celery_worker, client_for, project, target_url):
    collect_due_statements.delay()
    state = wait_until(
        lambda: CollectorState.objects.filter(project=project, status=CollectorStatus.BASELINE).first()
    )
    wait_until(lambda: HealthSnapshot.objects.filter(project=project).exclude(checks=[]).exists())

    run_workload(target_url, {"SELECT name FROM items WHERE id = %s": 6})
    CollectorState.objects.filter(pk=state.pk).update(next_due_at=timezone.now())
    collect_due_statements.delay()
    wait_until(lambda: StatsSample.objects.filter(statement__project=project, calls=6).exists())

    body = client_for("viewer").get("/projects/shop/queries/?window=1h").content.decode()
    assert "SELECT name FROM items WHERE id = $1" in body
    overview = client_for("viewer").get("/projects/shop/").content.decode()
    assert "Transaction ID wraparound" in overview


def test_a_project_that_is_not_due_is_not_collected_twice(transactional_db, project, target_url):
    assert collect_statements(project.pk) == CollectorStatus.BASELINE
    assert collect_statements(project.pk) == "not due"
