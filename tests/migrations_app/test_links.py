"""Links, forms, polling and redirects of the migration pages come from the URL map (route names),
never from hand-built paths: mounted under /ops/, every one of them follows."""

import re

import pytest

from dashboard.models import AuditEvent
from migrations_app.models import ApplyOutcome, ApplyRun
from tests.migrations_app.workflow_support import draft, rehearsed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.migrations_app.prefixed_urls")]

LINK = re.compile(r'(?:href|action|hx-get|hx-post)="([^"]*)"')


def project_links(html: str) -> list[str]:
    return [link for link in LINK.findall(html) if "projects" in link]


def assert_all_prefixed(html: str) -> None:
    links = project_links(html)
    assert links, "the page has no project links at all"
    assert [link for link in links if not link.startswith("/ops/projects/")] == []


def test_request_page_links_forms_and_polling_follow_the_url_map(client_for, project, users):
    req = draft(project, users["engineer"])  # rehearsal queued: the page polls its progress
    html = client_for("admin").get(f"/ops/projects/shop/migrations/{req.pk}/").content.decode()
    assert f'hx-get="/ops/projects/shop/migrations/{req.pk}/progress/"' in html
    assert f'action="/ops/projects/shop/migrations/{req.pk}/cancel/"' in html
    assert_all_prefixed(html)


def test_review_and_apply_forms_follow_the_url_map(client_for, project, users):
    req = rehearsed(draft(project, users["engineer"]))
    admin_page = client_for("admin").get(f"/ops/projects/shop/migrations/{req.pk}/").content.decode()
    assert f'action="/ops/projects/shop/migrations/{req.pk}/approve/"' in admin_page
    assert f'action="/ops/projects/shop/migrations/{req.pk}/reject/"' in admin_page
    assert_all_prefixed(admin_page)
    response = client_for("admin").post(f"/ops/projects/shop/migrations/{req.pk}/approve/")
    assert response.status_code == 302 and response.url == f"/ops/projects/shop/migrations/{req.pk}/"
    engineer_page = client_for("engineer").get(response.url).content.decode()
    assert f'action="/ops/projects/shop/migrations/{req.pk}/apply/"' in engineer_page
    assert f'href="/ops/projects/shop/migrations/{req.pk}/edit/"' in engineer_page
    assert_all_prefixed(engineer_page)


def test_list_form_and_overview_links_follow_the_url_map(client_for, project, users):
    req = draft(project, users["engineer"])
    client = client_for("engineer")
    listing = client.get("/ops/projects/shop/migrations/").content.decode()
    assert f'href="/ops/projects/shop/migrations/{req.pk}/"' in listing
    assert 'href="/ops/projects/shop/migrations/new/"' in listing
    assert_all_prefixed(listing)
    assert_all_prefixed(client.get("/ops/projects/shop/migrations/new/").content.decode())
    assert_all_prefixed(client.get(f"/ops/projects/shop/migrations/{req.pk}/edit/").content.decode())
    run = ApplyRun.objects.create(
        revision=req.revisions.get(), checksum="x", outcome=ApplyOutcome.APPLIED, started_by=users["engineer"]
    )
    run.finished_at = run.created_at
    run.save()
    overview = client.get("/ops/projects/shop/").content.decode()
    assert f'href="/ops/projects/shop/migrations/{req.pk}/"' in overview


def test_a_new_request_and_a_refused_step_redirect_through_the_url_map(client_for, project, users):
    client = client_for("engineer")
    response = client.post(
        "/ops/projects/shop/migrations/new/", {"title": "T", "sql": "CREATE TABLE t (id int);"}
    )
    assert response.status_code == 302 and re.fullmatch(r"/ops/projects/shop/migrations/\d+/", response.url)
    refused = client.post(response.url + "apply/")  # not approved: refused with a message
    assert refused.status_code == 302 and refused.url == response.url
    assert AuditEvent.objects.filter(action="migration.apply", outcome="denied").exists()
