"""The demo opens with one request on `pagila`: drafted by engineer from the advisor's finding
(CREATE INDEX CONCURRENTLY for a foreign key), linted, through the rehearsal rule, awaiting admin;
`pagila-neon` gets the same request once registered, rehearsed by the worker on a temporary branch."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings

from dashboard.models import Membership, Project, Role, Team
from dashboard.neon import demo as neon_demo
from migrations_app.models import MigrationRequest
from migrations_app.services import workflow
from tests.conftest import make_user, wait_until
from tests.neon.conftest import STANDIN_KEY, STANDIN_PROJECT
from tests.support import pg
from tests.support.celery_worker import flush_broker, start_worker, stop_worker

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


NEON_DEMO_SCHEMA = "CREATE TABLE rental (rental_id int PRIMARY KEY, film_id int NOT NULL REFERENCES film);"


@pytest.mark.worker
def test_the_registered_neon_demo_request_is_rehearsed_on_a_temporary_branch_deleted_afterwards(
    transactional_db, neon_standin, standin_db, tmp_path, monkeypatch, client
):
    """As `make run` does: `neon_demo register` drafts the request, then the worker starts and rehearses it."""
    with pg.admin_connect(standin_db) as conn:
        conn.execute(NEON_DEMO_SCHEMA)
    key_file = tmp_path / "neon-standin.key"
    key_file.write_text(STANDIN_KEY)
    monkeypatch.setattr(neon_demo, "KEY_FILE", key_file)
    monkeypatch.setattr(neon_demo, "STANDIN_DATABASE", standin_db)
    monkeypatch.setattr(neon_demo, "STANDIN_PROJECT_ID", STANDIN_PROJECT)
    team = Team.objects.create(name="demo", slug="demo")
    for name, role in (("engineer", Role.ENGINEER), ("admin", Role.ADMIN)):
        Membership.objects.create(team=team, user=make_user(name), role=role)
    flush_broker()
    with override_settings(NEON_API_BASE_URL=neon_standin.base_url):
        call_command("neon_demo", "register")
        call_command("neon_demo", "register")  # idempotent: still one request
    monkeypatch.setenv("NEON_API_BASE_URL", neon_standin.base_url)
    worker = start_worker(flush=False)  # the rehearsal task waits in the broker until now
    try:
        rehearsal, req = _rehearsed_demo_request()
    finally:
        stop_worker(worker)
    assert rehearsal.status == "succeeded", rehearsal.reason
    assert rehearsal.method == "neon-branch" and rehearsal.temp_branch_id.startswith("br-")
    [row] = rehearsal.report["statements"]
    assert row["note"] == "" or "lock" in row["note"]  # sampled through a second connection
    assert any(o["label"].startswith("public.rental") for o in rehearsal.diff)
    remaining = [b["id"] for b in neon_standin.standin.branches_of(STANDIN_PROJECT)]
    assert rehearsal.temp_branch_id not in remaining  # deleted again
    assert [b["name"] for b in neon_standin.standin.branches_of(STANDIN_PROJECT)][0] == "main"
    req.refresh_from_db()
    assert req.state == "awaiting_approval"
    client.force_login(get_user_model().objects.get(username="admin"))
    page = client.get(f"/projects/pagila-neon/migrations/{req.pk}/").content.decode()
    assert f"on a temporary Neon branch <code>{rehearsal.temp_branch_id}</code>" in page
    assert 'id="rehearsal-report"' in page and "Approve revision 1" in page


def _rehearsed_demo_request():
    req = MigrationRequest.objects.get(project__slug="pagila-neon")
    assert req.title == "Index the foreign key of public.rental"
    revision = workflow.current_revision(req)
    assert revision.sql.startswith("CREATE INDEX CONCURRENTLY") and "film_id" in revision.sql

    def rehearsed():  # the task run ends once the temporary branch is deleted
        found = workflow.latest_rehearsal(revision)
        return found if found.task_run.is_finished else None

    return wait_until(rehearsed, timeout=120), req
