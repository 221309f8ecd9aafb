"""Introspection reads every kind of object, with a fixed number of queries, inside a read-only transaction."""

import json

import psycopg
import pytest

from dashboard.advisor import run_rules
from dashboard.introspection.diff import diff_catalogs
from dashboard.introspection.model import Catalog
from dashboard.introspection.schema import ALL_QUERIES, read_catalog, read_catalog_from_url
from dashboard.targets.connect import TargetSettings, connect, read_only
from tests.support import pg

EVERYTHING_SQL = (
    "CREATE SCHEMA app",
    "COMMENT ON SCHEMA app IS 'the application'",
    "CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy')",
    "CREATE DOMAIN app.positive AS int NOT NULL DEFAULT 1 CHECK (VALUE > 0)",
    "CREATE TYPE app.pair AS (a int, b text)",
    "CREATE TABLE app.accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " email text COLLATE \"C\" NOT NULL, mood app.mood DEFAULT 'ok', score app.positive,"
    " email_len int GENERATED ALWAYS AS (length(email)) STORED, area circle,"
    " tags text[], EXCLUDE USING gist (area WITH &&), CONSTRAINT email_unique UNIQUE (email),"
    " CONSTRAINT email_at CHECK (email LIKE '%@%'))",
    "COMMENT ON TABLE app.accounts IS 'people who log in'",
    "COMMENT ON COLUMN app.accounts.email IS 'login name'",
    "CREATE TABLE app.orders (id serial PRIMARY KEY, account_id bigint, placed_at timestamptz)",
    "ALTER TABLE app.orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES app.accounts (id)"
    " ON UPDATE CASCADE ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED NOT VALID",
    "CREATE INDEX orders_recent ON app.orders (placed_at) WHERE placed_at > '2020-01-01'",
    "CREATE INDEX orders_lower ON app.orders ((id % 10))",
    "COMMENT ON INDEX app.orders_lower IS 'for sharding by last digit'",
    'ALTER TABLE app.orders ADD COLUMN "Display Name" text',
    'CREATE INDEX orders_display ON app.orders ("Display Name", lower("Display Name")) INCLUDE (placed_at)',
    "CREATE TABLE app.events (id bigint, at date NOT NULL) PARTITION BY RANGE (at)",
    "CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
    "CREATE VIEW app.happy AS SELECT id FROM app.accounts WHERE mood = 'happy'",
    "CREATE MATERIALIZED VIEW app.counts AS SELECT count(*) AS n FROM app.orders",
    "CREATE FOREIGN DATA WRAPPER dummy_fdw",
    "CREATE SERVER dummy_server FOREIGN DATA WRAPPER dummy_fdw",
    "CREATE FOREIGN TABLE app.remote (id int) SERVER dummy_server",
    "CREATE SEQUENCE app.tickets AS integer INCREMENT 5 MAXVALUE 1000",
    "SELECT nextval('app.tickets')",
    "CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
    "CREATE TRIGGER orders_touch BEFORE UPDATE ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch()",
    "CREATE FUNCTION app.add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'",
    "INSERT INTO app.orders (placed_at) SELECT now() FROM generate_series(1, 100)",
    "ANALYZE app.orders",
)


@pytest.fixture(params=[14, 15, 17, 18], ids=["pg14", "pg15", "pg17", "pg18"])
def pg_major(request):
    """The introspection tests run on the local Postgres 15 and on embedded Postgres 14, 17 and 18."""
    return request.param


@pytest.fixture
def everything(pg_any_server, pg_major):
    name = pg_any_server.create_database("intro")
    with pg_any_server.connect(name) as conn:
        for statement in EVERYTHING_SQL:
            conn.execute(statement)
    catalog = read_catalog_from_url(pg_any_server.url_for(name), TargetSettings(retries=0))
    assert catalog.server_version_num // 10000 == pg_major
    yield catalog
    pg_any_server.drop_database(name)


def test_reads_relations_of_every_kind(everything):
    kinds = {(r.schema, r.name): r.kind for r in everything.relations}
    assert kinds == {
        ("app", "accounts"): "r", ("app", "orders"): "r", ("app", "events"): "p", ("app", "events_2024"): "r",
        ("app", "happy"): "v", ("app", "counts"): "m", ("app", "remote"): "f",
    }  # fmt: skip
    # pg_stat_statements' own views belong to the extension and are left out
    assert everything.relation("public", "pg_stat_statements") is None
    partition = everything.relation("app", "events_2024")
    assert partition.is_partition and (partition.parent_schema, partition.parent_name) == ("app", "events")
    assert partition.partition_bound == "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
    assert everything.relation("app", "events").partition_key == "RANGE (at)"
    # Postgres 16+ no longer qualifies the column with the table name in view definitions
    assert "mood = 'happy'::app.mood" in everything.relation("app", "happy").view_definition


def test_reads_columns_with_types_defaults_identity_generated_collation_and_comments(everything):
    cols = {c.name: c for c in everything.relation("app", "accounts").columns}
    assert cols["id"].identity == "always" and cols["id"].not_null
    assert cols["email"].collation == "C" and cols["email"].comment == "login name"
    assert (
        cols["mood"].type == "app.mood"
        and cols["mood"].type_kind == "e"
        and cols["mood"].default == "'ok'::app.mood"
    )
    assert cols["score"].type_kind == "d"
    assert cols["email_len"].generated == "length(email)" and cols["email_len"].default is None
    assert cols["tags"].type == "text[]"
    assert everything.relation("app", "accounts").comment == "people who log in"


