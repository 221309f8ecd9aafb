"""Each tool's history table, created with the tool's own definition and filled as the tool would, read back."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from migrations_app.readers import APPLIED, DIRTY, FAILED, PARTIAL, PENDING, ROLLED_BACK, SKIPPED
from tests.migrations_app.readers_fixtures import create_tool_table, only, read, run_sql, sqitch_rows

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def keys(history):
    return [entry.key for entry in history.entries]


def test_django_migrations_newest_first_with_apply_times(target_db):
    create_tool_table(target_db, "django")
    run_sql(target_db, """INSERT INTO django_migrations (app, name, applied) VALUES
        ('auth', '0001_initial', '2024-05-01 12:00+00'), ('shop', '0001_initial', '2024-05-02 12:00+00'),
        ('shop', '0002_price', '2024-05-03 12:00+00')""")  # fmt: skip
    history = only(read(target_db), "django")
    assert (history.schema, history.table) == ("public", "django_migrations")
    assert keys(history) == ["shop.0002_price", "shop.0001_initial", "auth.0001_initial"]
    newest = history.entries[0]
    assert newest.applied_at == T0 + timedelta(days=2)
    assert newest.time_is_apply_time and newest.success is True and newest.state == APPLIED
    assert newest.details["app"] == "shop" and newest.description == "0002_price"


def test_drizzle_old_table_keeps_only_the_migration_time(target_db):
    create_tool_table(target_db, "drizzle_old")
    millis = int(T0.timestamp() * 1000)
    run_sql(target_db, "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('aaa111', %s), ('bbb222', %s)",
            params=(millis, millis + 60_000))  # fmt: skip
    history = only(read(target_db), "drizzle")
    assert history.schema == "drizzle"
    assert keys(history) == ["bbb222", "aaa111"]
    oldest = history.entries[1]
    assert oldest.applied_at == T0 and oldest.time_is_apply_time is False
    assert oldest.details["created_at_ms"] == millis and oldest.details["hash"] == "aaa111"


def test_drizzle_new_table_has_names_and_apply_times(target_db):
    create_tool_table(target_db, "drizzle_new")
    millis = int(T0.timestamp() * 1000)
    run_sql(target_db, """INSERT INTO drizzle.__drizzle_migrations (hash, created_at, name, applied_at)
        VALUES ('aaa111', %s, '0000_init', '2024-06-01 08:00+00')""", params=(millis,))  # fmt: skip
    [entry] = only(read(target_db), "drizzle").entries
    assert entry.key == "0000_init" and entry.description == "0000_init"
    assert entry.applied_at == datetime(2024, 6, 1, 8, 0, tzinfo=UTC) and entry.time_is_apply_time is True
    assert entry.details["migration_time"] == T0.isoformat()


def test_drizzle_table_in_a_schema_of_its_own_is_found(target_db):
    """drizzle's migrationsSchema option moves the table; it is found by name in any schema."""
    run_sql(target_db, "CREATE SCHEMA app_meta",
            "CREATE TABLE app_meta.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)",
            "INSERT INTO app_meta.__drizzle_migrations (hash, created_at) VALUES ('ccc', 1714564800000)")  # fmt: skip
    history = only(read(target_db), "drizzle")
    assert history.schema == "app_meta" and keys(history) == ["ccc"]


def test_prisma_finished_failed_and_rolled_back(target_db):
    create_tool_table(target_db, "prisma")
    run_sql(target_db, """INSERT INTO _prisma_migrations
        (id, checksum, migration_name, started_at, finished_at, rolled_back_at, applied_steps_count, logs) VALUES
        ('1', 'c1', '20240501_init', '2024-05-01 12:00+00', '2024-05-01 12:00:02+00', NULL, 1, NULL),
        ('2', 'c2', '20240502_bad', '2024-05-02 12:00+00', NULL, '2024-05-02 13:00+00', 0, 'boom'),
        ('3', 'c3', '20240503_broken', '2024-05-03 12:00+00', NULL, NULL, 0, 'ERROR: column "x" contains null values')
        """)  # fmt: skip
    history = only(read(target_db), "prisma")
    by_key = {entry.key: entry for entry in history.entries}
    assert keys(history) == ["20240503_broken", "20240502_bad", "20240501_init"]
    assert (by_key["20240501_init"].state, by_key["20240501_init"].success) == (APPLIED, True)
    assert by_key["20240501_init"].applied_at == T0 + timedelta(seconds=2)
    assert (by_key["20240502_bad"].state, by_key["20240502_bad"].success) == (ROLLED_BACK, False)
    broken = by_key["20240503_broken"]
    assert (broken.state, broken.success) == (FAILED, False)
    assert broken.applied_at == T0 + timedelta(days=2)
    assert broken.details["logs"].startswith("ERROR: column")
    assert broken.details["applied_steps_count"] == 0


