"""Overview and table pages render from stored snapshots: search, filter, sort, paging, links."""

import pytest
from django.test import override_settings

from dashboard.models import SchemaSnapshot, TaskRun
from dashboard.schema.tasks import SNAPSHOT_KIND, run_capture
from dashboard.taskruns import lifecycle

pytestmark = pytest.mark.django_db

SHOP_SQL = (
    "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE)",
    "CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE, total numeric(10,2))",
    "CREATE INDEX orders_customer_idx ON orders (customer_id)",
    "CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100",
    "CREATE SCHEMA billing",
    "CREATE TABLE billing.invoices (id int PRIMARY KEY, order_id bigint REFERENCES public.orders (id))",
    "INSERT INTO customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 500) g",
    "ANALYZE customers",
)


def test_overview_without_snapshot_shows_empty_state_with_refresh_for_engineer(client_for, project):
    response = client_for("engineer").get("/projects/shop/schema/")
    assert response.status_code == 200
    assert b"No schema snapshot has been taken" in response.content
    assert b"Refresh snapshot" in response.content


def test_viewer_sees_empty_state_without_refresh_button(client_for, project):
    response = client_for("viewer").get("/projects/shop/schema/")
    assert b"No schema snapshot has been taken" in response.content
    assert b"Refresh snapshot" not in response.content


