"""Queries journeys in real Chromium: explain a statement with a parameter, Back to a filtered list."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_viewer_explains_a_statement_with_a_parameter(login, live_server, users, project, target_url):
    from dashboard.models import QueryText
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
    # The plan of the statement with the bound value (index or table scan is the planner's choice).
    expect(page.locator("#plan .plan-text")).to_contain_text("on items")
    expect(page.locator("#plan .plan-text")).to_contain_text("(id = 2)")


def test_back_to_a_pushed_queries_url_without_htmx_history_cache_shows_the_whole_page(
    login, live_server, users, project, target_url
):
    """With no history cache, htmx asks the server for the URL it pushed (HX-History-Restore-Request)
    and puts the answer in place of the whole <body>: that answer must be the page, not the table."""
    page = login("viewer")
    page.goto(f"{live_server.url}/projects/shop/queries/")
    page.wait_for_function("window.htmx !== undefined")
    page.evaluate("htmx.config.historyCacheSize = 0")
    page.select_option("#window", "1h")  # the filter form swaps the table and pushes its URL
    page.wait_for_url("**/projects/shop/queries/?*window=1h*")
    page.select_option("#window", "7d")
    page.wait_for_url("**/projects/shop/queries/?*window=7d*")
    page.go_back()
    page.wait_for_url("**/projects/shop/queries/?*window=1h*")
    expect(page.locator("#window")).to_have_value("1h")
    expect(page.locator("h1")).to_have_text("Top statements")
    expect(page.locator("nav.projectnav")).to_contain_text("Queries")
    expect(page.locator("#statements")).to_contain_text("Last hour")


@pytest.mark.worker
def test_engineer_collects_now_and_sees_the_new_statement(
    login, live_server, users, project, target_url, celery_worker
):
    from dashboard.queries.collector import collect_project
    from tests.queries.conftest import run_workload

    collect_project(project)  # the baseline; the next scheduled snapshot is minutes away
    run_workload(target_url, {"SELECT count(*) FROM items WHERE name <> %s::text": 4})
    page = login("engineer")
    page.goto(f"{live_server.url}/projects/shop/queries/?window=1h")
    expect(page.locator("#statements")).not_to_contain_text("WHERE name <> $1::text")
    page.get_by_role("button", name="Collect now").click()
    expect(page.locator("#collector")).to_contain_text("Snapshot taken", timeout=30_000)
    expect(page.locator("#statements")).to_contain_text("WHERE name <> $1::text")
    expect(page.locator("#collector")).to_contain_text("the normal interval")


@pytest.mark.worker
def test_engineer_explains_on_a_temporary_branch_and_sees_the_plan_appear(
    login, live_server, users, neon_project, neon_standin, neon_worker
):
    from dashboard.models import QueryText
    from dashboard.neon.sync import sync_project
    from tests.neon.conftest import STANDIN_PROJECT

    sync_project(neon_project)
    QueryText.objects.create(project=neon_project, queryid=77, text="SELECT title FROM film WHERE title = $1")
    page = login("engineer")
    page.goto(f"{live_server.url}/projects/pagila-neon/queries/77/")
    page.fill("#param1", "ACE GOLDFINGER")
    page.get_by_role("button", name="EXPLAIN ANALYZE on a temporary branch").click()
    # The worker makes the branch; the partial (running when the POST answers) polls until the plan is there.
    expect(page.locator("#branch-explain .plan-text")).to_contain_text("Seq Scan on film", timeout=30_000)
    expect(page.locator("#branch-explain")).to_contain_text("deleted afterwards")
    assert [b["name"] for b in neon_standin.standin.branches_of(STANDIN_PROJECT)] == ["main"]
    # On production only with the tick: without it the page says so and runs nothing there.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="EXPLAIN ANALYZE on production").click()
    expect(page.locator("#plan")).to_contain_text("runs on a temporary branch by default")