def test_alembic_reads_the_current_heads_only(target_db):
    create_tool_table(target_db, "alembic")
    run_sql(target_db, "INSERT INTO alembic_version (version_num) VALUES ('ae1027a6acf'), ('3512b954651e')")
    history = only(read(target_db), "alembic")
    assert sorted(keys(history)) == ["3512b954651e", "ae1027a6acf"]
    assert all(entry.applied_at is None and not entry.time_is_apply_time for entry in history.entries)
    assert all(entry.details == {"current_head": True} for entry in history.entries)


def test_flyway_success_flag_and_repeatable_migrations(target_db):
    create_tool_table(target_db, "flyway")
    run_sql(target_db, """INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,
        checksum, installed_by, installed_on, execution_time, success) VALUES
        (1, '1', 'init', 'SQL', 'V1__init.sql', 123, 'ci', '2024-05-01 12:00', 40, true),
        (2, NULL, 'views', 'SQL', 'R__views.sql', 456, 'ci', '2024-05-02 12:00', 10, true),
        (3, '2', 'add index', 'SQL', 'V2__add_index.sql', 789, 'ci', '2024-05-03 12:00', 5, false)""")  # fmt: skip
    history = only(read(target_db), "flyway")
    assert keys(history) == ["2", "R__views.sql", "1"]
    failed, repeatable, first = history.entries
    assert (failed.state, failed.success, failed.description) == (FAILED, False, "add index")
    assert (repeatable.state, first.state) == (APPLIED, APPLIED)
    assert first.details["installed_rank"] == 1 and first.details["execution_time"] == 40
    assert first.applied_at is not None and first.applied_at.tzinfo is not None


def test_atlas_partial_when_fewer_statements_applied_or_an_error(target_db):
    create_tool_table(target_db, "atlas")
    run_sql(target_db, """INSERT INTO atlas_schema_revisions.atlas_schema_revisions
        (version, description, type, applied, total, executed_at, execution_time, error, error_stmt, hash,
         operator_version) VALUES
        ('20240501', 'init', 2, 3, 3, '2024-05-01 12:00+00', 1200000, NULL, NULL, 'h1', 'Atlas CLI v0.25'),
        ('20240502', 'users', 2, 1, 3, '2024-05-02 12:00+00', 800000, 'pq: relation "x" exists',
         'CREATE TABLE x ()', 'h2', 'Atlas CLI v0.25')""")  # fmt: skip
    history = only(read(target_db), "atlas")
    partial, done = history.entries
    assert (partial.key, partial.state, partial.success) == ("20240502", PARTIAL, False)
    assert partial.details["error"] == 'pq: relation "x" exists' and partial.details["applied"] == 1
    assert (done.key, done.state, done.applied_at) == ("20240501", APPLIED, T0)


def test_rails_schema_migrations_versions(target_db):
    create_tool_table(target_db, "rails")
    run_sql(
        target_db, "INSERT INTO schema_migrations (version) VALUES ('20240501120000'), ('20240502120000')"
    )
    history = only(read(target_db), "rails")
    assert keys(history) == ["20240502120000", "20240501120000"]
    assert not read(target_db).tool("golang-migrate")
    assert history.entries[0].applied_at is None


