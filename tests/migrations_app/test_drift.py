"""Drift between schema snapshots, first-seen times, branch comparison and storing reads as JSON."""

import json
from datetime import timedelta

import pytest

from dashboard.introspection.diff import diff_catalogs
from dashboard.introspection.schema import read_catalog_from_url
from migrations_app.readers import (
    OUTSIDE,
    HistoryEntry,
    HistoryRead,
    SnapshotVersion,
    ToolHistory,
    Unreadable,
    check_drift,
    compare_branches,
    drifted,
    first_seen,
)
from tests.migrations_app.readers_fixtures import (
    SETTINGS,
    create_tool_table,
    dev_db,  # noqa: F401  (a fixture)
    only,
    read,
    run_sql,
    target_now,
)
from tests.support import pg


class Snapshots:
    """Schema snapshots of a real database, taken with the dashboard's own catalog reader and diff."""

    def __init__(self, dbname: str):
        self.dbname = dbname
        self.versions: list[SnapshotVersion] = []
        self.catalog = None

    def take(self) -> SnapshotVersion:
        catalog = read_catalog_from_url(pg.url_for(self.dbname), SETTINGS)
        diff = diff_catalogs(self.catalog, catalog) if self.catalog else None
        changed = diff is None or not diff.is_empty
        summary = f"{diff.count('added')} added, {diff.count('changed')} changed" if diff else "first version"
        version = SnapshotVersion(len(self.versions) + 1, target_now(self.dbname), changed, summary)
        self.catalog = catalog
        self.versions.append(version)
        return version


@pytest.fixture
def snapshots(target_db):
    return Snapshots(target_db)


PRISMA_MIGRATION = """INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at,
    applied_steps_count) VALUES ('2', 'c2', '20240502_invoices', now(), now(), 1)"""


def test_a_change_by_plain_sql_is_flagged_and_one_by_a_migration_is_explained(target_db, snapshots):
    create_tool_table(target_db, "prisma")
    snapshots.take()
    run_sql(target_db, "CREATE TABLE orders (id bigint PRIMARY KEY)")  # by hand, no migration
    snapshots.take()
    with pg.admin_connect(target_db) as conn, conn.transaction():  # as prisma migrate deploy does
        conn.execute("CREATE TABLE invoices (id bigint PRIMARY KEY)")
        conn.execute(PRISMA_MIGRATION)
    snapshots.take()
    snapshots.take()  # nothing changed
    checks = check_drift(snapshots.versions, read(target_db).entries())
    assert [check.snapshot_id for check in checks] == [2, 3]
    by_hand, by_migration = checks
    assert (by_hand.explained, by_hand.message, by_hand.summary) == (False, OUTSIDE, "1 added, 0 changed")
    assert by_migration.explained and by_migration.message == "explained by 1 migration"
    assert [(entry.tool, entry.key) for entry in by_migration.explained_by] == [
        ("prisma", "20240502_invoices")
    ]
    assert drifted(checks) == [by_hand]


def test_the_dashboards_own_migrations_explain_changes(target_db, snapshots):
    snapshots.take()
    run_sql(target_db, "CREATE TABLE orders (id bigint PRIMARY KEY)")
    applied = target_now(target_db)
    snapshots.take()
    ours = HistoryEntry(tool="dashboard", schema="", table="", key="request-12", applied_at=applied)
    [check] = check_drift(snapshots.versions, [ours])
    assert check.explained_by == [ours]
    assert not check_drift(snapshots.versions, [])[0].explained


def test_drizzle_migration_time_alone_does_not_explain_but_first_seen_does(target_db, snapshots):
    create_tool_table(target_db, "drizzle_old")
    reads = [read(target_db)]  # the history is read right before each snapshot
    snapshots.take()
    with pg.admin_connect(target_db) as conn, conn.transaction():  # as drizzle's migrate() does
        conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY)")
        conn.execute(
            "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('9f8e7d', 1714564800000)"
        )
    reads.append(read(target_db))
    snapshots.take()
    [alone] = check_drift(snapshots.versions, reads[-1].entries())
    assert not alone.explained, "created_at is the migration file's time, weeks before"
    timed = first_seen(reads)
    assert [(entry.key, entry.applied_at, entry.details["time_source"]) for entry in timed] == [
        ("9f8e7d", reads[1].read_at, "first seen")
    ]
    [check] = check_drift(snapshots.versions, reads[-1].entries() + timed)
    assert [entry.key for entry in check.explained_by] == ["9f8e7d"]


def test_golang_migrate_new_version_is_timed_by_first_seen(target_db, snapshots):
    create_tool_table(target_db, "golang_migrate")
    run_sql(target_db, "INSERT INTO schema_migrations VALUES (1, false)")
    reads = [read(target_db)]
    snapshots.take()
    with pg.admin_connect(target_db) as conn, conn.transaction():
        conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY)")
        conn.execute("UPDATE schema_migrations SET version = 2")
    reads.append(read(target_db))
    snapshots.take()
    [check] = check_drift(snapshots.versions, first_seen(reads))
    assert [entry.key for entry in check.explained_by] == ["2"]


