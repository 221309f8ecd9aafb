import pytest
from playwright.sync_api import expect

from tests.support import pg

pytestmark = pytest.mark.browser


def test_admin_registers_a_database_and_sees_the_check_succeed(
    login, live_server, users, target_db, celery_worker
):
    page = login("admin")
    page.click("text=Register a project")
    page.fill("#id_name", "Orders DB")
    page.fill("#id_pooled_url", pg.url_for(target_db))
    page.get_by_role("button", name="Register and check connection").click()
    page.wait_for_url(f"{live_server.url}/projects/orders-db/")
    # The check runs on the real worker; htmx polling brings the result in.
    expect(page.locator("#check-status")).to_contain_text("Reachable", timeout=20_000)
    expect(page.locator("#check-status")).to_contain_text("installed and readable")
    expect(page.locator(".messages")).to_contain_text("registered")


def test_admin_sees_a_clear_message_for_a_wrong_password(login, live_server, users, target_db, celery_worker):
    page = login("admin")
    page.goto(f"{live_server.url}/projects/new/")
    page.fill("#id_name", "Broken")
    page.fill("#id_pooled_url", pg.url_for(target_db, password="wrong-password"))
    page.get_by_role("button", name="Register and check connection").click()
    expect(page.locator("#check-status")).to_contain_text("Authentication failed", timeout=20_000)


def test_viewer_finds_no_way_to_register(login, live_server, users, project):
    page = login("viewer")
    expect(page.locator("text=Shop")).to_be_visible()
    expect(page.locator("text=Register a project")).to_have_count(0)
    response = page.goto(f"{live_server.url}/projects/new/")
    assert response.status == 403
