"""In Chromium: engineer drafts, sees lint and the rehearsal, admin approves, engineer applies, and the
history shows it (real worker, real target database)."""

import pytest
from playwright.sync_api import expect

from dashboard.schema.snapshots import capture_snapshot
from tests.support import pg

pytestmark = pytest.mark.browser

SQL = "ALTER TABLE customer ADD COLUMN loyalty_points bigint;\nUPDATE customer SET loyalty_points = 0 WHERE id < 3;"


def test_engineer_drafts_admin_approves_engineer_applies(
    login, live_server, users, project, target_db, celery_worker
):
    with pg.admin_connect(target_db) as conn:
        conn.execute(
            "CREATE TABLE customer (id bigint PRIMARY KEY); INSERT INTO customer SELECT generate_series(1, 5)"
        )
    capture_snapshot(project)  # sizes for the rehearsal rule
    base = f"{live_server.url}/projects/shop/migrations/"

    page = login("engineer")
    page.goto(base)
    page.get_by_role("link", name="Draft a migration").click()
    page.fill("#id_title", "Loyalty points")
    page.fill("#id_sql", SQL)
    page.get_by_role("button", name="Submit for lint and rehearsal").click()
    expect(page.locator("#statement-1")).to_contain_text("ALTER TABLE customer ADD COLUMN loyalty_points")
    page.evaluate("window.stillTheSamePage = true")  # gone if the page reloaded
    # The rehearsal runs on the worker; the page polls until its report is in, then swaps in the rest.
    expect(page.locator("#rehearsal-status")).to_have_text("Succeeded", timeout=30_000)
    expect(page.locator("#rehearsal-report")).to_contain_text("AccessExclusiveLock")
    expect(page.locator("#request-state")).to_have_text("Awaiting approval")
    expect(page.locator("#statement-1 .rehearsed")).to_contain_text("AccessExclusiveLock")
    expect(page.locator("#statement-2 .rehearsed")).to_contain_text("2 rows")
    assert page.evaluate("window.stillTheSamePage === true")
    page.context.clear_cookies()

    page = login("admin")
    page.goto(base)
    page.get_by_role("link", name="Loyalty points").click()
    page.fill("#approve-comment", "Rehearsal looks fine")
    page.get_by_role("button", name="Approve revision 1").click()
    expect(page.locator(".messages")).to_contain_text("You approved revision 1.")
    expect(page.locator("#request-state")).to_have_text("Approved")
    page.context.clear_cookies()

    page = login("engineer")
    page.goto(base)
    page.get_by_role("link", name="Loyalty points").click()
    page.get_by_role("button", name="Apply to default branch").click()
    expect(page.locator(".messages")).to_contain_text("The apply has started")
    expect(page.locator("#request-state")).to_have_text("Applied", timeout=30_000)
    expect(page.locator("#runs")).to_contain_text("statements 1-2: applied")
    page.goto(base)
    history = page.locator("#history")
    expect(history).to_contain_text("Loyalty points")
    expect(history).to_contain_text("Applied")
    expect(history.locator("td").nth(3)).to_have_text("engineer")
    expect(history.locator("td").nth(4)).to_have_text("admin")
    with pg.admin_connect(target_db) as conn:
        assert conn.execute("SELECT sum(loyalty_points) FROM customer").fetchone()[0] == 0