def at(read_at, *entries, unreadable=()):
    """A stored read, as the Django side would load it back."""
    tools = {}
    for entry in entries:
        tools.setdefault((entry.tool, entry.schema, entry.table), []).append(entry)
    histories = [ToolHistory(*where, entries=found) for where, found in tools.items()]
    return HistoryRead(tools=histories, unreadable=list(unreadable), read_at=read_at)


def rails(key):
    return HistoryEntry("rails", "public", "schema_migrations", key, time_is_apply_time=False)


def test_first_seen_gives_no_time_to_the_first_read_or_after_an_unreadable_one(target_db):
    now = target_now(target_db)
    blind = Unreadable("rails", "public", "schema_migrations", "Permission denied", "permission")
    reads = [at(now, rails("1")), at(now + timedelta(minutes=1), unreadable=[blind]),
             at(now + timedelta(minutes=2), rails("1"), rails("2")), at(now + timedelta(minutes=3), rails("1"),
             rails("2"), rails("3"))]  # fmt: skip
    assert [(entry.key, entry.applied_at) for entry in first_seen(reads)] == [
        ("3", now + timedelta(minutes=3))
    ]


def fill_branch(dbname: str, prisma: list[tuple[str, bool]], flyway: list[str]) -> None:
    """Prisma migrations (name, finished) oldest first, and successful Flyway versions."""
    create_tool_table(dbname, "prisma")
    create_tool_table(dbname, "flyway")
    with pg.admin_connect(dbname) as conn, conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at)
            VALUES (%s, 'c', %s, now() - make_interval(hours => %s), CASE WHEN %s THEN now() END)""",
            [(name, name, len(prisma) - index, finished) for index, (name, finished) in enumerate(prisma)],
        )
        cur.executemany("""INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,
            installed_by, execution_time, success) VALUES (%s, %s, 'm', 'SQL', 'V.sql', 'ci', 1, true)""",
            [(int(version), version) for version in flyway])  # fmt: skip


def test_compare_branches_lists_what_is_applied_on_one_and_missing_on_the_other(target_db, dev_db):  # noqa: F811
    fill_branch(target_db, [("m1", True), ("m2", True), ("m3", True)], ["1", "2"])
    fill_branch(dev_db, [("m1", True), ("m2", False), ("m4", True)], ["1"])
    create_tool_table(target_db, "django")
    run_sql(
        target_db, "INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0001_initial', now())"
    )
    main, dev = read(target_db), read(dev_db)
    differences = {d.tool: d for d in compare_branches(main, dev)}
    assert sorted(differences) == ["django", "flyway", "prisma"]
    prisma = differences["prisma"]
    assert [e.key for e in prisma.only_on_a] == ["m3", "m2"], "m2 failed on dev: not applied there"
    assert [e.key for e in prisma.only_on_b] == ["m4"]
    assert ([e.key for e in differences["flyway"].only_on_a], differences["flyway"].only_on_b) == (["2"], [])
    assert [e.key for e in differences["django"].only_on_a] == ["shop.0001_initial"]
    assert not any(d.incomplete for d in differences.values())
    assert compare_branches(main, main) == []
    cut = compare_branches(read(target_db, limit=1), dev)
    assert all(d.incomplete for d in cut if d.tool in ("prisma", "flyway"))


def test_a_read_round_trips_through_json(target_db, dev_db):  # noqa: F811
    create_tool_table(target_db, "drizzle_new")
    create_tool_table(target_db, "prisma", schema='we"ird <script>')
    run_sql(target_db, "INSERT INTO drizzle.__drizzle_migrations (hash, created_at, name) VALUES ('h', 1714564800000, 'n')",
            """INSERT INTO "we""ird <script>"._prisma_migrations (id, checksum, migration_name, logs)
               VALUES ('1', 'c', '<b>x</b>', 'ERROR: ü')""")  # fmt: skip
    original = read(target_db)
    original.unreadable.append(
        Unreadable("flyway", "public", "flyway_schema_history", "Permission denied", "permission")
    )
    stored = json.dumps(original.to_dict())
    loaded = HistoryRead.from_dict(json.loads(stored))
    assert loaded == original
    assert only(loaded, "prisma").entries[0].details["logs"] == "ERROR: ü"
    checks = check_drift([SnapshotVersion(1, original.read_at), SnapshotVersion(2, original.read_at)], [])
    json.dumps([check.to_dict() for check in checks])
    json.dumps([d.to_dict() for d in compare_branches(original, read(dev_db))])


def test_an_unknown_stored_format_is_refused_clearly():
    with pytest.raises(ValueError, match="Unknown history read format 99"):
        HistoryRead.from_dict({"format": 99, "tools": [], "unreadable": [], "read_at": None})
