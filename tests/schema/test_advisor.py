"""Each advisor rule on a small schema built for it; where a rule proposes fix SQL, the fix clears the finding."""

import pytest

from dashboard.advisor import run_rules
from dashboard.advisor.rules import RULES
from dashboard.introspection.schema import read_catalog_from_url
from dashboard.targets.connect import TargetSettings
from tests.support import pg


def findings(dbname: str, rule: str, **options) -> list:
    catalog = read_catalog_from_url(pg.url_for(dbname), TargetSettings(retries=0))
    return [f for f in run_rules(catalog, **options) if f.rule == rule]


def where(found) -> list[tuple]:
    return sorted(((f.schema, f.table, f.object) for f in found), key=lambda w: tuple(x or "" for x in w))


def execute(dbname: str, *statements: str) -> None:
    with pg.admin_connect(dbname) as conn:
        for statement in statements:
            conn.execute(statement)


def apply_fixes(dbname: str, found) -> None:
    """Run the proposed fix SQL one statement at a time (CONCURRENTLY cannot run inside a transaction)."""
    for f in found:
        assert f.fix_sql
        execute(dbname, *[s for s in f.fix_sql.split(";\n") if s.strip()])


def test_every_rule_has_id_severity_title_and_explanation():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)) == 13
    assert all(
        r.severity in ("error", "warning", "info") and r.title and len(r.explanation) > 40 for r in RULES
    )


def test_table_without_primary_key(target_db):
    execute(target_db, "CREATE TABLE logs (line text)", "CREATE TABLE keyed (id int PRIMARY KEY)",
            "CREATE VIEW v AS SELECT 1 AS x")  # fmt: skip
    found = findings(target_db, "no-primary-key")
    assert where(found) == [("public", "logs", None)]
    assert found[0].severity == "warning" and "has no primary key" in found[0].message


def test_foreign_key_without_supporting_index(target_db):
    execute(
        target_db,
        "CREATE TABLE parent (id int PRIMARY KEY, code int UNIQUE)",
        "CREATE TABLE bare (id int PRIMARY KEY, parent_id int REFERENCES parent)",
        "CREATE TABLE covered (id int, parent_id int REFERENCES parent, PRIMARY KEY (parent_id, id))",
        "CREATE TABLE partial (id int PRIMARY KEY, parent_id int REFERENCES parent)",
        "CREATE INDEX partial_idx ON partial (parent_id) WHERE id > 10",
        'CREATE TABLE "Odd ""Name""" (id int PRIMARY KEY, "Parent Id" int REFERENCES parent (code))',
    )
    found = findings(target_db, "fk-without-index")
    assert where(found) == [("public", "Odd \"Name\"", "Odd \"Name\"_Parent Id_fkey"),
                            ("public", "bare", "bare_parent_id_fkey"),
                            ("public", "partial", "partial_parent_id_fkey")]  # fmt: skip
    assert (
        found[0].fix_sql
        == 'CREATE INDEX CONCURRENTLY "Odd ""Name""_Parent Id_idx" ON "public"."Odd ""Name""" ("Parent Id");'
    )
    apply_fixes(target_db, found)
    assert findings(target_db, "fk-without-index") == []


def test_duplicate_indexes_same_method_prefix_and_predicate(target_db):
    execute(
        target_db,
        "CREATE TABLE t (a int, b int, c int)",
        "CREATE INDEX t_a ON t (a)",  # prefix of t_a_b: duplicate
        "CREATE INDEX t_a_b ON t (a, b)",
        "CREATE INDEX t_a_b_again ON t (a, b)",  # identical to t_a_b: one of them is reported
        "CREATE INDEX t_b_partial ON t (b) WHERE c > 0",  # different predicate from t_b: kept
        "CREATE INDEX t_b ON t (b)",
        "CREATE INDEX t_c_hash ON t USING hash (c)",  # different method from t_c: kept
        "CREATE INDEX t_c ON t (c)",
        "CREATE UNIQUE INDEX t_c_unique ON t (c, a)",  # unique: enforces something, and not a prefix
    )
    found = findings(target_db, "duplicate-index")
    # t_c (btree) is a prefix of the unique t_c_unique (c, a); the hash index and the partial one stay
    assert where(found) == [("public", "t", "t_a"), ("public", "t", "t_a_b"), ("public", "t", "t_c")]
    assert "is identical to t_a_b_again" in [f for f in found if f.object == "t_a_b"][0].message
    assert "is a prefix of" in [f for f in found if f.object == "t_a"][0].message
    apply_fixes(target_db, found)
    assert findings(target_db, "duplicate-index") == []


