"""Applying migrations to a real target: recorded history, atomic steps, clear errors, resume."""

import pytest
from psycopg import sql as pgsql

from dashboard.targets.marker import is_marked
from migrations_app.engine import apply as applying
from migrations_app.engine.apply import ApplyRefused, apply_migration, current_lsn
from migrations_app.engine.history import read_history
from migrations_app.engine.plan import build_plan
from tests.migrations_app.conftest import FAST, tables

FIVE_STATEMENTS = """CREATE TABLE customers (id bigint PRIMARY KEY, name text);
INSERT INTO customers VALUES (1, 'a'), (2, 'b');
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers);
INSERT INTO orders VALUES (1, 1);
ALTER TABLE customers ADD COLUMN email text"""


def test_a_migration_is_applied_and_recorded_on_the_target(apply, target, target_sql):
    lsn_before = current_lsn(target)
    events = []
    result = apply(FIVE_STATEMENTS, migration_id="shop-42", events=events)
    assert result.status == "applied", result.message
    assert result.steps_applied == (1,) and result.steps_total == 1
    assert tables(target_sql) == ["customers", "orders"]
    assert [r.rows for r in result.statements] == [None, 2, None, 1, None]
    assert target_sql("SELECT %s::pg_lsn >= %s::pg_lsn", (result.lsn_before, lsn_before)) == [(True,)]
    history = read_history(target, "shop-42")
    assert history.describe() == "applied" and history.checksum == build_plan(FIVE_STATEMENTS).checksum
    assert (history.steps[0].first_statement, history.steps[0].last_statement) == (0, 4)
    assert history.steps[0].rows_affected == 3
    assert history.lsn_before == result.lsn_before
    assert [e.event for e in events].count("statement_done") == 5


def test_engine_statements_carry_the_dashboard_marker(apply, target_sql):
    target_sql("SELECT pg_stat_statements_reset()")
    assert apply("CREATE TABLE marked (id bigint)").ok
    texts = [
        q for (q,) in target_sql("SELECT query FROM pg_stat_statements WHERE query ~* 'neon_ops|advisory'")
    ]
    assert texts and all(is_marked(q) and "/* neon-ops-dashboard migrations */" in q for q in texts)


def test_an_error_in_statement_3_of_5_leaves_the_target_as_before_and_says_why(apply, target, target_sql):
    sql = FIVE_STATEMENTS.replace("REFERENCES customers", "REFERENCES no_such_table")
    result = apply(sql, migration_id="broken")
    assert result.status == "failed"
    assert (result.error.statement_index, result.error.line, result.error.sqlstate) == (2, 3, "42P01")
    assert 'relation "no_such_table" does not exist' in result.error.message
    assert result.message.startswith("Statement 3 (line 3) failed [42P01]")
    assert "Nothing was applied" in result.message
    assert tables(target_sql) == []
    assert read_history(target, "broken", steps_total=1).describe() == "not applied"


def test_an_error_after_a_committed_step_says_which_steps_were_applied(apply, target, target_sql):
    sql = "CREATE TABLE a (id bigint);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\nCREATE TABLE a (id bigint)"
    result = apply(sql, migration_id="half")
    assert result.status == "failed" and result.error.statement_index == 2
    assert result.steps_applied == (1, 2)
    assert "Steps applied and recorded before it: 1, 2 of 3" in result.message
    assert read_history(target, "half").describe() == "partly applied (steps 1-2 of 3)"


def test_a_rerun_resumes_after_the_recorded_steps(apply, target, target_sql):
    sql = "CREATE TABLE a (id bigint);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\nSELECT 1 / (SELECT count(*) FROM b)"
    target_sql("CREATE TABLE b (id bigint)")
    first = apply(sql, migration_id="resume")
    assert first.status == "failed" and first.error.sqlstate == "22012"  # division by zero
    target_sql("INSERT INTO b VALUES (1)")
    events = []
    second = apply(sql, migration_id="resume", events=events)
    assert second.status == "applied", second.message
    assert second.steps_already_applied == (1, 2) and second.steps_applied == (3,)
    assert [e.step for e in events if e.event == "step_already_applied"] == [1, 2]
    assert read_history(target, "resume").describe() == "applied"


def test_the_same_id_with_other_sql_is_refused(apply, target_sql):
    assert apply("CREATE TABLE a (id bigint)", migration_id="same").ok
    result = apply("CREATE TABLE b (id bigint)", migration_id="same")
    assert result.status == "failed" and "different SQL" in result.message
    assert tables(target_sql) == ["a"]


def test_sql_changed_since_approval_is_refused_before_touching_the_target(target, target_sql):
    plan = build_plan("CREATE TABLE a (id bigint)")
    with pytest.raises(ApplyRefused, match="checksum mismatch"):
        apply_migration(target, plan, migration_id="x", checksum="0" * 64, settings=FAST)
    assert target_sql("SELECT to_regnamespace('neon_ops')") == [(None,)]


def test_transaction_control_is_refused_before_touching_the_target(target, target_sql):
    plan = build_plan("BEGIN;\nCREATE TABLE a (id bigint);\nCOMMIT")
    with pytest.raises(ApplyRefused, match="Statement 1 .line 1.: BEGIN is refused"):
        apply_migration(target, plan, migration_id="x", checksum=plan.checksum, settings=FAST)
    assert tables(target_sql) == []


def test_statement_timeout_stops_the_apply_with_a_clear_reason(apply, target_sql):
    settings = applying.ApplySettings(**{**FAST.__dict__, "statement_timeout_ms": 300})
    result = apply("CREATE TABLE a (id bigint);\nSELECT pg_sleep(5)", settings=settings)
    assert result.status == "failed" and result.error.sqlstate == "57014"
    assert "statement timeout" in result.error.message
    assert tables(target_sql) == []


def test_session_settings_are_restored_and_the_apply_lock_released(apply, target, target_sql):
    before = target.execute("SHOW lock_timeout").fetchone()[0]
    assert apply("CREATE TABLE a (id bigint)").ok
    assert target.execute("SHOW lock_timeout").fetchone()[0] == before
    assert target_sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == [(0,)]


HOSTILE = '"Bobby""; DROP TABLE x; -- <script>alert(1)</script> é"'


def test_hostile_names_survive_apply_and_history(apply, target, target_sql):
    sql = (
        f"CREATE SCHEMA {HOSTILE};\n"
        f"CREATE TABLE {HOSTILE}.{HOSTILE} (id bigint, {HOSTILE} text);\n"
        f"INSERT INTO {HOSTILE}.{HOSTILE} VALUES (1, 'it''s <b>bold</b>');\n"
        f'CREATE INDEX CONCURRENTLY "<script>ix""" ON {HOSTILE}.{HOSTILE} ({HOSTILE})'
    )
    migration_id = "id with 'quotes' and <script>"
    result = apply(sql, migration_id=migration_id)
    assert result.status == "applied", result.message
    hostile = 'Bobby"; DROP TABLE x; -- <script>alert(1)</script> é'
    assert tables(target_sql, hostile) == [hostile]
    name = pgsql.Identifier(hostile)
    assert target_sql(pgsql.SQL("SELECT {} FROM {}.{}").format(name, name, name)) == [("it's <b>bold</b>",)]
    assert target_sql(
        "SELECT indisvalid FROM pg_index WHERE indexrelid::regclass::text LIKE '%<script>ix%'"
    ) == [(True,)]
    assert read_history(target, migration_id).describe() == "applied"
