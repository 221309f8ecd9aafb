"""In real Chromium: the demo's main pages load without a console error or a failed request (a 404 included)."""

import pytest

from dashboard.models import Project
from dashboard.neon.sync import sync_project
from dashboard.queries.collector import collect_project
from tests.support import pg

pytestmark = pytest.mark.browser

PAGES = ("/", "/schema/", "/queries/", "/activity/")


def test_the_demo_pages_log_no_console_error_and_no_failed_request(
    login, live_server, users, team, pagila_db, neon_project
):
    pagila = Project.objects.create(team=team, name="Pagila", slug="pagila", pooled_url=pg.url_for(pagila_db))
    collect_project(pagila)
    sync_project(neon_project)
    problems = []
    page = login("engineer")
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    urls = [f"/projects/pagila{path}" for path in PAGES] + ["/projects/pagila-neon/branches/", "/favicon.ico"]
    for url in urls:
        page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
    assert problems == []
