"""The queries pages show what a real workload did, from stored snapshots."""

from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone
from psycopg import sql

from dashboard.models import AuditEvent, QueryText
from dashboard.queries.collector import collect_project
from tests.queries.conftest import run_workload

pytestmark = pytest.mark.django_db

BY_ID = "SELECT name FROM items WHERE id = %s"
SLOW = "SELECT count(*) FROM items a CROSS JOIN items b WHERE a.id > %s"
CREATE_HOSTILE = 'CREATE TABLE "<script>alert(1)</script>" (id int)'
HOSTILE = 'SELECT * FROM "<script>alert(1)</script>" WHERE id = %s'


@pytest.fixture
def collected(project, target_url):
    """Two snapshots around a real workload: the history the pages show."""
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute(CREATE_HOSTILE)
    collect_project(project, now=timezone.now() - timedelta(minutes=10))
    run_workload(target_url, {BY_ID: 30, SLOW: 3, HOSTILE: 2})
    collect_project(project, now=timezone.now() - timedelta(minutes=5))
    return project


def queryid_of(project, fragment: str) -> int:
    return QueryText.objects.get(project=project, text__contains=fragment).queryid


def test_top_statements_page_lists_workload_by_total_time(client_for, collected):
    response = client_for("viewer").get("/projects/shop/queries/?window=1h")
    body = response.content.decode()
    assert response.status_code == 200
    assert "SELECT name FROM items WHERE id = $1" in body
    assert "CROSS JOIN items b" in body
    # Ordered by total time: the cross join comes first.
    assert body.index("CROSS JOIN") < body.index("SELECT name FROM items WHERE id = $1")
    assert "%" in body and "Collector" in body


def test_ordering_by_calls_puts_the_frequent_statement_first(client_for, collected):
    body = client_for("viewer").get("/projects/shop/queries/?window=1h&sort=calls").content.decode()
    assert body.index("SELECT name FROM items WHERE id = $1") < body.index("CROSS JOIN")


def test_text_filter_and_role_filter(client_for, collected):
    client = client_for("viewer")
    body = client.get("/projects/shop/queries/?window=1h&q=cross+join").content.decode()
    assert "CROSS JOIN" in body and "WHERE id = $1</code>" not in body
    body = client.get("/projects/shop/queries/?window=1h&role=nobody").content.decode()
    assert "No statements ran in this window that match the filters" in body
    body = client.get("/projects/shop/queries/?window=1h&role=postgres").content.decode()
    assert "CROSS JOIN" in body


def test_own_statements_are_not_listed(client_for, collected):
    body = client_for("viewer").get("/projects/shop/queries/?window=1h").content.decode()
    assert "neon-ops-dashboard collector" not in body