def test_unique_index_is_not_reported_as_prefix_of_a_longer_one(target_db):
    execute(target_db, "CREATE TABLE t (a int PRIMARY KEY, b int)", "CREATE INDEX t_a_b ON t (a, b)")
    assert findings(target_db, "duplicate-index") == []


def test_invalid_index(target_db):
    execute(target_db, "CREATE TABLE t (a int)", "INSERT INTO t VALUES (1), (1)")
    with pytest.raises(Exception, match="could not create unique index"):
        execute(target_db, "CREATE UNIQUE INDEX CONCURRENTLY t_a_unique ON t (a)")
    found = findings(target_db, "invalid-index")
    assert where(found) == [("public", "t", "t_a_unique")] and found[0].severity == "error"
    execute(target_db, "DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t)")
    apply_fixes(target_db, found)
    assert findings(target_db, "invalid-index") == []


def test_unused_non_unique_index_above_a_size(target_db):
    execute(
        target_db,
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int, c int)",
        "INSERT INTO t SELECT g, g, g, g FROM generate_series(1, 20000) g",
        "CREATE INDEX t_a ON t (a)",
        "CREATE INDEX t_b ON t (b)",
        "CREATE UNIQUE INDEX t_c ON t (c)",
        "CREATE TABLE small (x int)",
        "CREATE INDEX small_x ON small (x)",
    )
    # A separate session uses t_b; its statistics are flushed when it ends.
    execute(target_db, "SET enable_seqscan = off", "SELECT count(*) FROM t WHERE b = 5")
    found = findings(target_db, "unused-index", unused_index_min_bytes=100 * 1024)
    assert where(found) == [("public", "t", "t_a")]
    assert "since the compute last started" in found[0].message
    assert (
        "reset whenever the compute suspends" in [r for r in RULES if r.id == "unused-index"][0].explanation
    )
    assert found[0].fix_sql == 'DROP INDEX CONCURRENTLY "public"."t_a";'


def test_json_where_jsonb_fits(target_db):
    execute(target_db, "CREATE TABLE docs (id int PRIMARY KEY, body json, meta jsonb)",
            """INSERT INTO docs VALUES (1, '{"a": 1}', '{}')""")  # fmt: skip
    found = findings(target_db, "json-not-jsonb")
    assert where(found) == [("public", "docs", "body")]
    apply_fixes(target_db, found)
    assert findings(target_db, "json-not-jsonb") == []
    with pg.admin_connect(target_db) as conn:
        assert conn.execute("SELECT body @> '{\"a\": 1}' FROM docs").fetchone() == (True,)


def test_timestamp_without_time_zone(target_db):
    execute(target_db, "CREATE TABLE ev (id int PRIMARY KEY, at timestamp, ok timestamptz, d date)")
    found = findings(target_db, "timestamp-without-time-zone")
    assert where(found) == [("public", "ev", "at")]
    apply_fixes(target_db, found)
    assert findings(target_db, "timestamp-without-time-zone") == []


def test_varchar_n_and_char_n_where_text_fits(target_db):
    execute(
        target_db, "CREATE TABLE p (id int PRIMARY KEY, name varchar(20), code char(3), free varchar, t text)"
    )
    found = findings(target_db, "varchar-or-char-n")
    assert where(found) == [("public", "p", "code"), ("public", "p", "name")]
    apply_fixes(target_db, found)
    assert findings(target_db, "varchar-or-char-n") == []


