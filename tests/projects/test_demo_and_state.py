"""The demo loads idempotently; the project list never connects to targets; lost tasks are reconciled."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone

from dashboard.models import Membership, Project, TaskRun, Team
from dashboard.taskruns.lifecycle import claim, reconcile_stale
from tests.support import pg
from tests.support.tcp_peers import WakingComputeProxy, serving


@pytest.fixture
def demo_db_name(settings):
    settings.DEMO_DATABASE_NAME = f"demo_{uuid.uuid4().hex[:8]}"
    settings.DEMO_PASSWORD = "demo-password-for-tests"
    yield settings.DEMO_DATABASE_NAME
    pg.drop_database(settings.DEMO_DATABASE_NAME)


def test_load_demo_creates_team_users_and_pagila_project_and_is_idempotent(
    db, demo_db_name, tmp_path, monkeypatch
):
    monkeypatch.setattr("dashboard.demo.setup.LOGINS_FILE", tmp_path / "logins.txt")
    call_command("load_demo")
    call_command("load_demo")
    team = Team.objects.get(slug="demo")
    roles = dict(Membership.objects.filter(team=team).values_list("user__username", "role"))
    assert roles == {"admin": "admin", "engineer": "engineer", "viewer": "viewer"}
    assert authenticate(
        RequestFactory().post("/accounts/login/"), username="viewer", password="demo-password-for-tests"
    )
    project = Project.objects.get(slug="pagila")
    assert project.team == team and Project.objects.count() == 1
    with pg.admin_connect(demo_db_name) as conn:
        assert conn.execute("SELECT count(*) FROM film").fetchone()[0] == 1000
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
    assert "password: demo-password-for-tests" in (tmp_path / "logins.txt").read_text()


def test_project_list_shows_last_state_without_connecting(client_for, team):
    proxy = WakingComputeProxy(pg.server()["port"], failures=0)
    with serving(proxy) as port:
        Project.objects.create(
            team=team,
            name="Remote",
            slug="remote",
            pooled_url=f"postgresql://u:p@127.0.0.1:{port}/db",
            status="error",
            status_message="Authentication failed: wrong user name or password.",
        )
        html = client_for("viewer").get("/projects/").content.decode()
        overview = client_for("viewer").get("/projects/remote/").content.decode()
    assert "Unreachable" in html and "Authentication failed" in html
    assert "Authentication failed" in overview
    assert proxy.attempts == 0


def test_stale_running_task_is_marked_lost(project, settings):
    run = TaskRun.objects.create(kind="connection_check", project=project)
    assert claim(str(run.pk)) is not None
    assert claim(str(run.pk)) is None  # a redelivered task does not run twice
    TaskRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.TASK_STALE_AFTER_SECONDS + 1)
    )
    assert reconcile_stale() == 1
    run.refresh_from_db()
    assert run.status == "lost" and "worker stopped" in run.error


def test_lost_check_stops_polling_and_says_so(client_for, project):
    Project.objects.filter(pk=project.pk).update(status="checking")
    TaskRun.objects.create(
        kind="connection_check",
        project=project,
        status="lost",
        error="x",
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    response = client_for("viewer").get("/projects/shop/check/status/", HTTP_HX_REQUEST="true")
    assert response.status_code == 286
    assert "The last check was lost because its worker stopped" in response.content.decode()


def test_a_queued_run_waiting_behind_long_tasks_is_not_marked_lost_too_early(project, settings):
    settings.TASK_STALE_AFTER_SECONDS = 300
    settings.TASK_QUEUED_STALE_AFTER_SECONDS = 3600
    waiting = TaskRun.objects.create(kind="neon.action", project=project, params={"action": "delete"})
    TaskRun.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(seconds=1800))
    assert reconcile_stale() == 0
    waiting.refresh_from_db()
    assert waiting.status == "queued"
    TaskRun.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(seconds=3601))
    assert reconcile_stale() == 1
    waiting.refresh_from_db()
    assert waiting.status == "lost" and "No worker picked the task up" in waiting.error