@pytest.mark.parametrize("dirty, state", [(True, DIRTY), (False, APPLIED)])
def test_golang_migrate_version_and_dirty_flag(target_db, dirty, state):
    create_tool_table(target_db, "golang_migrate")
    run_sql(
        target_db, "INSERT INTO schema_migrations (version, dirty) VALUES (20240502, %s)", params=(dirty,)
    )
    result = read(target_db)
    [entry] = only(result, "golang-migrate").entries
    assert (entry.key, entry.state, entry.success, entry.details) == (
        "20240502",
        state,
        not dirty,
        {"dirty": dirty},
    )
    assert not result.tool("rails")


def test_rails_and_golang_migrate_side_by_side_in_two_schemas(target_db):
    create_tool_table(target_db, "rails", schema="web")
    create_tool_table(target_db, "golang_migrate", schema="jobs")
    run_sql(target_db, "INSERT INTO web.schema_migrations VALUES ('20240101000000')",
            "INSERT INTO jobs.schema_migrations VALUES (7, false)")  # fmt: skip
    result = read(target_db)
    assert (only(result, "rails").schema, keys(only(result, "rails"))) == ("web", ["20240101000000"])
    assert (only(result, "golang-migrate").schema, keys(only(result, "golang-migrate"))) == ("jobs", ["7"])


def test_sqitch_changes_with_their_latest_event(target_db):
    sqitch_rows(target_db)
    result = read(target_db)
    history = only(result, "sqitch")
    assert history.schema == "sqitch" and history.table == "changes"
    states = [(entry.description, entry.state, entry.applied_at) for entry in history.entries]
    assert states == [
        ("lists", FAILED, T0 + timedelta(days=6)),
        ("flips", ROLLED_BACK, T0 + timedelta(days=5)),
        ("widgets", APPLIED, T0 + timedelta(days=3)),
        ("users", APPLIED, T0),
    ]
    users = history.entries[-1]
    assert (
        users.key == "id-users"
        and users.details["note"] == "Creates users"
        and users.details["project"] == "flipr"
    )
    assert not [h for h in result.tools if h.table == "events"], "events is read together with changes"


def test_liquibase_exectypes(target_db):
    create_tool_table(target_db, "liquibase")
    run_sql(target_db, """INSERT INTO databasechangelog (id, author, filename, dateexecuted, orderexecuted, exectype,
        md5sum, description, liquibase, deployment_id) VALUES
        ('1', 'ann', 'db/changelog.xml', '2024-05-01 12:00', 1, 'EXECUTED', '9:abc', 'createTable tableName=users', '4.27.0', '1234567890'),
        ('2', 'ann', 'db/changelog.xml', '2024-05-02 12:00', 2, 'MARK_RAN', '9:def', 'sql', '4.27.0', '1234567891'),
        ('3', 'bob', 'db/changelog.xml', '2024-05-03 12:00', 3, 'SKIPPED', '9:aaa', 'sql', '4.27.0', '1234567892'),
        ('4', 'bob', 'db/changelog.xml', '2024-05-04 12:00', 4, 'FAILED', '9:ghi', 'addColumn', '4.27.0', '1234567893')
        """)  # fmt: skip
    history = only(read(target_db), "liquibase")
    assert [(entry.key, entry.state) for entry in history.entries] == [
        ("4::bob::db/changelog.xml", FAILED),
        ("3::bob::db/changelog.xml", SKIPPED),
        ("2::ann::db/changelog.xml", APPLIED),
        ("1::ann::db/changelog.xml", APPLIED),
    ]
    assert history.entries[-1].description == "createTable tableName=users"
    assert history.entries[2].details["exectype"] == "MARK_RAN"


def test_pgroll_done_and_in_progress(target_db):
    create_tool_table(target_db, "pgroll")
    run_sql(target_db, """INSERT INTO pgroll.migrations (schema, name, migration, created_at, updated_at, parent, done)
        VALUES ('public', '01_create_users', '{"operations": []}', '2024-05-01 12:00', '2024-05-01 12:05', NULL, true),
               ('public', '02_add_email', '{"operations": []}', '2024-05-02 12:00', '2024-05-02 12:00', '01_create_users', false)
        """)  # fmt: skip
    history = only(read(target_db), "pgroll")
    pending, done = history.entries
    assert (pending.key, pending.state, pending.success) == ("02_add_email", PENDING, None)
    assert (done.key, done.state, done.success) == ("01_create_users", APPLIED, True)
    assert done.details["parent"] is None and pending.details["parent"] == "01_create_users"
    assert done.applied_at - pending.applied_at == timedelta(days=-1, minutes=5)


