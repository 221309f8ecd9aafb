"""How a read talks to the target: permissions, fixed statement count, read-only, timeouts, own marker."""

import threading

from psycopg import sql

from dashboard.targets.marker import is_marked
from migrations_app.readers import read_history
from tests.migrations_app.readers_fixtures import (  # noqa: F401
    SETTINGS,
    WatchingCursor,
    create_tool_table,
    only,
    reader_role,
    run_sql,
    target,
)
from tests.support import pg

TABLES = ("django", "prisma", "flyway", "sqitch", "drizzle_old", "golang_migrate")


def fill(dbname: str, rows: int) -> None:
    """`rows` rows in each history table (Sqitch: changes and events)."""
    run_sql(dbname,
        "INSERT INTO django_migrations (app, name, applied) SELECT 'shop', 'm' || i, now() FROM generate_series(1, %(n)s) i",
        """INSERT INTO _prisma_migrations (id, checksum, migration_name, finished_at)
           SELECT i::text, 'c', 'm' || i, now() FROM generate_series(1, %(n)s) i""",
        """INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, installed_by,
           execution_time, success) SELECT i, i::text, 'm', 'SQL', 'V' || i || '.sql', 'ci', 1, true
           FROM generate_series(1, %(n)s) i""",
        "INSERT INTO sqitch.projects (project, creator_name, creator_email) VALUES ('p', 'a', 'a@x')",
        """INSERT INTO sqitch.changes (change_id, change, project, committer_name, committer_email, planned_at,
           planner_name, planner_email) SELECT 'id' || i, 'c' || i, 'p', 'a', 'a@x', now(), 'a', 'a@x'
           FROM generate_series(1, %(n)s) i""",
        """INSERT INTO sqitch.events (event, change_id, change, project, committer_name, committer_email, planned_at,
           planner_name, planner_email) SELECT 'deploy', 'id' || i, 'c' || i, 'p', 'a', 'a@x', now(), 'a', 'a@x'
           FROM generate_series(1, %(n)s) i""",
        "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) SELECT md5(i::text), i FROM generate_series(1, %(n)s) i",
        "INSERT INTO schema_migrations (version, dirty) VALUES (%(n)s, false)",
        params={"n": rows},
    )  # fmt: skip


def watched_read(dbname: str, **kwargs):
    WatchingCursor.reset()
    with target(dbname, cursor_factory=WatchingCursor) as conn:
        result = read_history(conn, SETTINGS, **kwargs)
    return result, list(WatchingCursor.statements), list(WatchingCursor.write_errors)


def own(statements: list[str]) -> list[str]:
    return [text for text in statements if is_marked(text)]


def test_statement_count_is_fixed_whatever_the_number_of_rows(target_db):
    for tool in TABLES:
        create_tool_table(target_db, tool)
    fill(target_db, 3)
    small, small_statements, _ = watched_read(target_db)
    run_sql(target_db, "TRUNCATE django_migrations, _prisma_migrations, flyway_schema_history, drizzle.__drizzle_migrations,"
            " schema_migrations, sqitch.events, sqitch.changes, sqitch.projects CASCADE")  # fmt: skip
    fill(target_db, 400)
    large, large_statements, _ = watched_read(target_db, limit=1000)
    assert len(large.entries()) == 5 * 400 + 1 and len(small.entries()) == 5 * 3 + 1
    # One catalog query, then one per history table (Sqitch's changes and events in one).
    assert len(own(small_statements)) == len(own(large_statements)) == 1 + len(TABLES)
    assert len(small_statements) == len(large_statements)


def test_every_statement_is_marked_or_a_transaction_setting(target_db):
    create_tool_table(target_db, "prisma")
    _, statements, _ = watched_read(target_db)
    for text in statements:
        assert is_marked(text) or text.startswith(("SET TRANSACTION READ ONLY", "SET LOCAL")), text


def test_reads_run_in_read_only_transactions(target_db):
    """A write tried inside the same transaction, right before each history statement, is refused."""
    create_tool_table(target_db, "prisma")
    create_tool_table(target_db, "sqitch")
    _, statements, write_errors = watched_read(target_db)
    assert len(write_errors) == len(own(statements)) == 3
    assert set(write_errors) == {"ReadOnlySqlTransaction"}
    with pg.admin_connect(target_db) as conn:
        assert conn.execute("SELECT to_regclass('write_probe')").fetchone()[0] is None


def test_a_table_the_role_cannot_read_is_reported_and_the_rest_is_read(target_db, reader_role):  # noqa: F811
    user, password = reader_role
    create_tool_table(target_db, "django")
    create_tool_table(target_db, "prisma")
    create_tool_table(target_db, "sqitch")
    run_sql(target_db, "INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0001_initial', now())",
            sql.SQL("GRANT SELECT ON django_migrations TO {}").format(sql.Identifier(user)))  # fmt: skip
    with target(target_db, user=user, password=password) as conn:
        result = read_history(conn, SETTINGS)
    assert [entry.key for entry in only(result, "django").entries] == ["shop.0001_initial"]
    unreadable = {(item.tool, item.schema, item.table): item for item in result.unreadable}
    assert unreadable.keys() == {("prisma", "public", "_prisma_migrations"), ("sqitch", "sqitch", "changes")}
    prisma = unreadable["prisma", "public", "_prisma_migrations"]
    assert prisma.code == "permission"
    assert "permission denied" in prisma.reason and "_prisma_migrations" in prisma.reason
    assert unreadable["sqitch", "sqitch", "changes"].reason.startswith("Permission denied")


def test_a_locked_table_times_out_as_busy_and_the_rest_is_read(target_db):
    create_tool_table(target_db, "django")
    create_tool_table(target_db, "flyway")
    run_sql(
        target_db, "INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0001_initial', now())"
    )
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with pg.admin_connect(target_db) as conn:
            with conn.transaction():
                conn.execute("LOCK TABLE flyway_schema_history IN ACCESS EXCLUSIVE MODE")
                locked.set()
                release.wait(20)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        with target(target_db) as conn:
            result = read_history(conn, SETTINGS)
    finally:
        release.set()
        holder.join()
    assert [entry.key for entry in only(result, "django").entries] == ["shop.0001_initial"]
    [busy] = result.unreadable
    assert (busy.tool, busy.code) == ("flyway", "busy")
    assert "busy" in busy.reason


def test_read_at_is_the_target_clock(target_db):
    with pg.admin_connect(target_db) as conn:
        before = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    result, _, _ = watched_read(target_db)
    with pg.admin_connect(target_db) as conn:
        after = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    assert before <= result.read_at <= after
