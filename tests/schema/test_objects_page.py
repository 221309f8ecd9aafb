"""The other-objects page: schemas, sequences with range used, enums, domains, composites, functions, extensions."""

import html

import pytest

pytestmark = pytest.mark.django_db

OBJECTS_SQL = (
    "CREATE SCHEMA app",
    "COMMENT ON SCHEMA app IS '<b>the</b> app'",
    """CREATE TYPE app.mood AS ENUM ('sad', '<script>alert(1)</script>')""",
    "CREATE DOMAIN app.positive AS int CHECK (VALUE > 0)",
    "CREATE TYPE app.pair AS (a int, b text)",
    "CREATE TABLE app.orders (id serial PRIMARY KEY)",
    "SELECT setval('app.orders_id_seq', 1610612736)",  # 75% of the integer range
    "CREATE FUNCTION app.add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'",
)


def test_objects_page_lists_every_kind_escaped_with_links(client_for, project, target_sql, snapshot):
    target_sql(*OBJECTS_SQL)
    snapshot()
    page = client_for("viewer").get("/projects/shop/schema/objects/").content.decode()
    assert "<script>alert(1)</script>" not in page and "<b>the</b>" not in page
    assert f"<code>{html.escape('<script>alert(1)</script>')}</code>" in page
    assert "&lt;b&gt;the&lt;/b&gt; app" in page
    assert "<td>app.orders_id_seq</td><td>integer</td>" in page
    assert '<td class="num">75.0%</td>' in page
    assert '<a href="/projects/shop/schema/app/orders/">app.orders</a>.id (serial)' in page
    assert "<code>integer</code> <code>CHECK (VALUE &gt; 0)</code>" in page
    assert "<code>a integer</code>, <code>b text</code>" in page
    assert "<code>app.add(a integer, b integer)</code>" in page
    assert "<td>pg_stat_statements</td>" in page


def test_objects_page_without_snapshot(client_for, project):
    page = client_for("viewer").get("/projects/shop/schema/objects/").content.decode()
    assert "No schema snapshot has been taken" in page
