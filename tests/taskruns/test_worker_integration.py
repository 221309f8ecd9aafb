"""A task goes through Redis to a real Celery worker process and its result reaches the page."""

from dashboard.models import Project, TaskRun
from dashboard.projects.tasks import start_connection_check
from tests.conftest import wait_until


def test_connection_check_runs_on_real_worker_and_result_reaches_page(celery_worker, client_for, project):
    run = start_connection_check(project, user=None)

    finished = wait_until(lambda: TaskRun.objects.get(pk=run.pk).is_finished)
    assert finished
    run.refresh_from_db()
    assert run.status == "succeeded", run.error

    page = client_for("viewer").get("/projects/shop/check/status/", HTTP_HX_REQUEST="true")
    assert page.status_code == 286  # htmx: stop polling, the check is over
    assert b"Reachable" in page.content
    assert b"Server version" in page.content
    assert Project.objects.get(pk=project.pk).check_result["server_version_num"] >= 150000
