"""The demo history SQL loads into a fresh database and reads back as the demo promises."""

from migrations_app.readers import APPLIED, FAILED, demo_history_sql, problems
from tests.migrations_app.readers_fixtures import (
    create_tool_table,
    dev_db,  # noqa: F401  (a fixture)
    only,
    read,
    run_sql,
)
from tests.support import pg


def test_demo_history_loads_twice_and_reads_back(target_db):
    run_sql(target_db, demo_history_sql())
    run_sql(target_db, demo_history_sql())  # the demo loader may run again: nothing doubles
    result = read(target_db)
    assert sorted(history.tool for history in result.tools) == ["django", "flyway", "prisma"]
    prisma = only(result, "prisma")
    assert sorted(entry.state for entry in prisma.entries) == [APPLIED, APPLIED, FAILED]
    failed = prisma.entries[0]
    assert failed.key == "20240402101500_rental_late_fee_not_null"
    assert "contains null values" in failed.details["logs"]
    flyway = only(result, "flyway")
    assert [(entry.key, entry.success) for entry in flyway.entries] == [("3", True), ("2", True), ("1", True)]
    django = only(result, "django")
    assert len(django.entries) == 5 and django.entries[0].key == "staff_portal.0002_shift_notes"
    assert all(entry.applied_at < result.read_at for entry in result.entries())
    [finding] = problems(result)
    assert (finding.id, finding.key) == ("migration_history.prisma.failed", failed.key)


def test_demo_history_loads_into_pagila(pagila_db):
    run_sql(pagila_db, demo_history_sql())
    result = read(pagila_db)
    assert [len(only(result, tool).entries) for tool in ("prisma", "flyway", "django")] == [3, 3, 5]


COLUMNS_SQL = """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
    pg_get_expr(d.adbin, d.adrelid), a.attidentity
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relname IN ('_prisma_migrations', 'flyway_schema_history', 'django_migrations') AND a.attnum > 0
  AND c.relnamespace = 'public'::regnamespace ORDER BY 1, a.attnum"""


def columns(dbname):
    with pg.admin_connect(dbname) as conn:
        return conn.execute(COLUMNS_SQL).fetchall()


def test_demo_tables_match_the_tools_own_definitions(target_db, dev_db):  # noqa: F811
    run_sql(target_db, demo_history_sql())
    for tool in ("prisma", "flyway", "django"):
        create_tool_table(dev_db, tool)
    assert columns(target_db) == columns(dev_db)
    assert len(columns(target_db)) == 8 + 10 + 4
