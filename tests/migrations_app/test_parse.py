"""Splitting and classifying migration scripts (pglast, no database)."""

import pytest

from migrations_app.engine.classify import RelationName, may_matter, statements_that_may_matter
from migrations_app.engine.parse import SqlSyntaxError, checksum, split_sql
from migrations_app.engine.plan import build_plan

HOSTILE_TABLE = '"Bobby""; DROP TABLE x; -- <script>alert(1)</script> é"'


def test_statements_keep_their_text_and_start_line():
    sql = "-- header\nCREATE TABLE a (id bigint);\n\n/* two\nlines */ ALTER TABLE a\n  ADD COLUMN b text;\nSELECT 'semi;colon' ;"
    pieces = split_sql(sql)
    assert [p.text for p in pieces] == [
        "CREATE TABLE a (id bigint)",
        "ALTER TABLE a\n  ADD COLUMN b text",
        "SELECT 'semi;colon'",
    ]
    assert [(p.line, p.column) for p in pieces] == [(2, 1), (5, 10), (7, 1)]


def test_syntax_error_points_at_line_and_column_of_the_whole_script():
    sql = "CREATE TABLE a (id bigint);\nSELECT 'é';\n   ALTR TABLE a ADD COLUMN b int;"
    with pytest.raises(SqlSyntaxError) as caught:
        split_sql(sql)
    assert (caught.value.line, caught.value.column) == (3, 4)
    assert "ALTR" in caught.value.message


def test_checksum_changes_with_any_byte():
    assert checksum("SELECT 1") != checksum("SELECT 1 ")
    assert checksum("SELECT 1") == checksum("SELECT 1")
    assert len(checksum("")) == 64


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE INDEX CONCURRENTLY i ON t (a)",
        "DROP INDEX CONCURRENTLY i",
        "REINDEX (CONCURRENTLY) TABLE t",
        "REINDEX SCHEMA s",
        "REINDEX DATABASE d",
        "VACUUM t",
        "VACUUM (ANALYZE) t",
        "CLUSTER",
        "CREATE DATABASE d",
        "DROP DATABASE d",
        "CREATE TABLESPACE ts LOCATION '/tmp/x'",
        "DROP TABLESPACE ts",
        "ALTER SYSTEM SET work_mem = '8MB'",
        "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
        "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p",
        "DROP SUBSCRIPTION s",
        "DISCARD ALL",
        "COMMIT PREPARED 'g'",
        "ROLLBACK PREPARED 'g'",
    ],
)
def test_statements_that_cannot_run_in_a_transaction_are_marked(sql):
    statement = build_plan(sql).statements[0]
    assert not statement.transactional
    assert "cannot run inside a transaction block" in statement.non_transactional


@pytest.mark.parametrize(
    "sql",
    [
        "ANALYZE t",
        "CLUSTER t USING i",
        "REINDEX TABLE t",
        "REINDEX (CONCURRENTLY false) TABLE t",
        "CREATE INDEX i ON t (a)",
        "ALTER TABLE p DETACH PARTITION c",
        "DISCARD PLANS",
        "ALTER TYPE mood ADD VALUE 'meh'",
    ],
)
def test_ordinary_statements_are_transactional(sql):
    assert build_plan(sql).statements[0].transactional


@pytest.mark.parametrize(
    "sql",
    [
        "BEGIN",
        "START TRANSACTION",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT s",
        "RELEASE s",
        "PREPARE TRANSACTION 'g'",
    ],
)
def test_transaction_control_is_refused(sql):
    assert "the applier owns transactions" in build_plan(sql).statements[0].refused


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("DROP TABLE orders", "drops table orders"),
        ("DROP SCHEMA s CASCADE", "drops schema s"),
        ("ALTER TABLE t DROP COLUMN c", "drops column c of t"),
        ("ALTER TABLE t ALTER COLUMN c TYPE smallint", "changes the type of t.c"),
        ("TRUNCATE t", "empties t"),
        ("DELETE FROM t", "deletes every row of t"),
        ("UPDATE t SET a = 1", "updates every row of t"),
        ("DROP VIEW v CASCADE", "CASCADE"),
    ],
)
def test_destructive_statements_say_what_they_destroy(sql, words):
    assert words in build_plan(sql).statements[0].destructive


@pytest.mark.parametrize(
    "sql", ["DELETE FROM t WHERE id = 1", "DROP INDEX i", "DROP VIEW v", "ALTER TABLE t ADD COLUMN c int"]
)
def test_harmless_statements_are_not_destructive(sql):
    assert build_plan(sql).statements[0].destructive is None


def test_relations_are_schema_qualified_from_the_ast_without_cte_names():
    sql = (
        "WITH recent AS (SELECT * FROM sales.orders) "
        "UPDATE public.customers c SET n = 1 FROM recent WHERE recent.cid = c.id;\n"
        "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES s2.parent (id);\n"
        "DROP INDEX CONCURRENTLY s3.some_index"
    )
    plan = build_plan(sql)
    assert plan.statements[0].relations == (
        RelationName("public", "customers"),
        RelationName("sales", "orders"),
    )
    assert plan.statements[1].relations == (RelationName(None, "t"), RelationName("s2", "parent"))
    assert plan.statements[2].relations == (RelationName("s3", "some_index"),)


