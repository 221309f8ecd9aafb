"""Neon scale to zero: the collector and health checks never connect to a compute Neon reports idle."""

import pytest

from dashboard.models.queries import CollectorState, CollectorStatus, HealthSnapshot
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
    overview = client_for("viewer").get("/projects/pagila-neon/").content.decode()
    assert "Skipped" in overview and "compute idle" in overview


def test_activity_page_does_not_wake_an_idle_compute_unless_an_engineer_asks(
    client_for, neon_project, neon_standin, idle_default_compute, settings
):
    settings.NEON_STATE_MAX_AGE_SECONDS = 0
    viewer = client_for("viewer")
    body = viewer.get("/projects/pagila-neon/activity/").content.decode()
    assert "Neon reports the compute idle" in body and "?wake=1" not in body
    assert (
        viewer.get("/projects/pagila-neon/activity/", HTTP_HX_REQUEST="true").status_code == 286
    )  # stop polling
    viewer.get("/projects/pagila-neon/activity/?wake=1")  # a viewer cannot wake it this way
    assert neon_standin.standin.attempts_on(idle_default_compute) == 0
    engineer = client_for("engineer")
    body = engineer.get("/projects/pagila-neon/activity/").content.decode()
    assert "Wake compute" in body and "?wake=1" in body
    assert neon_standin.standin.attempts_on(idle_default_compute) == 0
    engineer.get("/projects/pagila-neon/activity/?wake=1")  # the engineer asked: now it connects
    assert neon_standin.standin.attempts_on(idle_default_compute) >= 1
