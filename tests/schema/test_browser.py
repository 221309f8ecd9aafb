"""In real Chromium: hostile names never run as script, Refresh works through the worker, search updates live."""

import pytest
from playwright.sync_api import expect

from dashboard.schema.converters import table_url
from tests.schema.test_hostile_names import HOSTILE_SCHEMA, HOSTILE_SQL, SCRIPT

pytestmark = pytest.mark.browser

SENTINEL_SQL = (
    """COMMENT ON TABLE public."a/b" IS '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'""",
    """CREATE TABLE public."<svg onload=window.__pwned=3>" (id int)""",
)


def watch_for_script(page) -> list:
    """Collect any dialog (alert) the page opens; the payloads in the target would open one if they ran."""
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def assert_no_script_ran(page, dialogs) -> None:
    assert dialogs == []
    assert page.evaluate("window.__pwned") is None


def test_hostile_catalog_names_never_run_as_script(
    login, live_server, users, project, target_sql, celery_worker
):
    target_sql(*HOSTILE_SQL, *SENTINEL_SQL)
    page = login("engineer")
    dialogs = watch_for_script(page)
    page.goto(f"{live_server.url}/projects/shop/schema/")
    expect(page.locator(".empty")).to_contain_text("No schema snapshot has been taken")
    page.get_by_role("button", name="Refresh snapshot").click()
    # The real worker captures the snapshot; htmx polls the status until it is done.
    expect(page.locator("#schema-refresh")).to_contain_text("Reload to see snapshot v1", timeout=30_000)
    page.get_by_role("link", name="Reload to see snapshot v1").click()
    relations = page.locator("#relations")
    expect(relations).to_contain_text(SCRIPT)
    expect(relations).to_contain_text("<svg onload=window.__pwned=3>")
    assert_no_script_ran(page, dialogs)

    # The hostile table's link opens its page; the name is shown as text.
    page.locator("#relations a", has_text=SCRIPT).click()
    page.wait_for_url(f"{live_server.url}{table_url('shop', HOSTILE_SCHEMA, SCRIPT)}")
    expect(page.locator("h1")).to_contain_text(f"{HOSTILE_SCHEMA}.{SCRIPT}")
    expect(page.locator("main")).to_contain_text("<script>alert(3)</script>")  # the table comment, as text
    assert_no_script_ran(page, dialogs)

    # The incoming foreign key from public."a/b" (name with a slash) links to the right page.
    page.locator("a", has_text="public.a/b").first.click()
    expect(page.locator("h1")).to_contain_text("public.a/b")
    expect(page.locator("main")).to_contain_text('<img src=x onerror="window.__pwned=1">')
    assert_no_script_ran(page, dialogs)

    # A table named ".." keeps its own page (the browser must not resolve it as a dot segment).
    page.goto(f"{live_server.url}/projects/shop/schema/?schema=public")
    page.locator(f'#relations a[href="{table_url("shop", "public", "..")}"]').click()
    expect(page.locator("h1")).to_contain_text("public...")
    assert page.url.endswith(table_url("shop", "public", ".."))

    page.goto(f"{live_server.url}/projects/shop/schema/advice/")
    expect(page.locator("main")).to_contain_text("no-primary-key")
    assert_no_script_ran(page, dialogs)


def test_search_box_filters_the_relations_as_you_type(
    login, live_server, users, project, target_sql, snapshot
):
    target_sql("CREATE TABLE customers (id int PRIMARY KEY)", "CREATE TABLE orders (id int PRIMARY KEY)",
               "CREATE TABLE order_lines (id int PRIMARY KEY)")  # fmt: skip
    snapshot()
    page = login("viewer")
    page.goto(f"{live_server.url}/projects/shop/schema/")
    expect(page.locator("#relations")).to_contain_text("3 relations")
    page.fill("#q", "order")
    expect(page.locator("#relations")).to_contain_text("2 relations match the filters")
    expect(page.locator("#relations")).not_to_contain_text("customers")