def test_reads_constraints_with_actions_deferrability_and_validation(everything):
    accounts = {c.name: c for c in everything.relation("app", "accounts").constraints}
    assert {c.kind for c in accounts.values()} == {"p", "u", "c", "x"}
    assert accounts["email_at"].definition == "CHECK (email ~~ '%@%'::text)"
    fk = everything.relation("app", "orders").foreign_keys[0]
    assert (fk.name, fk.columns, fk.ref_schema, fk.ref_table, fk.ref_columns) == (
        "orders_account_fk", ["account_id"], "app", "accounts", ["id"])  # fmt: skip
    assert (fk.on_update, fk.on_delete, fk.deferrable, fk.initially_deferred, fk.validated) == (
        "c", "n", True, True, False)  # fmt: skip
    incoming = everything.relation("app", "accounts").incoming
    assert [(i.schema, i.table, i.name) for i in incoming] == [("app", "orders", "orders_account_fk")]


def test_reads_indexes_with_method_partial_expression_size_and_scans(everything):
    indexes = {i.name: i for i in everything.relation("app", "orders").indexes}
    assert (
        indexes["orders_recent"].predicate
        == "(placed_at > '2020-01-01 00:00:00+00'::timestamp with time zone)"
    )
    assert indexes["orders_lower"].comment == "for sharding by last digit"
    assert indexes["orders_lower"].has_expressions and indexes["orders_lower"].columns == ["(id % 10)"]
    # plain columns keep their raw name (no quotes); expressions are shown as written
    assert indexes["orders_display"].columns == ["Display Name", 'lower("Display Name")']
    assert indexes["orders_display"].include == ["placed_at"]
    assert indexes["orders_pkey"].primary and indexes["orders_pkey"].constraint == "orders_pkey"
    assert all(i.size_bytes > 0 and i.valid and i.scans is not None for i in indexes.values())
    exclusion = [i for i in everything.relation("app", "accounts").indexes if i.method == "gist"]
    assert len(exclusion) == 1 and exclusion[0].constraint == "accounts_area_excl"


def test_reads_sequences_types_functions_triggers_extensions_and_sizes(everything):
    seqs = {s.name: s for s in everything.sequences}
    assert seqs["orders_id_seq"].owned_as == "serial" and seqs["orders_id_seq"].last_value == 100
    assert seqs["accounts_id_seq"].owned_as == "identity"
    tickets = seqs["tickets"]
    assert (tickets.data_type, tickets.increment, tickets.max_value, tickets.last_value) == (
        "integer",
        5,
        1000,
        1,
    )
    assert [(e.name, e.labels) for e in everything.enums] == [("mood", ["sad", "ok", "happy"])]
    domain = everything.domains[0]
    assert (domain.name, domain.base_type, domain.not_null, domain.default, domain.checks) == (
        "positive", "integer", True, "1", ["CHECK (VALUE > 0)"])  # fmt: skip
    assert [(c.name, c.attributes) for c in everything.composites] == [
        ("pair", [["a", "integer"], ["b", "text"]])
    ]
    assert {f.signature for f in everything.functions} == {"touch()", "add(a integer, b integer)"}
    assert [t.name for t in everything.relation("app", "orders").triggers] == ["orders_touch"]
    assert {"plpgsql", "pg_stat_statements"} <= {x.name for x in everything.extensions}
    assert [(s.name, s.comment) for s in everything.schemas if s.name == "app"] == [
        ("app", "the application")
    ]
    orders = everything.relation("app", "orders")
    assert orders.row_estimate == 100 and orders.table_bytes > 0 and orders.index_bytes > 0


def test_advisor_findings_are_the_same_on_every_version(everything):
    found = sorted((f.rule, f.table, f.object) for f in run_rules(everything))
    assert found == [
        ("fk-without-index", "orders", "orders_account_fk"),
        ("no-primary-key", "events", None),
        ("no-primary-key", "events_2024", None),
        ("not-valid-constraint", "orders", "orders_account_fk"),
        ("serial-not-identity", "orders", "id"),
    ]


def test_snapshot_round_trip_keeps_everything(everything):
    """What is stored as JSON loads back equal, so pages and diffs see what introspection read."""
    restored = Catalog.from_dict(json.loads(json.dumps(everything.to_dict())))
    assert restored == everything
    assert diff_catalogs(everything, restored).is_empty


class CountingCursor(psycopg.Cursor):
    executed = 0

    def execute(self, query, params=None, **kwargs):
        CountingCursor.executed += 1
        return super().execute(query, params, **kwargs)


def _count_queries(dbname: str) -> int:
    connected = connect(pg.url_for(dbname), TargetSettings(retries=0))
    connected.conn.cursor_factory = CountingCursor
    with connected.conn as conn, read_only(conn, TargetSettings()) as cur:
        CountingCursor.executed = 0
        read_catalog(cur)
        executed = CountingCursor.executed
        # the transaction really is read-only
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            cur.execute("CREATE TABLE nope (id int)")
    return executed


def test_number_of_queries_does_not_grow_with_the_number_of_tables(target_db):
    small = _count_queries(target_db)
    with pg.admin_connect(target_db) as conn:
        for i in range(40):
            conn.execute(f"CREATE TABLE t{i} (id int PRIMARY KEY, other int REFERENCES t0 (id))" if i else
                         "CREATE TABLE t0 (id int PRIMARY KEY)")  # fmt: skip
    assert _count_queries(target_db) == small == len(ALL_QUERIES)
