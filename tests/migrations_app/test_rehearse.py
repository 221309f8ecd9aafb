"""Rehearsals: the real apply in a rolled-back transaction records locks and rewrites and leaves nothing."""

from migrations_app.engine.capture import LockHeld
from migrations_app.engine.history import read_history
from migrations_app.engine.plan import build_plan
from migrations_app.engine.rehearse import decide_rehearsal, rehearse_in_transaction, relation_sizes
from tests.migrations_app.conftest import FAST, tables

MB = 1_048_576
SQL = (
    "ALTER TABLE items ADD COLUMN flag boolean DEFAULT false;\n"  # metadata only (constant default)
    "ALTER TABLE items ALTER COLUMN price TYPE numeric;\n"  # rewrites the table
    "CREATE TABLE audit (id bigint REFERENCES items (id));\n"
    "UPDATE items SET flag = true WHERE id <= 10"
)


def rehearse(target, sql, *, limit=MB, **kwargs):
    plan = build_plan(sql)
    decision = decide_rehearsal(plan, relation_sizes(target, plan), max_table_bytes=limit)
    return rehearse_in_transaction(
        target, plan, decision=decision, migration_id="rehearsal", settings=FAST, **kwargs
    )


def test_rehearsal_records_locks_rewrites_and_rows_and_leaves_nothing_behind(target, target_sql):
    target_sql(
        "CREATE TABLE items (id bigint PRIMARY KEY, price int);"
        "INSERT INTO items SELECT g, g FROM generate_series(1, 100) g"
    )
    schema_before = target_sql(
        "SELECT relname, relfilenode FROM pg_class WHERE relnamespace = 'public'::regnamespace"
    )
    rehearsal = rehearse(target, SQL)
    assert rehearsal.ran and rehearsal.result.status == "applied", (
        rehearsal.reason or rehearsal.result.message
    )
    add_column, change_type, create_audit, update = rehearsal.result.statements
    assert LockHeld("public.items", "table", "AccessExclusiveLock") in add_column.locks
    assert add_column.rewrites == ()
    assert change_type.rewrites == ("public.items",)
    assert LockHeld("public.items_pkey", "index", "AccessExclusiveLock") in change_type.locks
    # Locks already held by the step are not repeated; the new table's FK takes its own lock on items.
    assert LockHeld("public.items", "table", "AccessExclusiveLock") not in change_type.locks
    assert LockHeld("public.audit", "table", "AccessExclusiveLock") in create_audit.locks
    assert update.rows == 10
    assert all(lock.relation.startswith("public.") for s in rehearsal.result.statements for lock in s.locks)
    # Nothing remains: no change, no history, not even the neon_ops schema.
    assert tables(target_sql) == ["items"]
    assert target_sql(
        "SELECT relname, relfilenode FROM pg_class WHERE relnamespace = 'public'::regnamespace"
    ) == (schema_before)
    assert target_sql("SELECT to_regnamespace('neon_ops')") == [(None,)]
    assert read_history(target, "rehearsal").describe() == "not applied"
    assert target.info.transaction_status.name == "IDLE"


def test_a_failing_rehearsal_reports_the_statement_and_still_leaves_nothing(target, target_sql):
    target_sql("CREATE TABLE items (id bigint PRIMARY KEY, price int)")
    rehearsal = rehearse(target, "ALTER TABLE items ADD COLUMN a int;\nALTER TABLE items ADD COLUMN a int")
    assert rehearsal.ran and rehearsal.result.status == "failed"
    assert (rehearsal.result.error.statement_index, rehearsal.result.error.sqlstate) == (1, "42701")
    assert [s.index for s in rehearsal.result.statements] == [0]
    assert target_sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'items'") == [(2,)]
    assert target_sql("SELECT to_regnamespace('neon_ops')") == [(None,)]


def test_no_rehearsal_for_statements_that_cannot_run_in_a_transaction(target, target_sql):
    target_sql("CREATE TABLE items (id bigint)")
    rehearsal = rehearse(
        target, "ALTER TABLE items ADD COLUMN a int;\nCREATE INDEX CONCURRENTLY i ON items (a)"
    )
    assert not rehearsal.ran
    assert rehearsal.reason.startswith("Statement 2 (line 2) cannot run inside a transaction")
    assert target_sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'items'") == [(1,)]


def test_no_rehearsal_on_a_table_above_the_size_limit(target, target_sql):
    target_sql(
        "CREATE TABLE big (id bigint, pad text); INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g"
    )
    rehearsal = rehearse(target, "ALTER TABLE big ALTER COLUMN id TYPE numeric", limit=MB)
    assert not rehearsal.ran
    assert (
        rehearsal.reason.startswith("public.big is ")
        and "above the rehearsal limit of 1.0 MB" in rehearsal.reason
    )
    assert target_sql("SELECT data_type FROM information_schema.columns WHERE column_name = 'id'") == [
        ("bigint",)
    ]


def test_no_rehearsal_when_a_size_is_unknown():
    plan = build_plan(
        "ALTER TABLE s.t ADD COLUMN a int;\nCREATE TABLE fresh (id bigint);\nINSERT INTO fresh VALUES (1)"
    )
    assert decide_rehearsal(plan, {"s.t": 10}, max_table_bytes=MB).allowed
    decision = decide_rehearsal(plan, {}, max_table_bytes=MB)
    assert (
        not decision.allowed
        and decision.reason == "The size of s.t is not known, so a rehearsal could hold it too long."
    )


def test_capture_samples_the_locks_of_a_concurrent_build_from_a_second_connection(
    apply, open_target, target_sql
):
    target_sql(
        "CREATE FUNCTION slow_id(bigint) RETURNS bigint IMMUTABLE LANGUAGE sql AS 'SELECT $1 FROM pg_sleep(0.01)';"
        "CREATE TABLE t (id bigint); INSERT INTO t SELECT generate_series(1, 20)"
    )
    result = apply(
        "CREATE INDEX CONCURRENTLY t_slow ON t (slow_id(id))", capture_effects=True, side_connect=open_target
    )
    assert result.status == "applied", result.message
    (report,) = result.statements
    assert LockHeld("public.t", "table", "ShareUpdateExclusiveLock") in report.locks
    assert report.rewrites == ()


def test_capture_without_a_second_connection_says_locks_were_not_sampled(apply, target_sql):
    target_sql("CREATE TABLE t (id bigint)")
    result = apply("CREATE INDEX CONCURRENTLY t_id ON t (id)", capture_effects=True)
    assert result.statements[0].locks is None
    assert result.statements[0].note == "locks not sampled (no second connection given)"
