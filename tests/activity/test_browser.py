"""On-call journey in real Chromium: live activity refreshes itself, cancel with confirmation."""

import pytest
from playwright.sync_api import expect

from tests.activity.test_activity import BlockedUpdate

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
