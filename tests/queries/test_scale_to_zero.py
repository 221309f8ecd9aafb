"""Neon scale to zero: the collector and health checks never connect to a compute Neon reports idle."""

import pytest

from dashboard.models import (
    AuditEvent,
    CollectorState,
    CollectorStatus,
    HealthSnapshot,
    NeonCompute,
    QueryText,
)
from dashboard.queries.tasks import collect_statements

pytestmark = pytest.mark.django_db


def test_idle_compute_is_skipped_without_a_connection_attempt(
    client_for, neon_project, neon_standin, idle_default_compute, settings
):
    settings.NEON_STATE_MAX_AGE_SECONDS = 0  # ask the Neon API, as after a long pause
    assert collect_statements(neon_project.pk) == CollectorStatus.IDLE

    assert neon_standin.standin.attempts_on(idle_default_compute) == 0
    assert neon_standin.standin.state["endpoints"][idle_default_compute]["current_state"] == "idle"
    state = CollectorState.objects.get(project=neon_project)
    assert "compute idle" in state.message
    assert HealthSnapshot.objects.get(project=neon_project).skipped.startswith(
        "Neon reports the compute idle"
    )

    queries = client_for("viewer").get("/projects/pagila-neon/queries/").content.decode()
    assert "Skipped: compute idle" in queries
    assert "Next snapshot due" in queries and "the compute is idle" in queries
    overview = client_for("viewer").get("/projects/pagila-neon/").content.decode()
    assert "Skipped" in overview and "compute idle" in overview


def test_activity_page_does_not_wake_an_idle_compute_unless_an_engineer_asks(
    client_for, neon_project, neon_standin, idle_default_compute, settings
):
    settings.NEON_STATE_MAX_AGE_SECONDS = 0
    main_id = NeonCompute.objects.get(endpoint_id=idle_default_compute).branch.branch_id
    wake_form = f'action="/projects/pagila-neon/branches/{main_id}/wake/"'
    viewer = client_for("viewer")
    body = viewer.get("/projects/pagila-neon/activity/").content.decode()
    assert "Neon reports the compute idle" in body and wake_form not in body and "wake=1" not in body
    assert 'hx-trigger="every 5s"' not in body  # nothing to poll while the compute is idle
    assert (
        viewer.get("/projects/pagila-neon/activity/", HTTP_HX_REQUEST="true").status_code == 286
    )  # stop polling
    engineer = client_for("engineer")
    body = engineer.get("/projects/pagila-neon/activity/").content.decode()
    # Engineers wake it with the audited POST of the neon area, never with a GET flag.
    assert "Wake compute" in body and wake_form in body and "wake=1" not in body
    for url in (
        "/projects/pagila-neon/activity/?wake=1",
        "/projects/pagila-neon/activity/?wake=1&polling_since=1",
    ):
        engineer.get(url)
        engineer.get(url, HTTP_HX_REQUEST="true")
    assert neon_standin.standin.attempts_on(idle_default_compute) == 0


def test_explain_shows_the_idle_notice_instead_of_waking_the_compute(
    client_for, neon_project, neon_standin, idle_default_compute, settings
):
    settings.NEON_STATE_MAX_AGE_SECONDS = 0
    text = QueryText.objects.create(
        project=neon_project, queryid=4242, text="SELECT $1::int + 1", fingerprint="x" * 40
    )
    for who, mode in (
        ("viewer", "plain"),
        ("engineer", "plain"),
        ("engineer", "analyze"),
        ("admin", "plain"),
    ):
        response = client_for(who).post(
            f"/projects/pagila-neon/queries/{text.queryid}/explain/",
            {"mode": mode, "param1": "1"},
            HTTP_HX_REQUEST="true",
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert "EXPLAIN would wake it" in body and "The Neon compute of branch" in body
        assert ("Wake compute" in body) == (who != "viewer")
    assert neon_standin.standin.attempts_on(idle_default_compute) == 0


def test_viewers_cannot_refresh_health_of_an_idle_compute(
    client_for, neon_project, neon_standin, idle_default_compute, settings
):
    settings.NEON_STATE_MAX_AGE_SECONDS = 0
    viewer = client_for("viewer")
    assert viewer.post("/projects/pagila-neon/health/refresh/").status_code == 403
    assert "/health/refresh/" not in viewer.get("/projects/pagila-neon/health/").content.decode()
    assert neon_standin.standin.attempts_on(idle_default_compute) == 0
    assert AuditEvent.objects.get(action="health.refresh").outcome == "denied"
