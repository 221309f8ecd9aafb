"""Who sees the history and who may Refresh it: viewers read, engineers and admins read the target (audited)."""

import pytest
from psycopg import sql

from dashboard.models import AuditEvent, Project
from migrations_app.history.models import MigrationHistoryRead
from tests.migrations_app.history_fixtures import create_tool_table, page, prisma, run_sql, snapshot
from tests.migrations_app.readers_fixtures import reader_role  # noqa: F401  (a fixture)
from tests.support import pg

pytestmark = pytest.mark.django_db

URL = "/projects/shop/migrations/"
REFRESH = "/projects/shop/migrations/history/refresh/"


@pytest.fixture
def prisma_table(target_db):
    create_tool_table(target_db, "prisma")
    prisma(target_db, "20240501_init")
    return target_db


def test_a_viewer_sees_the_timeline_without_a_refresh_button(client_for, project, prisma_table):
    snapshot(project)
    html = page(client_for("viewer"), URL)
    assert "20240501_init" in html and REFRESH not in html
    assert REFRESH in page(client_for("engineer"), URL)


def test_a_viewer_cannot_refresh_and_the_refusal_is_audited(client_for, project, prisma_table):
    response = client_for("viewer").post(REFRESH)
    assert response.status_code == 403
    assert not MigrationHistoryRead.objects.exists()
    event = AuditEvent.objects.get(action="migrations.history_refresh")
    assert (event.outcome, event.actor.username) == ("denied", "viewer")


@pytest.mark.parametrize("method", ["get", "post"])
def test_members_of_another_team_get_404(client_for, project, method):
    for url in (URL, REFRESH):
        response = getattr(client_for("other_team"), method)(url)
        assert response.status_code in (404, 405), url
    assert not MigrationHistoryRead.objects.exists()


def test_anonymous_visitors_are_sent_to_login(client, project):
    for url in (URL, REFRESH):
        response = client.post(url) if url == REFRESH else client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_refresh_is_get_refused(client_for, project):
    assert client_for("engineer").get(REFRESH).status_code == 405


@pytest.mark.parametrize("role", ["engineer", "admin"])
def test_refresh_reads_stores_and_audits(client_for, project, prisma_table, role):
    client = client_for(role)
    response = client.post(REFRESH, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    html = response.content.decode()
    assert "Migration history read: 1 history table." in html and "20240501_init" in html
    stored = MigrationHistoryRead.objects.get(project=project)
    assert stored.source == "refresh" and stored.tool_tables == 1
    event = AuditEvent.objects.get(action="migrations.history_refresh")
    assert (event.outcome, event.actor.username, event.object_id) == ("success", role, str(stored.pk))


def test_an_unchanged_history_only_confirms_the_stored_read(client_for, project, prisma_table):
    client = client_for("engineer")
    client.post(REFRESH)
    first = MigrationHistoryRead.objects.get()
    client.post(REFRESH)
    again = MigrationHistoryRead.objects.get()
    assert again.pk == first.pk and again.last_read_at > first.last_read_at and again.read_at == first.read_at
    prisma(prisma_table, "20240502_next")
    client.post(REFRESH)
    assert MigrationHistoryRead.objects.count() == 2


def test_a_refresh_that_cannot_connect_says_why_and_is_audited(client_for, project):
    Project.objects.filter(pk=project.pk).update(pooled_url="postgresql://u:secret-pw@127.0.0.1:1/db")
    response = client_for("engineer").post(REFRESH, follow=True)
    html = response.content.decode()
    event = AuditEvent.objects.get(action="migrations.history_refresh")
    assert event.outcome == "failure" and event.detail["error"] and event.detail["error"] in html
    assert "secret-pw" not in html and "secret-pw" not in str(event.detail)
    assert not MigrationHistoryRead.objects.exists()


def test_a_table_the_role_cannot_read_is_reported_not_fatal(client_for, project, prisma_table, reader_role):  # noqa: F811
    user, password = reader_role
    create_tool_table(prisma_table, "flyway")
    run_sql(prisma_table, sql.SQL("GRANT SELECT ON _prisma_migrations TO {}").format(sql.Identifier(user)))
    Project.objects.filter(pk=project.pk).update(
        pooled_url=pg.url_for(prisma_table, user=user, password=password)
    )
    response = client_for("engineer").post(REFRESH, follow=True)
    html = response.content.decode()
    assert "Migration history read: 1 history table." in html and "20240501_init" in html
    assert "Could not read public.flyway_schema_history (flyway): Permission denied" in html
