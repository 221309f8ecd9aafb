"""Credentials are encrypted at rest, never rendered back and never logged or put in task arguments."""

import ipaddress

import pytest
from django.db import connection

from dashboard.models import Project, TaskRun
from dashboard.neon.tasks import sync_neon_project
from dashboard.projects.tasks import check_project_connection
from dashboard.targets import policy as host_policy

SECRET_URL = "postgresql://app:s3cr3t-pa55@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require"
API_KEY = "neon-api-key-very-secret-0123456789"


@pytest.fixture
def neon_project(team):
    return Project.objects.create(
        team=team,
        name="Neon",
        slug="neon",
        pooled_url=SECRET_URL,
        neon_project_id="cool-darkness-123456",
        neon_api_key=API_KEY,
    )


@pytest.fixture(autouse=True)
def neon_names_resolve(monkeypatch):
    """This machine has no DNS for Neon's hosts; answer for them as Neon's DNS would (a public address).

    The host policy refuses names that do not resolve, and these tests edit projects with Neon URLs.
    """
    real_resolve = host_policy.resolve

    def resolve(host):
        return [ipaddress.ip_address("203.0.113.7")] if host.endswith(".neon.tech") else real_resolve(host)

    monkeypatch.setattr(host_policy, "resolve", resolve)


def raw_row(pk):
    with connection.cursor() as cur:
        cur.execute("SELECT pooled_url, direct_url, neon_api_key FROM dashboard_project WHERE id = %s", [pk])
        return cur.fetchone()


def test_encrypted_columns_hold_no_plaintext(neon_project):
    pooled, direct, key = raw_row(neon_project.pk)
    assert "s3cr3t" not in pooled and "neon.tech" not in pooled
    assert API_KEY not in key
    assert pooled.startswith("gAAAA")  # a Fernet token
    assert direct == ""
    reloaded = Project.objects.get(pk=neon_project.pk)
    assert reloaded.pooled_url == SECRET_URL
    assert reloaded.neon_api_key == API_KEY


def test_direct_url_defaults_to_host_without_pooler(neon_project):
    assert "ep-cool-darkness-123456.us-east-2.aws.neon.tech" in neon_project.effective_direct_url
    assert "-pooler" not in neon_project.effective_direct_url


def test_pages_show_only_masked_urls(client_for, neon_project):
    client = client_for("admin")
    for url in ("/projects/neon/", "/projects/neon/edit/", "/projects/"):
        html = client.get(url).content.decode()
        assert "s3cr3t" not in html and API_KEY not in html, url
    assert "app:••••••@ep-cool-darkness-123456-pooler" in client.get("/projects/neon/").content.decode()


def test_editing_with_blank_secret_fields_keeps_stored_values(client_for, neon_project):
    client = client_for("admin")
    response = client.post(
        "/projects/neon/edit/", {"name": "Neon", "slug": "neon", "neon_project_id": "cool-darkness-123456"}
    )
    assert response.status_code == 302
    reloaded = Project.objects.get(pk=neon_project.pk)
    assert reloaded.pooled_url == SECRET_URL and reloaded.neon_api_key == API_KEY


def test_task_arguments_and_audit_hold_no_secrets(
    client_for, neon_project, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    for task in (check_project_connection, sync_neon_project):  # the check, and the sync for branch URIs
        monkeypatch.setattr(task, "apply_async", lambda *args, **kw: sent.append((args, kw)))
    client = client_for("admin")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/projects/neon/edit/",
            {
                "name": "Neon",
                "slug": "neon",
                "neon_project_id": "cool-darkness-123456",
                "pooled_url": SECRET_URL.replace("s3cr3t", "n3w"),
            },
        )
    assert len(sent) == 2 and all("s3cr3t" not in repr(call) and "n3w" not in repr(call) for call in sent)
    run_ids = sorted(str(pk) for pk in TaskRun.objects.values_list("pk", flat=True))
    assert sorted(kw["args"][0] for _, kw in sent) == run_ids
    event = neon_project.audit_events.get(action="project.update")
    assert event.detail == {"fields": ["pooled_url"]}
    assert "n3w" not in repr(event.detail)


def test_failed_check_logs_no_password(neon_project, caplog, settings):
    settings.TARGET_CONNECT_RETRIES = 0
    run = TaskRun.objects.create(kind="connection_check", project=neon_project)
    check_project_connection(str(run.pk))
    assert "s3cr3t" not in caplog.text
    run.refresh_from_db()
    assert "s3cr3t" not in run.error


def test_a_new_pooled_url_without_a_new_direct_url_drops_the_old_direct_url(client_for, neon_project):
    """Otherwise migrations would keep going to the old database while reads go to the new one."""
    neon_project.direct_url = SECRET_URL.replace("-pooler", "")
    neon_project.save()
    new_pooled = "postgresql://app:n3w@ep-new-place-654321-pooler.eu-central-1.aws.neon.tech/neondb"
    client = client_for("admin")
    response = client.post(
        "/projects/neon/edit/",
        {"name": "Neon", "slug": "neon", "neon_project_id": "cool-darkness-123456", "pooled_url": new_pooled},
    )
    assert response.status_code == 302
    reloaded = Project.objects.get(pk=neon_project.pk)
    assert reloaded.direct_url == ""
    assert reloaded.effective_direct_url == new_pooled.replace("-pooler", "")
    assert "ep-new-place-654321.eu-central-1" in client.get("/projects/neon/").content.decode()
    assert neon_project.audit_events.get(action="project.update").detail == {
        "fields": ["direct_url", "pooled_url"]
    }


def test_an_edit_keeping_the_pooled_url_keeps_the_stored_direct_url(client_for, neon_project):
    stored_direct = SECRET_URL.replace("-pooler", "").replace("s3cr3t", "d1rect")
    neon_project.direct_url = stored_direct
    neon_project.save()
    response = client_for("admin").post(
        "/projects/neon/edit/",
        {
            "name": "Renamed",
            "slug": "neon",
            "neon_project_id": "cool-darkness-123456",
            "pooled_url": SECRET_URL,
        },
    )
    assert response.status_code == 302
    assert Project.objects.get(pk=neon_project.pk).direct_url == stored_direct
