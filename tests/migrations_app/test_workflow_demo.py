"""The demo opens with one request on `pagila`: drafted by engineer from the advisor's finding
(CREATE INDEX CONCURRENTLY for a foreign key), linted, through the rehearsal rule, awaiting admin."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dashboard.models import Project
from migrations_app.models import MigrationRequest
from migrations_app.services import workflow
from tests.support import pg

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path, monkeypatch):
    settings.DEMO_DATABASE_NAME = f"demo_{uuid.uuid4().hex[:8]}"
    settings.DEMO_PASSWORD = "demo-password-for-tests"
    monkeypatch.setattr("dashboard.demo.setup.LOGINS_FILE", tmp_path / "logins.txt")
    yield
    pg.drop_database(settings.DEMO_DATABASE_NAME)


def test_demo_has_one_request_waiting_for_admins_approval(demo, client):
    call_command("load_demo")
    call_command("load_demo")  # idempotent: still one request
    project = Project.objects.get(slug="pagila")
    req = MigrationRequest.objects.get(project=project)
    revision = workflow.current_revision(req)
    assert req.created_by.username == "engineer" and req.state == "awaiting_approval"
    assert revision.sql.startswith("CREATE INDEX CONCURRENTLY")
    assert any(f["rule"] == "non-transactional" for f in revision.findings)  # linted
    rehearsal = workflow.latest_rehearsal(revision)
    assert rehearsal.status == "skipped" and "cannot run inside a transaction" in rehearsal.reason
    admin = get_user_model().objects.get(username="admin")
    assert workflow.approval_refusal(req, revision, admin) == ""
    client.force_login(admin)
    page = client.get(f"/projects/pagila/migrations/{req.pk}/").content.decode()
    assert "Approve revision 1" in page
    overview = client.get("/projects/pagila/").content.decode()
    assert 'id="recent-migrations"' in overview and "1 pending request" in overview