def test_overview_lists_relations_with_kind_rows_size_and_counts(client_for, project, target_sql, snapshot):
    target_sql(*SHOP_SQL)
    taken = snapshot()
    response = client_for("viewer").get("/projects/shop/schema/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Snapshot <strong>v{taken.version}</strong> taken" in html
    assert '<a href="/projects/shop/schema/public/customers/">' in html
    assert '<a href="/projects/shop/schema/billing/invoices/">' in html
    assert ">view</td>" in html  # big_orders
    # customers: 500 estimated rows after ANALYZE, 2 columns, 2 indexes, 2 constraints, 1 incoming FK
    row = html.split("/projects/shop/schema/public/customers/")[1].split("</tr>")[0]
    cells = [c.split(">", 1)[1].split("<", 1)[0] for c in row.split("<td")[1:]]
    assert cells[1] == "500" and cells[3:] == ["2", "2", "2", "0 / 1"]


def test_overview_search_filter_and_paging(client_for, project, target_sql, snapshot):
    target_sql(*SHOP_SQL, *(f"CREATE TABLE t_{i:03d} (id int)" for i in range(60)))
    snapshot()
    client = client_for("viewer")
    found = client.get("/projects/shop/schema/?q=ORDER").content.decode()
    assert "2 relations match the filters" in found and "big_orders" in found and "customers" not in found
    billing = client.get("/projects/shop/schema/?schema=billing").content.decode()
    assert "1 relation match" in billing and "invoices" in billing and "t_001" not in billing
    views = client.get("/projects/shop/schema/?kind=v").content.decode()
    assert "big_orders" in views and "customers" not in views
    with override_settings(SCHEMA_PAGE_SIZE=20):
        first = client.get("/projects/shop/schema/").content.decode()
        third = client.get("/projects/shop/schema/?page=3").content.decode()
    assert "Page 1 of 4" in first and "t_000" in first and "t_050" not in first
    assert "Page 3 of 4" in third and "t_050" in third


def test_overview_sorts_by_size_descending(client_for, project, target_sql, snapshot):
    target_sql(*SHOP_SQL)
    snapshot()
    html = client_for("viewer").get("/projects/shop/schema/?sort=-size").content.decode()
    positions = [html.index(f"/schema/public/{name}/") for name in ("customers", "orders", "big_orders")]
    assert positions == sorted(positions)


def test_htmx_search_returns_only_the_relations_partial(client_for, project, target_sql, snapshot):
    target_sql(*SHOP_SQL)
    snapshot()
    response = client_for("viewer").get("/projects/shop/schema/?q=cust&partial=1", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="relations">') and "<html" not in html and "customers" in html


def test_history_restore_of_a_pushed_search_url_gets_the_whole_page(
    client_for, project, target_sql, snapshot
):
    target_sql(*SHOP_SQL)
    snapshot()
    response = client_for("viewer").get(
        "/projects/shop/schema/?q=cust&partial=1",
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    html = response.content.decode()
    assert html.startswith("<!doctype html>") and '<div id="relations">' in html and "customers" in html


def test_table_page_shows_columns_constraints_indexes_and_foreign_key_links(
    client_for, project, target_sql, snapshot
):
    target_sql(*SHOP_SQL)
    snapshot()
    html = client_for("viewer").get("/projects/shop/schema/public/orders/").content.decode()
    assert "GENERATED ALWAYS AS IDENTITY" in html
    assert "<code>numeric(10,2)</code>" in html
    assert "FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE" in html
    assert "CREATE INDEX orders_customer_idx ON public.orders USING btree (customer_id)" in html
    assert '<a href="/projects/shop/schema/public/customers/">public.customers</a>' in html  # outgoing
    assert '<a href="/projects/shop/schema/billing/invoices/">billing.invoices</a>' in html  # incoming
    assert "ON UPDATE NO ACTION, ON DELETE CASCADE" in html
    svg = html.split("<svg", 1)[1].split("</svg>")[0]
    assert 'href="/projects/shop/schema/public/customers/"' in svg and "invoices" in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # no external resources


def test_unknown_table_is_404(client_for, project, target_sql, snapshot):
    target_sql(*SHOP_SQL)
    snapshot()
    assert client_for("viewer").get("/projects/shop/schema/public/nope/").status_code == 404


def test_refresh_queues_a_capture_and_the_task_stores_a_snapshot(client_for, project, target_sql, users):
    target_sql(*SHOP_SQL)
    response = client_for("engineer").post("/projects/shop/schema/refresh/")
    assert response.status_code == 302
    run = TaskRun.objects.get(kind=SNAPSHOT_KIND, project=project)
    assert run.created_by == users["engineer"]
    # Same code path as the Celery task (claim, then capture).
    run_capture(lifecycle.claim(str(run.pk)))
    run.refresh_from_db()
    assert run.status == "succeeded"
    snap = SchemaSnapshot.objects.get(project=project)
    assert snap.counts["relations"] == 4 and snap.version == 1
    assert project.audit_events.filter(action="schema.snapshot", outcome="success").exists()
    assert project.audit_events.filter(action="schema.refresh").exists()


def test_refresh_status_polls_until_the_run_finishes(client_for, project, target_sql):
    target_sql(*SHOP_SQL)
    client = client_for("engineer")
    started = client.post("/projects/shop/schema/refresh/", HTTP_HX_REQUEST="true")
    assert started.status_code == 200 and b'hx-trigger="every 1s"' in started.content
    run = TaskRun.objects.get(kind=SNAPSHOT_KIND)
    polling = client.get("/projects/shop/schema/refresh/", HTTP_HX_REQUEST="true")
    assert polling.status_code == 200 and b"Taking a snapshot" in polling.content
    run_capture(lifecycle.claim(str(run.pk)))
    done = client.get("/projects/shop/schema/refresh/", HTTP_HX_REQUEST="true")
    assert done.status_code == 286  # htmx stops polling
    assert b"Snapshot <strong>v1</strong>" in done.content


def test_second_refresh_while_one_is_queued_does_not_queue_another(client_for, project):
    client = client_for("engineer")
    client.post("/projects/shop/schema/refresh/")
    client.post("/projects/shop/schema/refresh/")
    assert TaskRun.objects.filter(kind=SNAPSHOT_KIND).count() == 1


def test_unchanged_schema_keeps_its_version_and_a_change_adds_one(project, target_sql, snapshot):
    target_sql(*SHOP_SQL)
    first = snapshot()
    again = snapshot()
    assert again.pk == first.pk and again.version == 1 and again.taken_at > first.taken_at
    target_sql("ALTER TABLE customers ADD COLUMN name text")
    changed = snapshot()
    assert changed.version == 2 and SchemaSnapshot.objects.filter(project=project).count() == 2
