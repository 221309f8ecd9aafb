"""problems(): failed, dirty and partial migrations of other tools become health findings."""

import pytest

from migrations_app.readers import problems
from tests.migrations_app.readers_fixtures import create_tool_table, read, run_sql, sqitch_rows

BROKEN = {
    "prisma": ("prisma", """INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at)
        VALUES ('1', 'c', '20240501_init', now() - interval '1 day', now() - interval '1 day'),
               ('2', 'c', '20240502_add_orders', now(), NULL)"""),
    "golang-migrate": ("golang_migrate", "INSERT INTO schema_migrations (version, dirty) VALUES (20240502, true)"),
    "flyway": ("flyway", """INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,
        installed_by, execution_time, success) VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', 'ci', 1, true),
        (2, '2', 'add orders', 'SQL', 'V2__add_orders.sql', 'ci', 1, false)"""),
    "atlas": ("atlas", """INSERT INTO atlas_schema_revisions.atlas_schema_revisions (version, description, applied,
        total, executed_at, execution_time, hash, operator_version)
        VALUES ('20240502', 'add_orders', 1, 4, now(), 10, 'h', 'Atlas CLI v0.25')"""),
    "liquibase": ("liquibase", """INSERT INTO databasechangelog (id, author, filename, dateexecuted, orderexecuted,
        exectype, description) VALUES ('add-orders', 'ann', 'db/changelog.xml', now(), 1, 'FAILED', 'addColumn')"""),
}  # fmt: skip
EXPECTED = {
    "prisma": ("migration_history.prisma.failed", "critical", "20240502_add_orders",
               "Prisma migration '20240502_add_orders' in public._prisma_migrations is neither finished nor rolled back"),
    "golang-migrate": ("migration_history.golang-migrate.dirty", "critical", "20240502",
                       "golang-migrate migration '20240502' in public.schema_migrations is dirty"),
    "flyway": ("migration_history.flyway.failed", "critical", "2",
               "Flyway migration '2' (add orders) in public.flyway_schema_history failed (success = false)"),
    "atlas": ("migration_history.atlas.partial", "critical", "20240502",
              "Atlas migration '20240502' (add_orders) in atlas_schema_revisions.atlas_schema_revisions was applied only in part"),
    "liquibase": ("migration_history.liquibase.failed", "warning", "add-orders::ann::db/changelog.xml",
                  "Liquibase migration 'add-orders::ann::db/changelog.xml' (addColumn) in public.databasechangelog was recorded as FAILED"),
}  # fmt: skip


@pytest.mark.parametrize("tool", sorted(BROKEN))
def test_each_failed_state_is_a_finding_naming_tool_and_migration(target_db, tool):
    ddl_name, rows = BROKEN[tool]
    create_tool_table(target_db, ddl_name)
    run_sql(target_db, rows)
    [finding] = problems(read(target_db))
    finding_id, severity, key, message_start = EXPECTED[tool]
    assert (finding.id, finding.severity, finding.tool, finding.key) == (finding_id, severity, tool, key)
    assert finding.message.startswith(message_start), finding.message


def test_sqitch_failed_deploy_is_a_warning(target_db):
    sqitch_rows(target_db)
    [finding] = problems(read(target_db))
    assert (finding.id, finding.severity, finding.key) == (
        "migration_history.sqitch.failed",
        "warning",
        "id-lists",
    )
    assert (
        finding.message == "Sqitch migration 'lists' in sqitch.changes failed to deploy (Sqitch reverted it)."
    )


def test_healthy_histories_have_no_findings(target_db):
    create_tool_table(target_db, "golang_migrate")
    create_tool_table(target_db, "pgroll")
    run_sql(target_db, "INSERT INTO schema_migrations VALUES (3, false)",
            """INSERT INTO pgroll.migrations (schema, name, migration, done)
               VALUES ('public', '01_users', '{}', false)""")  # fmt: skip
    assert problems(read(target_db)) == []


def test_a_failure_the_tool_later_resolved_is_not_a_finding(target_db):
    """Prisma: failed, marked rolled back, applied again: only the newest entry of a migration counts."""
    create_tool_table(target_db, "prisma")
    run_sql(target_db, """INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at,
        rolled_back_at) VALUES ('1', 'c', '20240502_add_orders', now() - interval '2 hours', NULL, now() - interval '1 hour'),
        ('2', 'c', '20240502_add_orders', now(), now(), NULL)""")  # fmt: skip
    assert problems(read(target_db)) == []


def test_hostile_migration_names_stay_as_text_in_messages(target_db):
    create_tool_table(target_db, "prisma", schema='we"ird <script>')
    run_sql(target_db, """INSERT INTO "we""ird <script>"._prisma_migrations (id, checksum, migration_name)
        VALUES ('1', 'c', '<img src=x onerror=alert(1)>')""")  # fmt: skip
    [finding] = problems(read(target_db))
    assert "'<img src=x onerror=alert(1)>' in we\"ird <script>._prisma_migrations" in finding.message
    assert finding.to_dict()["schema"] == 'we"ird <script>'