def test_serial_where_identity_fits(target_db):
    execute(target_db, "CREATE TABLE s (id serial PRIMARY KEY, n text)", "CREATE TABLE i (id int GENERATED ALWAYS AS IDENTITY)",
            "INSERT INTO s (n) VALUES ('a'), ('b'), ('c')")  # fmt: skip
    found = findings(target_db, "serial-not-identity")
    assert where(found) == [("public", "s", "id")]
    apply_fixes(target_db, found)
    assert findings(target_db, "serial-not-identity") == []
    with pg.admin_connect(target_db) as conn:
        assert conn.execute("INSERT INTO s (n) VALUES ('d') RETURNING id").fetchone() == (4,)


def test_integer_keys_and_sequences_past_75_percent_of_their_range(target_db):
    execute(
        target_db,
        "CREATE TABLE big (id serial PRIMARY KEY)",  # int column fed by a bigint-capable sequence
        "SELECT setval('big_id_seq', 1800000000)",
        "CREATE TABLE fine (id serial PRIMARY KEY)",
        "SELECT setval('fine_id_seq', 1000000000)",  # 47%: fine
        "CREATE SEQUENCE tickets AS smallint",
        "SELECT setval('tickets', 30000)",
        "CREATE SEQUENCE fresh",  # never used
    )
    found = findings(target_db, "key-range-used")
    assert where(found) == [("public", None, "tickets"), ("public", "big", "big_id_seq")]
    big = [f for f in found if f.object == "big_id_seq"][0]
    assert big.message.startswith("84% of the range of column id (integer) of public.big")
    apply_fixes(target_db, found)
    assert findings(target_db, "key-range-used") == []


def test_not_valid_constraints(target_db):
    execute(
        target_db,
        "CREATE TABLE parent (id int PRIMARY KEY)",
        "CREATE TABLE child (id int PRIMARY KEY, parent_id int, qty int)",
        "ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent NOT VALID",
        "ALTER TABLE child ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID",
    )
    found = findings(target_db, "not-valid-constraint")
    assert where(found) == [("public", "child", "child_parent_fk"), ("public", "child", "qty_positive")]
    apply_fixes(target_db, found)
    assert findings(target_db, "not-valid-constraint") == []


def test_many_dead_tuples(target_db):
    execute(
        target_db,
        "CREATE TABLE churn (id int PRIMARY KEY) WITH (autovacuum_enabled = false)",
        "INSERT INTO churn SELECT generate_series(1, 5000)",
        "DELETE FROM churn WHERE id > 1000",
        "CREATE TABLE calm (id int PRIMARY KEY) WITH (autovacuum_enabled = false)",
        "INSERT INTO calm SELECT generate_series(1, 5000)",
    )
    found = findings(target_db, "dead-tuples", dead_tuples_min=1000)
    assert where(found) == [("public", "churn", None)]
    assert "4000 dead and 1000 live tuples" in found[0].message
    apply_fixes(target_db, found)
    assert findings(target_db, "dead-tuples", dead_tuples_min=1000) == []


def test_tables_never_analyzed(target_db):
    execute(
        target_db,
        "CREATE TABLE fresh (id int) WITH (autovacuum_enabled = false)",
        "INSERT INTO fresh SELECT generate_series(1, 100)",
        "CREATE TABLE analyzed (id int)",
        "INSERT INTO analyzed VALUES (1)",
        "ANALYZE analyzed",
        "CREATE TABLE empty (id int) WITH (autovacuum_enabled = false)",
    )
    found = findings(target_db, "never-analyzed")
    assert where(found) == [("public", "fresh", None)]
    apply_fixes(target_db, found)
    assert findings(target_db, "never-analyzed") == []
