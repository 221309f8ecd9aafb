"""The advisor page shows the findings stored with the latest snapshot, filterable, with fix SQL."""

import html

import pytest

pytestmark = pytest.mark.django_db

PROBLEMS = (
    "CREATE TABLE logs (line text, payload json, at timestamp)",
    "CREATE TABLE parent (id int PRIMARY KEY)",
    "CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent)",
)


def test_advice_without_snapshot_shows_empty_state(client_for, project):
    page = client_for("viewer").get("/projects/shop/schema/advice/").content.decode()
    assert "none has been taken yet" in page


def test_advice_lists_findings_with_fix_sql_for_engineers(client_for, project, target_sql, snapshot):
    target_sql(*PROBLEMS)
    snapshot()
    page = client_for("engineer").get("/projects/shop/schema/advice/").content.decode()
    assert "4 findings in snapshot v1" in page
    for rule in ("no-primary-key", "json-not-jsonb", "timestamp-without-time-zone", "fk-without-index"):
        assert f"<code>{rule}</code>" in page
    fix = 'ALTER TABLE "public"."logs" ALTER COLUMN "payload" TYPE jsonb USING "payload"::jsonb;'
    assert f"<pre>{html.escape(fix)}</pre>" in page
    # Engineers get the advisor's "Start a migration draft" button, pre-filling the fix SQL.
    assert 'action="/projects/shop/migrations/new/"' in page and "Start a migration draft" in page
    assert f'name="sql" value="{html.escape(fix)}"' in page
    assert '<a href="/projects/shop/schema/public/logs/">public.logs</a>' in page


def test_viewer_sees_fix_sql_but_no_draft_button(client_for, project, target_sql, snapshot):
    target_sql(*PROBLEMS)
    snapshot()
    page = client_for("viewer").get("/projects/shop/schema/advice/").content.decode()
    assert "<pre>" in page and "Start a migration draft" not in page


def test_advice_filters_by_severity_and_rule(client_for, project, target_sql, snapshot):
    target_sql(*PROBLEMS)
    snapshot()
    client = client_for("viewer")
    warnings = client.get("/projects/shop/schema/advice/?severity=warning").content.decode()
    body = warnings.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("sev-warning") == 4 and "sev-info" not in body
    one_rule = client.get("/projects/shop/schema/advice/?rule=json-not-jsonb").content.decode()
    body = one_rule.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == 1 and "payload" in body


def test_table_page_lists_that_tables_findings(client_for, project, target_sql, snapshot):
    target_sql(*PROBLEMS)
    snapshot()
    page = client_for("viewer").get("/projects/shop/schema/public/logs/").content.decode()
    assert (
        "Advisor findings" in page
        and "logs has no primary key" in page
        and "payload of public.logs is json" in page
    )
