"""The timeline on /projects/<slug>/migrations/: every tool's entries and the schema versions, newest first."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.migrations_app.history_fixtures import create_tool_table, page, prisma, run_sql, snapshot

pytestmark = pytest.mark.django_db

URL = "/projects/shop/migrations/"
FLYWAY_ROW = """INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum,
    installed_by, installed_on, execution_time, success)
VALUES (%s, %s, %s, 'SQL', 'V.sql', 1, 'ci', %s, 10, true)"""


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 5, day, hour, tzinfo=UTC)


@pytest.fixture
def three_tools(project, target_db):
    """Prisma, Flyway and Django rows with known apply times, interleaved across tools."""
    for tool in ("prisma", "flyway", "django"):
        create_tool_table(target_db, tool)
    prisma(target_db, "20240501_init", at=at(1))
    prisma(target_db, "20240504_orders", at=at(4))
    run_sql(target_db, FLYWAY_ROW, params=[1, "1", "reports", "2024-05-02 12:00"])
    run_sql(target_db, FLYWAY_ROW, params=[2, "2", "report index", "2024-05-05 12:00"])
    run_sql(target_db, "INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0001_initial', %s)",
            params=[at(3)])  # fmt: skip
    return target_db


def rows(html: str) -> list[str]:
    """The timeline's rows (their HTML), in page order."""
    body = html.split('id="timeline"', 1)[1].split("</tbody>", 1)[0]
    return body.split("<tr")[2:]


def order_of(html: str, *needles: str) -> list[int]:
    found = rows(html)
    return [next(i for i, row in enumerate(found) if needle in row) for needle in needles]


def test_timeline_shows_every_tool_and_the_snapshots_newest_first(
    client_for, project, three_tools, target_db
):
    snapshot(project)
    run_sql(target_db, "CREATE TABLE refunds (id int PRIMARY KEY)", "CREATE INDEX ON refunds (id)")
    prisma(target_db, "20240601_refunds")  # finished now, between the two snapshots
    snapshot(project)
    html = page(client_for("viewer"), URL)
    needles = ("<strong>v2</strong>", "20240601_refunds", "<strong>v1</strong>", "<code>2</code>",
               "20240504_orders", "shop.0001_initial", "<code>1</code>", "20240501_init")  # fmt: skip
    positions = order_of(html, *needles)
    assert positions == sorted(positions), rows(html)
    assert "+1 table" in html  # the diff summary of v2 against v1
    assert 'href="/projects/shop/schema/diff/?from=1&amp;to=2"' in html
    assert "first snapshot" in html and "explained by 1 migration" in html
    for label in ("Prisma", "Flyway", "Django"):
        assert f"<td>{label}</td>" in html


def test_filter_by_tool_shows_only_that_tool(client_for, project, three_tools):
    snapshot(project)
    html = page(client_for("viewer"), URL + "?tool=prisma")
    found = rows(html)
    assert len(found) == 2 and all("<td>Prisma</td>" in row for row in found)
    schema_only = rows(page(client_for("viewer"), URL + "?tool=schema"))
    assert len(schema_only) == 1 and "Schema version" in schema_only[0]
    assert 'href="?tool=flyway"' in html  # the filter links


def test_an_unknown_tool_filter_says_so_and_shows_everything(client_for, project, three_tools):
    snapshot(project)
    html = page(client_for("viewer"), URL + "?tool=%3Cscript%3Ex")
    assert "There is no tool “&lt;script&gt;x”" in html and "<script>x" not in html
    assert len(rows(html)) == 6


def test_the_timeline_is_paged(client_for, project, target_db, settings):
    settings.MIGRATION_HISTORY_PAGE_SIZE = 5
    create_tool_table(target_db, "prisma")
    for day in range(1, 13):
        prisma(target_db, f"202405{day:02d}_step", at=at(day))
    snapshot(project)
    first = page(client_for("viewer"), URL + "?tool=prisma")
    assert order_of(first, "20240512_step", "20240508_step") == [0, 4] and len(rows(first)) == 5
    assert "Page 1 of 3" in first and 'href="?tool=prisma&amp;tpage=2"' in first
    last = page(client_for("viewer"), URL + "?tool=prisma&tpage=3")
    assert len(rows(last)) == 2 and "20240501_step" in last


def test_times_that_are_not_apply_times_are_labelled(client_for, project, target_db):
    create_tool_table(target_db, "drizzle_old")
    run_sql(
        target_db,
        "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('abc123', 1714564800000)",
    )
    create_tool_table(target_db, "alembic")
    run_sql(target_db, "INSERT INTO alembic_version VALUES ('4f2e8a1b')")
    snapshot(project)
    html = page(client_for("viewer"), URL)
    drizzle = rows(html)[order_of(html, "abc123")[0]]
    assert (
        "the migration&#x27;s own time, not when it was applied" in drizzle and "2024-05-01 12:00" in drizzle
    )
    alembic = rows(html)[order_of(html, "4f2e8a1b")[0]]
    assert "the tool records no time" in alembic


def test_hostile_tool_rows_are_escaped(client_for, project, target_db):
    create_tool_table(target_db, "prisma")
    create_tool_table(target_db, "django")
    hostile = "<script>alert('x')</script> \"quoted\" ünïcødé ☃"
    prisma(target_db, hostile, failed=True, logs="<img src=x onerror=alert(1)>")
    run_sql(target_db, "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, now())",
            params=["<b>app</b>", "0001_'; DROP TABLE x; --"])  # fmt: skip
    snapshot(project)
    html = page(client_for("viewer"), URL)
    assert "<script>alert" not in html and "<b>app</b>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &quot;quoted&quot; ünïcødé ☃" in html
    assert "&lt;b&gt;app&lt;/b&gt;.0001_&#x27;; DROP TABLE x; --" in html
    overview = page(client_for("viewer"), "/projects/shop/")
    assert "<script>alert" not in overview and "&lt;script&gt;alert" in overview


def count_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        page(client, URL)
    return len(queries)


def test_the_page_takes_a_fixed_number_of_queries_whatever_the_number_of_entries(
    client_for, project, target_db
):
    create_tool_table(target_db, "prisma")
    create_tool_table(target_db, "flyway")
    prisma(target_db, "20240501_one", at=at(1))
    snapshot(project)
    run_sql(target_db, "CREATE TABLE extra0 (id int)")
    snapshot(project)
    client = client_for("viewer")
    page(client, URL)  # the first view computes and keeps the versions' diff summaries
    few = count_queries(client)
    for day in range(2, 30):
        prisma(target_db, f"202405{day:02d}_more", at=at(day))
        run_sql(target_db, FLYWAY_ROW, params=[day, str(day), f"step {day}", f"2024-05-{day:02d} 13:00"])
    run_sql(target_db, "CREATE TABLE extra (id int)")
    snapshot(project)
    run_sql(target_db, "CREATE TABLE extra2 (id int)")
    snapshot(project)
    page(client, URL)
    assert count_queries(client) == few
