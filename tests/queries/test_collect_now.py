""" "Collect now" on Queries: one snapshot on request, for engineers, never waking an idle compute."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import AuditEvent, CollectorState, CollectorStatus, TaskRun, TaskStatus
from dashboard.queries.collector import claim_due, collect_project
from dashboard.queries.tasks import COLLECT_NOW_KIND, collect_now
from tests.queries.conftest import run_workload

pytestmark = pytest.mark.django_db

BY_ID = "SELECT name FROM items WHERE id = %s"
URL = "/projects/shop/queries/collect/"


@pytest.fixture
def backed_off(project, target_url, settings):
    """A baseline was taken and the next snapshot is an hour away: without "Collect now", new work waits."""
    settings.QUERIES_COLLECT_INTERVAL_SECONDS = 3600
    collect_project(project)
    return project


def test_engineer_collects_now_and_sees_the_new_data(client_for, backed_off, target_url):
    run_workload(target_url, {BY_ID: 5})
    engineer = client_for("engineer")
    response = engineer.post(URL + "?window=1h", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    run = TaskRun.objects.get(kind=COLLECT_NOW_KIND, project=backed_off)
    assert run.status == TaskStatus.QUEUED and run.created_by.username == "engineer"
    assert "Taking a snapshot" in body and 'hx-trigger="every 1s"' in body  # the page polls
    assert f'hx-get="{URL}?window=1h"' in body
    event = AuditEvent.objects.get(action=COLLECT_NOW_KIND)
    assert (event.outcome, event.actor.username, event.object_id) == ("success", "engineer", str(run.pk))

    collect_now(str(run.pk))  # what the worker runs

    run.refresh_from_db()
    assert run.status == TaskStatus.SUCCEEDED, run.error
    poll = engineer.get(URL + "?window=1h", HTTP_HX_REQUEST="true")
    assert poll.status_code == 286  # stop polling
    poll_body = poll.content.decode()
    assert "Snapshot taken" in poll_body and 'hx-get="/projects/shop/queries/?window=1h"' in poll_body
    table = engineer.get("/projects/shop/queries/?window=1h", HTTP_HX_REQUEST="true").content.decode()
    assert "SELECT name FROM items WHERE id = $1" in table
    finished = AuditEvent.objects.get(action="queries.collect_now.finished")
    assert (finished.outcome, finished.detail["status"]) == ("success", CollectorStatus.OK)


def test_collect_now_without_htmx_redirects_to_queries(client_for, backed_off):
    response = client_for("admin").post(URL)
    assert response.status_code == 302 and response["Location"] == "/projects/shop/queries/"
    assert TaskRun.objects.filter(kind=COLLECT_NOW_KIND).count() == 1


def test_viewer_cannot_collect_now(client_for, backed_off):
    viewer = client_for("viewer")
    assert viewer.post(URL, HTTP_HX_REQUEST="true").status_code == 403
    assert not TaskRun.objects.filter(kind=COLLECT_NOW_KIND).exists()
    assert AuditEvent.objects.get(action=COLLECT_NOW_KIND).outcome == "denied"
    assert "Collect now" not in viewer.get("/projects/shop/queries/").content.decode()
    assert "Collect now" in client_for("engineer").get("/projects/shop/queries/").content.decode()


def test_collect_now_waits_for_no_scheduled_snapshot_but_never_overlaps_one(client_for, backed_off, settings):
    state = CollectorState.objects.get(project=backed_off)
    CollectorState.objects.filter(pk=state.pk).update(next_due_at=timezone.now())
    assert claim_due(backed_off.pk, timezone.now())  # a scheduled snapshot is running
    client_for("engineer").post(URL, HTTP_HX_REQUEST="true")
    run = TaskRun.objects.get(kind=COLLECT_NOW_KIND)
    collect_now(str(run.pk))
    run.refresh_from_db()
    assert run.status == TaskStatus.FAILED and "scheduled snapshot is being taken" in run.error
    # Once that lease has run out, the scheduled slot is free again.
    later = timezone.now() + timedelta(seconds=settings.QUERIES_COLLECT_LEASE_SECONDS + 1)
    assert claim_due(backed_off.pk, later)


def test_collect_now_is_refused_for_an_idle_neon_compute(
    client_for, neon_project, neon_standin, idle_default_compute, settings
):
    settings.NEON_STATE_MAX_AGE_SECONDS = 0
    url = "/projects/pagila-neon/queries/collect/"
    engineer = client_for("engineer")
    response = engineer.post(url, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200  # htmx swaps only 2xx: the partial carries the refusal
    assert "a snapshot would wake it" in body and "Wake compute" in body
    assert engineer.post(url).status_code == 409
    assert not TaskRun.objects.filter(kind=COLLECT_NOW_KIND).exists()
    assert neon_standin.standin.attempts_on(idle_default_compute) == 0
    events = AuditEvent.objects.filter(action=COLLECT_NOW_KIND)
    assert [e.outcome for e in events] == ["failure", "failure"]


def test_queries_says_when_the_next_snapshot_is_due_and_why(client_for, project, target_url, settings):
    settings.QUERIES_COLLECT_INTERVAL_SECONDS = 300
    collect_project(project)
    body = client_for("viewer").get("/projects/shop/queries/").content.decode()
    assert "Next snapshot due" in body and "the normal interval (300 s)" in body
    CollectorState.objects.filter(project=project).update(due_reason="backoff", status="quiet")
    body = client_for("viewer").get("/projects/shop/queries/").content.decode()
    assert "backing off" in body and "the compute may suspend" in body
