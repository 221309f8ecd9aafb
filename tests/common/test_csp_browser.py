"""In real Chromium: the main pages of a project load without a single Content Security Policy violation,
and the behaviour moved out of inline handlers (confirmations, the branch picker) still works."""

import pytest
from playwright.sync_api import expect

from dashboard.neon.sync import sync_project
from dashboard.schema.snapshots import capture_snapshot
from tests.conftest import wait_until
from tests.neon.conftest import STANDIN_PROJECT

pytestmark = pytest.mark.browser

PROJECT_PAGES = ["/projects/", "/projects/{slug}/", "/projects/{slug}/schema/", "/projects/{slug}/schema/public/film/",
                 "/projects/{slug}/schema/advice/", "/projects/{slug}/schema/objects/", "/projects/{slug}/schema/diff/",
                 "/projects/{slug}/queries/", "/projects/{slug}/activity/", "/projects/{slug}/health/",
                 "/projects/{slug}/audit/", "/projects/{slug}/branches/", "/teams/"]  # fmt: skip


def watch_policy(page) -> list[str]:
    """Every console message and page error that reports a Content Security Policy violation."""
    seen = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def test_main_pages_of_a_project_load_without_policy_violations(login, live_server, users, neon_project):
    sync_project(neon_project)
    capture_snapshot(neon_project)
    page = login("admin")
    violations = watch_policy(page)
    for url in PROJECT_PAGES:
        response = page.goto(live_server.url + url.format(slug=neon_project.slug))
        assert response.status == 200, url
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    assert violations == []
    # htmx loaded and took its settings from the meta tag (no inline <style> it would have to add).
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False


def test_confirmation_and_branch_picker_work_without_inline_handlers(
    login, live_server, users, neon_project, neon_standin, standin_db
):
    neon_standin.standin.create_branch(
        STANDIN_PROJECT, {"branch": {"name": "dev"}, "endpoints": [{"type": "read_write"}]}
    )
    wait_until(
        lambda: (
            sync_project(neon_project) is not None and neon_project.neon_branches.filter(name="dev").exists()
        )
    )
    page = login("admin")
    violations = watch_policy(page)

    page.goto(f"{live_server.url}/projects/pagila-neon/schema/")
    page.select_option("#branch-picker", "dev")
    page.wait_for_url("**/schema/?branch=dev")
    expect(page.locator("#branch-picker")).to_have_value("dev")

    page.goto(f"{live_server.url}/projects/pagila-neon/branches/")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.locator('tr[data-branch="main"]').get_by_role("button", name="Suspend").click()
    wait_until(lambda: questions)
    assert questions == ["Suspend the compute of main? Open sessions are terminated."]
    expect(page).to_have_url(f"{live_server.url}/projects/pagila-neon/branches/")  # dismissed: nothing sent
    assert not neon_project.task_runs.exists()
    assert violations == []
