"""In real Chromium: an engineer refreshes the health tiles on the overview and follows one."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_engineer_refreshes_health_tiles_on_the_overview(login, live_server, users, project, target_url):
    page = login("engineer")
    page.goto(f"{live_server.url}/projects/shop/")
    expect(page.locator("#health")).to_contain_text("No health check yet")
    page.locator("#health").get_by_role("button", name="Refresh").click()
    expect(page.locator("#health .tile")).to_have_count(9)
    expect(page.locator("#health")).to_contain_text("Transaction ID wraparound")
    page.locator("#health .tile", has_text="Connections").click()
    page.wait_for_url(f"{live_server.url}/projects/shop/activity/")
