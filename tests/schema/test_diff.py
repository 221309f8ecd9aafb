"""Schema diff between two real databases, and the diff page over stored snapshots."""

import pytest

from dashboard.introspection.diff import diff_catalogs
from dashboard.introspection.schema import read_catalog_from_url
from dashboard.models import TaskRun
from dashboard.schema.snapshots import diff_snapshots, load_catalog, read_project_catalog, store_catalog
from dashboard.targets.connect import TargetSettings
from tests.support import pg

BASE = (
    "CREATE TYPE mood AS ENUM ('sad', 'happy')",
    "CREATE TABLE customers (id int PRIMARY KEY, email varchar(100), mood mood)",
    "CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, total numeric)",
    "CREATE INDEX orders_customer ON orders (customer_id)",
    "CREATE TABLE legacy (id int)",
    "CREATE VIEW big AS SELECT * FROM orders WHERE total > 100",
    "CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'",
    "CREATE TABLE untouched (id int PRIMARY KEY, customer_id int REFERENCES customers)",
)
CHANGES = (
    "ALTER TYPE mood ADD VALUE 'ok'",
    "ALTER TABLE customers ALTER COLUMN email TYPE text",
    "ALTER TABLE customers ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()",
    "DROP INDEX orders_customer",
    "ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total > 0)",
    "DROP TABLE legacy",
    "CREATE TABLE invoices (id int PRIMARY KEY)",
    "CREATE OR REPLACE VIEW big AS SELECT * FROM orders WHERE total > 1000",
    "CREATE FUNCTION answer(x int) RETURNS int LANGUAGE sql AS 'SELECT x'",
    "COMMENT ON INDEX customers_pkey IS 'one row per customer'",
)


def build(*statements) -> str:
    name = pg.create_database("diff")
    with pg.admin_connect(name) as conn:
        for statement in statements:
            conn.execute(statement)
    return name


@pytest.fixture
def two_databases():
    base, head = build(*BASE), build(*BASE, *CHANGES)
    yield base, head
    pg.drop_database(base)
    pg.drop_database(head)


def read(dbname):
    return read_catalog_from_url(pg.url_for(dbname), TargetSettings(retries=0))


def test_diff_of_two_databases_groups_changes_by_object(two_databases):
    base, head = two_databases
    diff = diff_catalogs(read(base), read(head))
    summary = {(o.kind, o.label, o.status): [(c.part, c.status) for c in o.changes] for o in diff.objects}
    assert summary == {
        ("table", "public.customers", "changed"): [("column created_at", "added"), ("column email", "changed"),
                                                   ("comment on index customers_pkey", "added")],
        ("table", "public.invoices", "added"): [],
        ("table", "public.legacy", "removed"): [],
        ("table", "public.orders", "changed"): [("constraint total_positive", "added"),
                                                ("index orders_customer", "removed")],
        ("view", "public.big", "changed"): [("view definition", "changed")],
        ("enum", "public.mood", "changed"): [("definition", "changed")],
        ("function", "public.answer(x integer)", "added"): [("definition", "added")],
    }  # fmt: skip
    customers = next(o for o in diff.objects if o.name == "customers")
    email = next(c for c in customers.changes if c.part == "column email")
    assert (email.before, email.after) == ("character varying(100)", "text")
    mood = next(o for o in diff.objects if o.name == "mood")
    assert (mood.changes[0].before, mood.changes[0].after) == ("sad, happy", "sad, happy, ok")
    assert (diff.count("added"), diff.count("removed"), diff.count("changed")) == (2, 1, 4)


def test_statistics_alone_are_not_a_difference(two_databases):
    base, _ = two_databases
    before = read(base)
    with pg.admin_connect(base) as conn:
        conn.execute("INSERT INTO customers SELECT g, 'x' FROM generate_series(1, 1000) g")
        conn.execute("ANALYZE customers")
    after = read(base)
    assert after.relation("public", "customers").row_estimate == 1000
    assert diff_catalogs(before, after).is_empty