def test_unknown_columns_of_newer_versions_are_ignored(target_db):
    create_tool_table(target_db, "prisma")
    run_sql(target_db, "ALTER TABLE _prisma_migrations ADD COLUMN shard_id text DEFAULT 'eu-1', ADD COLUMN extra jsonb",
            "INSERT INTO _prisma_migrations (id, checksum, migration_name, finished_at) VALUES ('1', 'c', 'm1', now())")  # fmt: skip
    [entry] = only(read(target_db), "prisma").entries
    assert entry.state == APPLIED
    assert "shard_id" not in entry.details and "extra" not in entry.details


def test_missing_optional_columns_are_tolerated(target_db):
    create_tool_table(target_db, "flyway")
    run_sql(target_db, "ALTER TABLE flyway_schema_history DROP COLUMN execution_time, DROP COLUMN installed_by",
            """INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, success)
               VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', true)""")  # fmt: skip
    [entry] = only(read(target_db), "flyway").entries
    assert (entry.key, entry.state) == ("1", APPLIED)
    assert "execution_time" not in entry.details and entry.details["script"] == "V1__init.sql"


def test_a_table_missing_a_required_column_is_listed_with_the_problem(target_db):
    run_sql(target_db, "CREATE TABLE _prisma_migrations (id text PRIMARY KEY, started_at timestamptz)",
            "INSERT INTO _prisma_migrations VALUES ('1', now())")  # fmt: skip
    history = only(read(target_db), "prisma")
    assert history.entries == [] and history.problem == "required column(s) missing: migration_name"


def test_unrelated_tables_with_common_names_are_not_taken_for_history(target_db):
    run_sql(target_db, "CREATE TABLE public.migrations (id int, title text)",
            "CREATE TABLE public.changes (id int, body text)", "CREATE TABLE public.events (id int)")  # fmt: skip
    result = read(target_db)
    assert result.tools == [] and result.unreadable == []
    assert result.read_at is not None


def test_an_empty_database_reads_as_nothing_found(target_db):
    result = read(target_db)
    assert (result.tools, result.unreadable) == ([], [])


def test_hostile_schema_and_migration_names_come_back_unchanged(target_db):
    schema = 'we"ird <script>'
    names = ["'; DROP TABLE users; --", '<script>alert("x")</script>', "Ünïcode /* comment */ \u202e"]
    create_tool_table(target_db, "prisma", schema=schema)
    with_schema = 'INSERT INTO "we""ird <script>"._prisma_migrations (id, checksum, migration_name, started_at, finished_at) '
    for index, name in enumerate(names):
        run_sql(target_db, with_schema + "VALUES (%s, 'c', %s, now() - make_interval(mins => %s), now())",
                params=(str(index), name, index))  # fmt: skip
    history = only(read(target_db), "prisma")
    assert history.schema == schema
    assert keys(history) == names
    run_sql(target_db, 'SELECT 1 FROM "we""ird <script>"._prisma_migrations')  # nothing was dropped


def test_the_row_limit_keeps_the_newest_and_says_it_cut(target_db):
    create_tool_table(target_db, "flyway")
    run_sql(target_db, """INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,
        installed_by, execution_time, success)
        SELECT i, i::text, 'm' || i, 'SQL', 'V' || i || '__m.sql', 'ci', 1, true FROM generate_series(1, 30) i""")  # fmt: skip
    history = only(read(target_db, limit=10), "flyway")
    assert keys(history) == [str(i) for i in range(30, 20, -1)] and history.truncated
    assert not only(read(target_db, limit=30), "flyway").truncated


@pytest.mark.parametrize("limit", [0, -1, 10_001, "50", 2.5, True])
def test_a_bad_row_limit_is_refused_clearly(target_db, limit):
    with pytest.raises(ValueError, match="row limit must be a whole number from 1 to 10000"):
        read(target_db, limit=limit)


def test_the_readers_import_nothing_from_django():
    code = "import sys, migrations_app.readers; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"})  # fmt: skip
    assert done.stdout.strip() == "[]"
