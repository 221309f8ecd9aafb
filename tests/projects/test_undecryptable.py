"""One credential that cannot be decrypted (a key rotation gone wrong) breaks only what needs it.

The token is written straight into the row, encrypted with a key the dashboard does not have,
as after a rotation that dropped the old key before every row was re-encrypted.
"""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from dashboard.models import AuditEvent, Project, ProjectStatus, TaskRun
from dashboard.projects.services import run_connection_check
from dashboard.projects.tasks import CHECK_KIND
from dashboard.schema.tasks import SNAPSHOT_KIND, schedule_periodic_snapshots
from tests.support import pg

pytestmark = pytest.mark.django_db

LOST_KEY = Fernet.generate_key()
UNREADABLE = "credentials cannot be decrypted; re-enter them"


def write_foreign_token(project: Project, column: str, plaintext: str) -> None:
    token = Fernet(LOST_KEY).encrypt(plaintext.encode()).decode()
    with connection.cursor() as cur:
        cur.execute(f"UPDATE dashboard_project SET {column} = %s WHERE id = %s", [token, project.pk])  # noqa: S608


@pytest.fixture
def broken(team, target_db):
    """A project of the same team whose pooled URL was encrypted with a key that is gone."""
    project = Project.objects.create(
        team=team, name="Broken", slug="broken", pooled_url=pg.url_for(target_db)
    )
    write_foreign_token(project, "pooled_url", pg.url_for(target_db))
    return project


@pytest.fixture
def api_token(users, project, broken):
    out = io.StringIO()
    call_command("create_api_token", "--team", "acme", "--user", "admin", "--name", "alerts", stdout=out)
    return out.getvalue().strip()


def test_project_list_shows_every_project_and_marks_the_broken_one(client_for, project, broken):
    response = client_for("viewer").get("/projects/")
    assert response.status_code == 200
    text = response.content.decode()
    assert ">Shop<" in text and ">Broken<" in text
    assert text.count(UNREADABLE) == 1


def test_project_page_says_the_credentials_cannot_be_decrypted(client_for, broken):
    response = client_for("viewer").get("/projects/broken/")
    assert response.status_code == 200
    assert UNREADABLE in response.content.decode()


def test_metrics_and_health_api_serve_the_whole_team(client, api_token, project, broken):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token}"}
    metrics = client.get("/metrics", **auth)
    assert metrics.status_code == 200
    for slug in ("shop", "broken"):
        response = client.get(f"/api/v1/projects/{slug}/health", **auth)
        assert response.status_code == 200
        assert response.json()["project"] == slug


def test_periodic_snapshots_are_queued_for_the_other_projects(
    project, broken, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        schedule_periodic_snapshots()
    queued = set(TaskRun.objects.filter(kind=SNAPSHOT_KIND).values_list("project__slug", flat=True))
    assert "shop" in queued


def test_connection_check_of_the_broken_project_says_why(broken):
    run = TaskRun.objects.create(kind=CHECK_KIND, project=broken)
    run_connection_check(TaskRun.objects.get(pk=run.pk))
    broken.refresh_from_db(fields=["status", "status_message"])
    assert broken.status == ProjectStatus.ERROR
    assert "cannot be decrypted" in broken.status_message


def test_admin_re_enters_the_credentials_on_the_edit_page(client_for, broken, target_db):
    client = client_for("admin")
    page = client.get("/projects/broken/edit/")
    assert page.status_code == 200
    assert "cannot be decrypted" in page.content.decode()
    # Blank keeps the stored value, which cannot be read: the form asks for it again and changes nothing.
    kept = client.post("/projects/broken/edit/", {"name": "Broken", "slug": "broken", "pooled_url": ""})
    assert kept.status_code == 200
    assert "enter it again" in kept.content.decode()
    new_url = pg.url_for(target_db)
    response = client.post(
        "/projects/broken/edit/", {"name": "Broken", "slug": "broken", "pooled_url": new_url}
    )
    assert response.status_code == 302
    reloaded = Project.objects.get(pk=broken.pk)
    assert reloaded.pooled_url == new_url
    event = AuditEvent.objects.filter(action="project.update", project=broken).get()
    assert event.detail["fields"] == ["pooled_url"]
    assert UNREADABLE not in client.get("/projects/broken/").content.decode()
