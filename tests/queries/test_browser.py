"""On-call journeys in real Chromium: live activity refreshes itself, cancel with confirmation, health refresh."""

import pytest
from playwright.sync_api import expect

from tests.queries.test_activity import BlockedUpdate

pytestmark = pytest.mark.browser


def test_engineer_sees_a_block_appear_and_cancels_the_waiter(login, live_server, users, project, target_url):
    page = login("engineer")
    page.goto(f"{live_server.url}/projects/shop/activity/")
    expect(page.locator("#sessions")).to_contain_text("No session is running a query")
    blocked = BlockedUpdate(target_url)  # happens after the page loaded: htmx polling must bring it in
    try:
        tree = page.locator("#blocking")
        expect(tree).to_contain_text(f"blocked by {blocked.holder_pid}", timeout=15_000)
        page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm
        row = page.locator("#blocking tr.blocked")
        row.get_by_role("link", name="Cancel").click()
        expect(page.locator("#sessions .messages")).to_contain_text(
            f"Cancelled the query of {blocked.waiter_pid}"
        )
        blocked.thread.join(5)
        assert blocked.error is not None and "canceling statement" in str(blocked.error)
    finally:
        blocked.close()


def test_engineer_refreshes_health_tiles_on_the_overview(login, live_server, users, project, target_url):
    page = login("engineer")
    page.goto(f"{live_server.url}/projects/shop/")
    expect(page.locator("#health")).to_contain_text("No health check yet")
    page.locator("#health").get_by_role("button", name="Refresh").click()
    expect(page.locator("#health .tile")).to_have_count(9)
    expect(page.locator("#health")).to_contain_text("Transaction ID wraparound")
    page.locator("#health .tile", has_text="Connections").click()
    page.wait_for_url(f"{live_server.url}/projects/shop/activity/")


def test_viewer_explains_a_statement_with_a_parameter(login, live_server, users, project, target_url):
    from dashboard.models.queries import QueryText
    from dashboard.queries.collector import collect_project
    from tests.queries.conftest import run_workload

    collect_project(project)
    run_workload(target_url, {"SELECT name FROM items WHERE id = %s": 3})
    collect_project(project)
    queryid = QueryText.objects.get(project=project, text__contains="items WHERE id").queryid
    page = login("viewer")
    page.goto(f"{live_server.url}/projects/shop/queries/?window=1h")
    page.get_by_role("link", name="SELECT name FROM items WHERE id = $1").click()
    page.wait_for_url(f"{live_server.url}/projects/shop/queries/{queryid}/?window=1h")
    expect(page.locator("text=EXPLAIN ANALYZE needs the engineer role")).to_be_visible()
    page.fill("#param1", "oops")
    page.get_by_role("button", name="EXPLAIN with these values").click()
    expect(page.locator("#plan")).to_contain_text("invalid input syntax for type integer")
    page.fill("#param1", "2")
    page.get_by_role("button", name="EXPLAIN with these values").click()
    expect(page.locator("#plan")).to_contain_text("Index Scan using items_pkey")