@pytest.fixture
def two_snapshots(project, two_databases):
    """Two stored snapshots of the project: the base database, then the changed one (as a branch would be)."""
    base, head = two_databases
    catalogs = []
    for dbname in (base, head):
        project.pooled_url = pg.url_for(dbname)
        catalogs.append(read_project_catalog(project)[0])
    old = store_catalog(project, catalogs[0])
    new = store_catalog(project, catalogs[1], branch_id="br-head-1", branch_name="head <b>branch</b>")
    return old, new


@pytest.mark.django_db
def test_diff_page_compares_latest_two_snapshots_by_default(client_for, two_snapshots):
    page = client_for("viewer").get("/projects/shop/schema/diff/").content.decode()
    assert "v1 → v2 (head &lt;b&gt;branch&lt;/b&gt;)" in page
    assert (
        '<span class="diff-added">added</span> table '
        '<a href="/projects/shop/schema/public/invoices/?branch=head+%3Cb%3Ebranch%3C%2Fb%3E">' in page
    ), "links go to the table on the newer snapshot's branch"
    assert '<span class="diff-removed">removed</span> table <code>public.legacy</code>' in page
    assert "<td>column email</td>" in page and "<code>character varying(100)</code>" in page


@pytest.mark.django_db
def test_diff_page_in_reverse_swaps_added_and_removed(client_for, two_snapshots):
    page = client_for("viewer").get("/projects/shop/schema/diff/?from=2&to=1").content.decode()
    assert '<span class="diff-removed">removed</span> table <code>public.invoices</code>' in page
    assert (
        '<span class="diff-added">added</span> table <a href="/projects/shop/schema/public/legacy/">' in page
    )


@pytest.mark.django_db
def test_diff_page_with_unknown_versions_says_so(client_for, two_snapshots):
    page = client_for("viewer").get("/projects/shop/schema/diff/?from=1&to=99").content.decode()
    assert "Choose two existing snapshot versions to compare." in page
    page = client_for("viewer").get("/projects/shop/schema/diff/?from=x&to=1").content.decode()
    assert "Choose two existing snapshot versions to compare." in page


@pytest.mark.django_db
def test_diff_page_without_branches_offers_only_snapshot_diff(client_for, project):
    page = client_for("engineer").get("/projects/shop/schema/diff/").content.decode()
    assert "At least two snapshot versions are needed" in page
    assert "no known Neon branches; compare snapshots instead" in page
    assert "Read both and compare" not in page


@pytest.mark.django_db
def test_branch_compare_with_unknown_branches_is_refused_and_audited(client_for, project):
    client = client_for("engineer")
    response = client.post("/projects/shop/schema/compare/", {"base": "br-a", "head": "br-b"})
    assert response.status_code == 302
    assert not TaskRun.objects.exists()
    assert project.audit_events.filter(action="schema.compare_branches", outcome="failure").exists()
    page = client.get(response["Location"]).content.decode()
    assert "Choose two different branches of this project." in page


@pytest.mark.django_db
def test_snapshot_diff_loading_only_changed_relations_equals_the_full_diff(two_snapshots):
    old, new = two_snapshots
    full = diff_catalogs(load_catalog(old), load_catalog(new))
    assert diff_snapshots(old, new) == full
    # Only the unchanged table shares its stored structure between both snapshots, so only it is skipped.
    new_structures = dict(new.relations.values_list("name", "structure_id"))
    same = {
        name for name, h in old.relations.values_list("name", "structure_id") if new_structures.get(name) == h
    }
    assert same == {"untouched"}


@pytest.mark.django_db
def test_a_diff_between_distant_versions_lists_a_bounded_number_of_objects(
    client_for, project, target_sql, snapshot, settings
):
    settings.SCHEMA_DIFF_MAX_OBJECTS = 10
    old = snapshot()
    target_sql(*(f"CREATE TABLE t_{i:03d} (id int PRIMARY KEY)" for i in range(40)))
    new = snapshot()
    diff = diff_snapshots(old, new, limit=10)
    assert [o.name for o in diff.objects] == [f"t_{i:03d}" for i in range(10)]
    assert diff.more == 30
    page = client_for("viewer").get(f"/projects/shop/schema/diff/?from={old.version}&to={new.version}")
    text = page.content.decode()
    assert "40 objects differ" in text and "the first 10 are listed" in text
    assert "and 30 more changed objects, not listed" in text
    assert "t_009" in text and "t_010" not in text
