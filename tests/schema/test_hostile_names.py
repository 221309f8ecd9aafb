"""Names and comments in the target are data: always escaped, always linked correctly."""

import html
import re

import pytest

from dashboard.schema.converters import table_url

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
HOSTILE_SCHEMA = 'we"ird <b>schema</b>'
HOSTILE_TABLES = [SCRIPT, "a/b", "100% off", "Ünïcødé 表", "with 'quote' and \"dq\"", "x%2Fy", "..", "."]
HOSTILE_SQL = (
    'CREATE SCHEMA "we""ird <b>schema</b>"',
    'CREATE TABLE "we""ird <b>schema</b>"."<script>alert(1)</script>" ('
    ' "<img src=x onerror=alert(2)>" int PRIMARY KEY, "; DROP TABLE x; --" text)',
    """COMMENT ON TABLE "we""ird <b>schema</b>"."<script>alert(1)</script>" IS '<script>alert(3)</script>'""",
    """COMMENT ON COLUMN "we""ird <b>schema</b>"."<script>alert(1)</script>"."; DROP TABLE x; --"
       IS '</code><script>alert(4)</script>'""",
    'CREATE TABLE public."a/b" (id int PRIMARY KEY,'
    ' parent int REFERENCES "we""ird <b>schema</b>"."<script>alert(1)</script>")',
    'CREATE TABLE public."100% off" (id int)',
    'CREATE TABLE public."Ünïcødé 表" (id int)',
    'CREATE TABLE public."with \'quote\' and ""dq""" (id int)',
    'CREATE TABLE public."x%2Fy" (id int)',
    'CREATE TABLE public."." (id int)',
    'CREATE TABLE public.".." (id int)',
    'CREATE TABLE "we""ird <b>schema</b>"."no <i>key</i>" (payload json)',
    "CREATE SCHEMA advice",
    "CREATE TABLE advice.diff (id int)",
    "CREATE SCHEMA diff",
    "CREATE TABLE diff.advice (id int)",
)


@pytest.fixture
def hostile(project, target_sql, snapshot):
    target_sql(*HOSTILE_SQL)
    return snapshot()


def assert_no_live_markup(page: str) -> None:
    for payload in ("<script>alert", "<img src=x", "<b>schema</b>", "<i>key</i>"):
        assert payload not in page, payload


def test_overview_escapes_hostile_names(client_for, hostile):
    page = client_for("viewer").get("/projects/shop/schema/").content.decode()
    assert_no_live_markup(page)
    assert html.escape(SCRIPT) in page
    assert "Ünïcødé 表" in page


@pytest.mark.parametrize("schema, table", [(HOSTILE_SCHEMA, SCRIPT)] + [("public", t) for t in HOSTILE_TABLES[1:]]
                         + [("advice", "diff"), ("diff", "advice")])  # fmt: skip
def test_every_overview_link_opens_its_own_table_page(client_for, hostile, schema, table):
    client = client_for("viewer")
    overview = client.get("/projects/shop/schema/").content.decode()
    url = table_url("shop", schema, table)
    assert f'href="{html.escape(url)}"' in overview
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert_no_live_markup(text)
    assert f'<h1><span class="muted">{html.escape(schema)}.</span>{html.escape(table)} ' in text


def test_table_page_escapes_hostile_columns_comments_and_links_foreign_keys(client_for, hostile):
    client = client_for("viewer")
    text = client.get(table_url("shop", HOSTILE_SCHEMA, SCRIPT)).content.decode()
    assert_no_live_markup(text)
    assert html.escape("<img src=x onerror=alert(2)>") in text
    assert html.escape("</code><script>alert(4)</script>") in text
    assert html.escape("<script>alert(3)</script>") in text
    # incoming FK from public."a/b" links to its page (the slash stays inside one path segment)
    assert f'href="{table_url("shop", "public", "a/b")}"' in text
    assert "/schema/public/a%252Fb/" in text
    back = client.get(table_url("shop", "public", "a/b")).content.decode()
    assert f'<a href="{html.escape(table_url("shop", HOSTILE_SCHEMA, SCRIPT))}">' in back


def test_advice_page_escapes_names_in_messages_and_fix_sql(client_for, hostile):
    text = client_for("engineer").get("/projects/shop/schema/advice/").content.decode()
    assert_no_live_markup(text)
    # the fix SQL quotes identifiers; the page shows it escaped
    assert html.escape('"we""ird <b>schema</b>"') in text
    assert re.search(r"no-primary-key", text)


def test_dot_names_do_not_become_dot_segments_a_browser_would_resolve():
    assert table_url("shop", "public", "..") == "/projects/shop/schema/public/%252E%252E/"
    assert table_url("shop", ".", "t") == "/projects/shop/schema/%252E/t/"


def test_sql_like_and_percent_search_terms_are_plain_text(client_for, hostile):
    client = client_for("viewer")
    found = client.get("/projects/shop/schema/", {"q": "100%"}).content.decode()
    assert "1 relation match" in found and "100% off" in found
    none = client.get("/projects/shop/schema/", {"q": "'; DROP TABLE x; --"}).content.decode()
    assert "No relation matches these filters" in none
