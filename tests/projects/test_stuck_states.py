"""No project stays "Checking" forever: a lost check resets it, and a queue that is down is said at once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import Project, ProjectStatus, TaskRun, TaskStatus
from dashboard.projects.tasks import CHECK_KIND, start_connection_check
from dashboard.taskruns.lifecycle import reconcile_stale
from tests.support import pg
from tests.support.celery_worker import broker_pointed_at_closed_port

QUEUE_DOWN = "the task queue is unreachable; the check will not run until it is back"


@pytest.mark.django_db
def test_a_lost_check_resets_the_project_state(project, settings, client_for):
    run = start_connection_check(project, user=None)
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.CHECKING
    long_ago = timezone.now() - timedelta(seconds=settings.TASK_STALE_AFTER_SECONDS + 1)
    TaskRun.objects.filter(pk=run.pk).update(
        status=TaskStatus.RUNNING, started_at=long_ago, heartbeat_at=long_ago
    )

    assert reconcile_stale() == 1

    project.refresh_from_db()
    assert project.status == ProjectStatus.ERROR
    assert "worker stopped" in project.status_message
    page = client_for("viewer").get("/projects/shop/check/status/", HTTP_HX_REQUEST="true")
    assert page.status_code == 286  # polling stops
    assert "Run the check again" in page.content.decode()


@pytest.mark.django_db
def test_a_lost_check_does_not_touch_a_newer_check(project, settings):
    old = start_connection_check(project, user=None)
    TaskRun.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.TASK_QUEUED_STALE_AFTER_SECONDS + 1)
    )
    start_connection_check(project, user=None)  # a newer check, still queued

    assert reconcile_stale() == 1

    assert Project.objects.get(pk=project.pk).status == ProjectStatus.CHECKING


def test_registering_with_the_queue_down_says_so_and_fails_the_run(
    client_for, team, target_db, transactional_db
):
    admin = client_for("admin")
    with broker_pointed_at_closed_port():
        response = admin.post(
            "/projects/new/", {"team": team.pk, "name": "Queue down", "pooled_url": pg.url_for(target_db)}
        )
    assert response.status_code == 302
    project = Project.objects.get(slug="queue-down")  # the project is kept: it was registered
    run = TaskRun.objects.get(project=project, kind=CHECK_KIND)
    assert run.status == TaskStatus.FAILED and "task queue is unreachable" in run.error
    assert project.status == ProjectStatus.ERROR
    page = admin.get(response["Location"]).content.decode()
    assert QUEUE_DOWN in page
    assert "Checking connection" not in page


def test_a_manual_check_with_the_queue_down_answers_at_once(client_for, project, transactional_db):
    with broker_pointed_at_closed_port():
        response = client_for("engineer").post("/projects/shop/check/", HTTP_HX_REQUEST="true")
    assert response.status_code == 286  # nothing to poll for
    assert "task queue is unreachable" in response.content.decode()
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.ERROR
