"""In Chromium: an admin creates a branch, sees it become ready, and deletes it (real worker, stand-in)."""

import pytest
from playwright.sync_api import expect

from dashboard.neon.sync import sync_project

pytestmark = pytest.mark.browser


def test_admin_creates_a_branch_sees_it_ready_and_deletes_it(
    login, live_server, users, neon_project, neon_worker
):
    sync_project(neon_project)
    page = login("admin")
    page.goto(f"{live_server.url}/projects/pagila-neon/branches/")
    expect(page.locator('tr[data-branch="main"]')).to_contain_text("default")

    page.fill("#id_name", "feature-browser")
    page.get_by_role("button", name="Create branch").click()
    expect(page.locator(".messages")).to_contain_text("Create branch: feature-browser")
    # The worker waits on Neon's operations; the progress partial polls and then refreshes the table.
    row = page.locator('tr[data-branch="feature-browser"]')
    expect(row).to_contain_text("ready", timeout=20_000)
    expect(row.locator(".compute-state")).to_have_text("active")
    expect(page.locator("#neon-tasks")).to_contain_text("Succeeded")

    row.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading")).to_contain_text("Delete branch feature-browser?")
    page.fill("#confirm_name", "feature-browser")
    page.get_by_role("button", name="Delete branch").click()
    expect(page.locator(".messages")).to_contain_text("Delete branch: feature-browser")
    expect(page.locator('tr[data-branch="feature-browser"]')).to_have_count(0, timeout=20_000)
    expect(page.locator('tr[data-branch="main"]')).to_be_visible()


def test_engineer_and_viewer_get_no_branch_actions(login, live_server, users, neon_project):
    sync_project(neon_project)
    for who in ("viewer", "engineer"):
        page = login(who)
        page.goto(f"{live_server.url}/projects/pagila-neon/branches/")
        expect(page.locator('tr[data-branch="main"]')).to_be_visible()
        expect(page.locator("#create-branch")).to_have_count(0)
        expect(page.get_by_role("link", name="Delete")).to_have_count(0)
        main_id = neon_project.neon_branches.get(is_default=True).branch_id
        csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
        response = page.request.post(
            f"{live_server.url}/projects/pagila-neon/branches/new/",
            form={"parent_id": main_id, "name": "sneaky"},
            headers={"X-CSRFToken": csrf},
        )
        assert response.status == 403
        assert "needs the admin role" in response.text()  # refused for the role, not for a missing token
        page.context.clear_cookies()


def test_engineer_wakes_an_idle_compute_from_the_overview(
    login, live_server, users, neon_project, neon_standin, neon_worker
):
    from dashboard.models import NeonCompute
    from tests.neon.test_sync import suspend

    neon_standin.standin.cold_start_failures = 1
    sync_project(neon_project)
    suspend(neon_standin, NeonCompute.objects.get(project=neon_project).endpoint_id)
    sync_project(neon_project)
    page = login("engineer")
    page.goto(f"{live_server.url}/projects/pagila-neon/")
    card = page.locator("#neon-overview")
    expect(card.locator(".compute-state")).to_have_text("idle")
    card.get_by_role("button", name="Wake compute").click()
    expect(page.locator(".messages")).to_contain_text("Wake compute: main")
    row = page.locator('tr[data-branch="main"]')
    expect(row.locator(".compute-state")).to_have_text("active", timeout=20_000)
    expect(row).to_contain_text("(2 attempts)")  # the cold start was retried and timed
    page.goto(f"{live_server.url}/projects/pagila-neon/")
    expect(card).to_contain_text("connected in")