def test_window_excludes_older_history(client_for, collected):
    # The workload was stored 5 minutes ago: a custom window ending 6 minutes ago is empty.
    end = (timezone.now() - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M")
    start = (timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    body = (
        client_for("viewer")
        .get(f"/projects/shop/queries/?window=custom&from={start}&to={end}")
        .content.decode()
    )
    assert "No statements ran in this window" in body


@pytest.mark.parametrize(
    "query,message",
    [
        ("window=custom&from=yesterday", "Enter the custom window as dates"),
        ("window=custom&from=2026-01-02T00:00&to=2026-01-01T00:00", "must start before it ends"),
        ("window=custom&from=2020-01-01T00:00&to=2026-01-01T00:00", "History is kept for"),
        ("window=forever", "Unknown window"),
    ],
)
def test_bad_window_input_gets_a_clear_message(client_for, collected, query, message):
    response = client_for("viewer").get(f"/projects/shop/queries/?{query}")
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Last 24 hours" in response.content.decode()


def test_htmx_request_gets_only_the_table(client_for, collected):
    response = client_for("viewer").get("/projects/shop/queries/?window=1h", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<table" in body and "<html" not in body


def test_hostile_table_name_is_escaped(client_for, collected):
    body = client_for("viewer").get("/projects/shop/queries/?window=1h").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    queryid = queryid_of(collected, "<script>")
    body = client_for("viewer").get(f"/projects/shop/queries/{queryid}/").content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_detail_page_shows_charts_and_formatted_text(client_for, collected):
    queryid = queryid_of(collected, "items WHERE id = $1")
    response = client_for("viewer").get(f"/projects/shop/queries/{queryid}/?window=1h")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("<svg") == 3 and "(peak 30 calls)" in body and "30.00" not in body
    per_role = body[body.index('class="data compact per-role"') :]
    assert "<td>postgres</td>" in per_role and '<td class="num">30</td>' in per_role
    assert "SELECT name\nFROM items\nWHERE id = $1" in body


def test_unknown_or_malformed_queryid_is_404(client_for, collected):
    assert client_for("viewer").get("/projects/shop/queries/12345/").status_code == 404
    assert client_for("viewer").get("/projects/shop/queries/abc/").status_code == 404


def test_explain_with_bound_parameters(client_for, collected):
    queryid = queryid_of(collected, "items WHERE id = $1")
    response = client_for("viewer").post(
        f"/projects/shop/queries/{queryid}/explain/", {"mode": "plain", "param1": "5"}
    )
    body = response.content.decode()
    assert response.status_code == 200, body
    # What the feature guarantees: the plan of this statement with the bound value. Whether the
    # planner scans the index or the (small) table is its own choice.
    plan = body[body.index('<pre class="plan-text">') :]
    assert "on items" in plan and "(id = 5)" in plan


def test_explain_parameter_is_never_interpolated(client_for, collected):
    queryid = queryid_of(collected, "items WHERE id = $1")
    response = client_for("viewer").post(
        f"/projects/shop/queries/{queryid}/explain/", {"mode": "plain", "param1": "1; DROP TABLE items"}
    )
    assert response.status_code == 400
    assert "invalid input syntax for type integer" in response.content.decode()
    with psycopg.connect(collected.pooled_url) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 200


def test_explain_refuses_wrong_number_of_parameters(client_for, collected):
    queryid = queryid_of(collected, "items WHERE id = $1")
    response = client_for("viewer").post(
        f"/projects/shop/queries/{queryid}/explain/", {"mode": "plain"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200  # htmx swaps the partial with the message
    assert "The statement has 1 parameter(s); 0 value(s) given" in response.content.decode()


def test_explain_analyze_by_engineer_runs_rolled_back_and_is_audited(client_for, collected):
    queryid = queryid_of(collected, "CROSS JOIN")
    response = client_for("engineer").post(
        f"/projects/shop/queries/{queryid}/explain/", {"mode": "analyze", "param1": "190"}
    )
    body = response.content.decode()
    assert response.status_code == 200, body
    assert "actual time=" in body and "rolled back" in body
    event = AuditEvent.objects.get(action="query.explain_analyze")
    assert event.outcome == "success" and event.actor.username == "engineer"


def test_explain_analyze_refused_for_data_modifying_statement(client_for, collected, target_url):
    collect_project(collected)
    run_workload(target_url, {"UPDATE items SET name = name WHERE id = %s": 1})
    collect_project(collected)
    queryid = queryid_of(collected, "UPDATE items")
    response = client_for("engineer").post(
        f"/projects/shop/queries/{queryid}/explain/", {"mode": "analyze", "param1": "1"}
    )
    assert response.status_code == 400
    assert "only allowed for a plain SELECT" in response.content.decode()
    assert AuditEvent.objects.get(action="query.explain_analyze").outcome == "failure"


def test_plain_explain_of_an_update_shows_its_plan_without_running_it(client_for, collected, target_url):
    collect_project(collected)
    run_workload(target_url, {"UPDATE items SET name = name WHERE id = %s": 1})
    collect_project(collected)
    queryid = queryid_of(collected, "UPDATE items")
    response = client_for("viewer").post(
        f"/projects/shop/queries/{queryid}/explain/", {"mode": "plain", "param1": "4"}
    )
    body = response.content.decode()
    assert response.status_code == 200, body
    assert "Update on items" in body
    with psycopg.connect(target_url) as conn:
        assert conn.execute("SELECT name FROM items WHERE id = 4").fetchone()[0] == "item 4"


def test_explain_analyze_cannot_write_even_through_a_select(client_for, collected, target_url):
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE order_seq")
    collect_project(collected)
    run_workload(target_url, {"SELECT nextval('order_seq') + %s": 1})
    collect_project(collected)
    queryid = queryid_of(collected, "nextval")
    response = client_for("engineer").post(
        f"/projects/shop/queries/{queryid}/explain/",
        {"mode": "analyze", "param1": "0", "param2": "order_seq"},
    )
    assert response.status_code == 400
    assert "pg_catalog.nextval()" in response.content.decode()  # volatile: refused before it runs
    with psycopg.connect(target_url) as conn:
        assert conn.execute("SELECT last_value FROM order_seq").fetchone()[0] == 1  # only the workload's call


def test_explain_analyze_times_out_with_clear_message(client_for, collected, settings):
    settings.QUERIES_EXPLAIN_ANALYZE_TIMEOUT_MS = 100
    collect_project(collected)
    slow = "SELECT count(*) FROM generate_series(1::int, %s::int) a CROSS JOIN generate_series(1::int, 1000::int) b"
    run_workload(collected.pooled_url, {slow: 1})  # only immutable functions: ANALYZE may run it
    collect_project(collected)
    queryid = queryid_of(collected, "generate_series")  # generate_series($2::int, $1::int) ...
    response = client_for("engineer").post(
        f"/projects/shop/queries/{queryid}/explain/",
        {"mode": "analyze", "param1": "1000000", "param2": "1", "param3": "1", "param4": "1000"},
    )
    assert response.status_code == 400
    assert "took too long and was cancelled" in response.content.decode()


def test_generic_plan_needs_postgres_16(client_for, collected):
    queryid = queryid_of(collected, "items WHERE id = $1")
    response = client_for("viewer").post(f"/projects/shop/queries/{queryid}/explain/", {"mode": "generic"})
    assert response.status_code == 400
    assert "Generic plans need Postgres 16" in response.content.decode()


def test_detail_page_marks_a_reset(client_for, project, target_url):
    run_workload(target_url, {BY_ID: 5})
    collect_project(project)
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
        )
    run_workload(target_url, {BY_ID: 2})
    collect_project(project)
    queryid = queryid_of(project, "items WHERE id = $1")
    body = client_for("viewer").get(f"/projects/shop/queries/{queryid}/?window=1h").content.decode()
    assert "Counters were reset (or the server restarted)" in body
    assert "(peak 2 calls)" in body  # counted from zero after the reset, never negative


def test_top_statements_are_paged(client_for, project, target_url):
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute(
            "DO $$ BEGIN FOR i IN 1..55 LOOP EXECUTE format('CREATE TABLE page_%s (id int)', i); END LOOP; END $$"
        )
        collect_project(project)
        for i in range(1, 56):
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(f"page_{i}")))
    collect_project(project)
    client = client_for("viewer")
    first = client.get("/projects/shop/queries/?window=1h&q=page_").content.decode()
    assert first.count("SELECT count(*) FROM &quot;page_") == 50 and "Page 1 of 2" in first
    assert "?window=1h&amp;q=page_&amp;page=2" in first
    second = client.get("/projects/shop/queries/?window=1h&q=page_&page=2").content.decode()
    assert second.count("SELECT count(*) FROM &quot;page_") == 5 and "Page 2 of 2" in second
    beyond = client.get("/projects/shop/queries/?window=1h&q=page_&page=9").content.decode()
    assert "Page 1 of 2" in beyond


def test_explain_analyze_refuses_a_select_that_terminates_sessions(client_for, collected, target_url):
    collect_project(collected)
    run_workload(target_url, {"SELECT pg_terminate_backend(%s)": 1})  # pid 1 is no client session
    collect_project(collected)
    queryid = queryid_of(collected, "pg_terminate_backend")
    engineer = client_for("engineer")
    detail = engineer.get(f"/projects/shop/queries/{queryid}/").content.decode()
    assert 'value="analyze"' not in detail and "calls pg_terminate_backend()" in detail
    with psycopg.connect(target_url, autocommit=True) as victim:
        response = engineer.post(
            f"/projects/shop/queries/{queryid}/explain/",
            {"mode": "analyze", "param1": str(victim.info.backend_pid)},
        )
        assert response.status_code == 400
        assert "calls pg_terminate_backend(), which acts outside" in response.content.decode()
        assert victim.execute("SELECT 1").fetchone() == (1,)
    assert AuditEvent.objects.get(action="query.explain_analyze").outcome == "failure"
