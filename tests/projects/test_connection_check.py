"""Registering a project checks its connection; each bad input gives a clear message and no error page."""

import time

import pytest

from dashboard.models import AuditEvent, Project, TaskRun
from dashboard.projects.tasks import check_project_connection
from tests.support import pg
from tests.support.tcp_peers import WakingComputeProxy, http_service, serving, silent


def register(client, url, name="Shop"):
    return client.post(
        "/projects/new/", {"team": client.team_id, "name": name, "slug": "", "pooled_url": url}
    )


@pytest.fixture
def admin_client(client_for, team):
    client = client_for("admin")
    client.team_id = team.pk
    return client


def run_check_in_process(project):
    """Run the queued check's task body here, as the worker would."""
    run = TaskRun.objects.filter(project=project, kind="connection_check").latest("created_at")
    check_project_connection(str(run.pk))
    run.refresh_from_db()
    return run


def status_partial(client, slug="shop"):
    return client.get(f"/projects/{slug}/check/status/", HTTP_HX_REQUEST="true").content.decode()


def test_registering_a_reachable_database_shows_server_facts(admin_client, target_db):
    response = register(admin_client, pg.url_for(target_db))
    assert response.status_code == 302
    project = Project.objects.get(slug="shop")
    run = run_check_in_process(project)
    assert run.status == "succeeded"
    html = status_partial(admin_client)
    assert "Reachable" in html
    assert "installed and readable" in html  # pg_stat_statements
    assert "Connect time" in html
    assert AuditEvent.objects.filter(
        action="project.create", project=project, actor__username="admin"
    ).exists()


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "Enter a connection URL."),
        ("mysql://u:p@localhost/db", "must start with postgresql://"),
        ("postgresql://u:p@localhost:notaport/db", "malformed"),
        ("postgresql://u:p@/db", "has no host"),
        ("postgresql://u:p@localhost:5432/", "no database name"),
        ("postgresql://:p@localhost:5432/db", "no user name"),
    ],
)
def test_malformed_url_is_refused_with_a_message_and_nothing_is_created(admin_client, url, message):
    response = register(admin_client, url)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Project.objects.exists()
    assert not TaskRun.objects.exists()


def check_message_for(admin_client, url):
    register(admin_client, url)
    project = Project.objects.get(slug="shop")
    started = time.monotonic()
    run = run_check_in_process(project)
    elapsed = time.monotonic() - started
    project.refresh_from_db()
    assert run.status == "failed"
    assert project.status == "error"
    html = status_partial(admin_client)
    assert "Unreachable" in html
    assert "postgres-secret" not in html and "postgres-secret" not in run.error
    return project.status_message, elapsed


def test_wrong_password_says_authentication_failed(admin_client, target_db):
    message, _ = check_message_for(admin_client, pg.url_for(target_db, password="postgres-secret"))
    assert message == "Authentication failed: wrong user name or password."


def test_unknown_host_says_it_does_not_resolve_and_nothing_is_created(admin_client):
    response = register(admin_client, "postgresql://u:postgres-secret@no-such-host.invalid/db")
    html = response.content.decode()
    assert "Unknown host &#x27;no-such-host.invalid&#x27;: the name does not resolve." in html
    assert "postgres-secret" not in html
    assert not Project.objects.exists()


def test_port_with_another_service_says_it_is_not_postgres(admin_client):
    with serving(http_service) as port:
        message, _ = check_message_for(admin_client, f"postgresql://u:postgres-secret@127.0.0.1:{port}/db")
    assert message == f"127.0.0.1:{port} did not answer like a Postgres server."


def test_closed_port_says_connection_refused(admin_client):
    with serving(silent) as port:
        pass  # the port is closed again once the listener stops
    message, _ = check_message_for(admin_client, f"postgresql://u:postgres-secret@127.0.0.1:{port}/db")
    assert message == f"Connection refused by 127.0.0.1:{port}: nothing is listening there."


def test_silent_server_times_out_within_the_connect_timeout(admin_client, settings):
    with serving(silent) as port:
        message, elapsed = check_message_for(
            admin_client, f"postgresql://u:postgres-secret@127.0.0.1:{port}/db"
        )
    assert message == f"Timed out after {settings.TARGET_CONNECT_TIMEOUT} s connecting to 127.0.0.1:{port}."
    assert elapsed < settings.TARGET_CONNECT_TIMEOUT + 2


def test_missing_database_says_so(admin_client):
    message, _ = check_message_for(admin_client, pg.url_for("no_such_database_here"))
    assert message == "The database named in the URL does not exist on the server."


def test_waking_compute_is_retried_and_the_connect_time_is_shown(admin_client, target_db):
    upstream = pg.server()["port"]
    proxy = WakingComputeProxy(upstream, failures=2)
    with serving(proxy) as port:
        register(admin_client, f"postgresql://postgres:postgres@127.0.0.1:{port}/{target_db}")
        run = run_check_in_process(Project.objects.get(slug="shop"))
    assert run.status == "succeeded", run.error
    assert proxy.attempts == 3
    assert run.result["connect_attempts"] == 3
    assert "3 attempts: cold start" in status_partial(admin_client)


def test_compute_that_never_wakes_gives_a_clear_message(admin_client, target_db, settings):
    settings.TARGET_CONNECT_RETRIES = 2
    proxy = WakingComputeProxy(pg.server()["port"], failures=100)
    with serving(proxy) as port:
        message, _ = check_message_for(
            admin_client, f"postgresql://postgres:postgres-secret@127.0.0.1:{port}/{target_db}"
        )
    assert message == "The compute did not wake up in time; try again."
    assert proxy.attempts == 3  # first try + 2 retries


def test_database_refusing_connections_says_the_compute_is_suspended(admin_client, target_db):
    with pg.admin_connect() as conn:
        conn.execute(f'ALTER DATABASE "{target_db}" ALLOW_CONNECTIONS false')
    message, _ = check_message_for(admin_client, pg.url_for(target_db))
    assert message == "The compute is suspended (idle) and refuses connections; wake it first."


def test_the_dashboards_own_database_cannot_be_registered(admin_client):
    from django.db import connection

    db = connection.settings_dict
    response = register(admin_client, f"postgresql://{db['USER']}:x@{db['HOST']}:{db['PORT']}/{db['NAME']}")
    assert "This is the dashboard&#x27;s own database" in response.content.decode()
    assert not Project.objects.exists()


def test_private_networks_are_refused_when_blocking_is_on(admin_client, settings, target_db):
    settings.TARGET_BLOCK_PRIVATE_NETWORKS = True
    for host in ("127.0.0.1", "localhost", "10.1.2.3", "[::1]", "169.254.169.254"):
        response = register(admin_client, f"postgresql://u:p@{host}:5432/db")
        assert "private or local network" in response.content.decode(), host
    assert not Project.objects.exists()
    settings.TARGET_BLOCK_PRIVATE_NETWORKS = False
    assert register(admin_client, pg.url_for(target_db)).status_code == 302