def test_relations_created_by_the_script_are_not_reported_as_existing():
    plan = build_plan("CREATE TABLE fresh (id bigint);\nINSERT INTO fresh SELECT id FROM old;")
    assert plan.statements[0].creates == (RelationName(None, "fresh"),)
    assert plan.relations == (RelationName(None, "old"),)


def test_steps_group_transactional_statements_and_isolate_the_others():
    plan = build_plan(
        "CREATE TABLE a (id bigint);\nALTER TABLE a ADD COLUMN b text;\n"
        "CREATE INDEX CONCURRENTLY a_b ON a (b);\nVACUUM a;\nALTER TABLE a ADD COLUMN c text"
    )
    assert [(s.number, s.label, s.transactional) for s in plan.steps] == [
        (1, "statements 1-2", True),
        (2, "statement 3", False),
        (3, "statement 4", False),
        (4, "statement 5", True),
    ]
    assert plan.steps[1].statements[0].concurrent_index.name == "a_b"


def test_hostile_names_survive_splitting():
    sql = f"CREATE TABLE {HOSTILE_TABLE} (id bigint);\nINSERT INTO {HOSTILE_TABLE} VALUES (1)"
    plan = build_plan(sql)
    assert len(plan.statements) == 2
    hostile = RelationName(None, 'Bobby"; DROP TABLE x; -- <script>alert(1)</script> é')
    assert plan.statements[0].creates == (hostile,)
    assert plan.statements[1].relations == (hostile,)
    assert hostile.sql == HOSTILE_TABLE


def test_an_empty_script_is_refused():
    with pytest.raises(ValueError, match="no statements"):
        build_plan("-- nothing here\n")


KEYWORD_SCRIPT = """-- drop everything? no: a comment after nothing
CREATE TABLE dropped_items (id bigint, "update" text, prepared_at timestamptz);
INSERT INTO dropped_items VALUES (1, 'drop table x; vacuum', now());
CREATE INDEX CONCURRENTLY dropped_items_id ON dropped_items (id);
/* begin */ ALTER TABLE dropped_items ADD COLUMN end_at date;
UPDATE dropped_items SET "update" = 'x';
COMMENT ON TABLE dropped_items IS 'rollback_plan';  -- truncate later
SELECT 1 AS prepare_x, 2 AS x_type;
DELETE FROM dropped_items WHERE id = 1;
SELECT 'İstanbul'
"""


@pytest.mark.parametrize("sql", [KEYWORD_SCRIPT, KEYWORD_SCRIPT.replace("İstanbul", "Istanbul")])
def test_the_one_pass_keyword_scan_finds_every_statement_the_per_statement_check_finds(sql):
    """The whole-script scan may mark a statement too many (a keyword in a comment after it), never one too few."""
    pieces = split_sql(sql)
    per_statement = {p.index for p in pieces if may_matter(p.text)}
    one_pass = statements_that_may_matter(sql, [p.offset for p in pieces])
    assert per_statement <= one_pass
    assert one_pass - per_statement <= {5}  # "-- truncate later" follows statement 6 (index 5)
    # Quoted words count (cheap to parse one more); words inside other words and names do not.
    assert per_statement == {0, 1, 2, 4, 7}


def test_statements_without_keywords_are_not_parsed_for_lint_and_still_classified_when_asked():
    plan = build_plan("CREATE TABLE t (id int);\nDROP TABLE t;")
    first, second = plan.statements
    assert not first.may_matter and "tree" not in first.__dict__  # lint never needed its tree
    assert second.may_matter and second.destructive.startswith("drops table t")
    assert first.kind == "CreateStmt"  # read on demand


def test_reading_every_tree_in_one_call_gives_each_statement_what_it_has_parsed_alone():
    sql = (
        "CREATE TABLE a (id int); -- drop later\n"
        "INSERT INTO a SELECT * FROM b JOIN s.c ON true;\n"
        "SELECT 1 -- a comment before the semicolon\n;\n"
        'WITH w AS (SELECT 1) UPDATE "é" SET x = 1 FROM w, d WHERE true;\n'
        "ALTER TABLE a ADD COLUMN n int"
    )
    together, alone = build_plan(sql), build_plan(sql)
    together.read_trees()
    assert all("tree" in s.__dict__ for s in together.statements)
    # (the trees differ only in their "location" fields, which nothing reads)
    assert [(s.facts, s.relations) for s in together.statements] == [
        (s.facts, s.relations) for s in alone.statements
    ]
    assert [(s.kind, s.relations) for s in together.statements] == [
        ("CreateStmt", ()),
        ("InsertStmt", (RelationName(None, "a"), RelationName(None, "b"), RelationName("s", "c"))),
        ("SelectStmt", ()),
        ("UpdateStmt", (RelationName(None, "é"), RelationName(None, "d"))),
        ("AlterTableStmt", (RelationName(None, "a"),)),
    ]
