"""Readers of other migration tools' history tables, drift and branch comparison (no Django inside).

Reading
    read_history(conn, cfg=None, *, limit=500) -> HistoryRead
        `conn` is a psycopg connection from dashboard.targets.connect.connect(); `cfg` its
        TargetSettings (timeouts). One catalog query finds every known history table in any
        schema with its columns, then one query per table reads at most `limit` rows, newest
        first; each statement starts with the /* neon-ops-dashboard migration-history */
        marker and runs in its own read-only transaction (targets.connect.read_only). A
        table the role cannot read (or that is locked, or too slow) goes to
        HistoryRead.unreadable with a reason safe to show; only a failure of the catalog
        query or of the connection raises TargetError. read_history_from_url(url, cfg)
        connects, reads and closes.

    Tools and tables (TOOLS lists them; tools.SPECS holds the rules):
        django          django_migrations                  app.name, applied
        drizzle         __drizzle_migrations, any schema   name or hash; created_at (ms) is the
                                                            migration's own time, applied_at (newer
                                                            versions) the apply time
        prisma          _prisma_migrations                 failed = neither finished nor rolled back
        alembic         alembic_version                    current head(s) only, no time
        flyway          flyway_schema_history              success = false is failed
        atlas           atlas_schema_revisions             partial when applied < total or error set
        rails           schema_migrations (varchar)        versions, no time
        golang-migrate  schema_migrations (bigint + dirty) one row; dirty
        sqitch          <registry>.changes + .events       deployed changes and each change's latest
                                                            event (revert, fail), in one statement
        liquibase       databasechangelog                  exectype FAILED is failed
        pgroll          <schema>.migrations                done = false is pending (in progress)
    Columns a tool's newer version adds are not selected; missing optional ones read as None;
    a table missing a required column is listed with ToolHistory.problem and no entries.
    Timestamps without time zone (Flyway, Liquibase, pgroll) are read in the server's TimeZone.

Results (model.py; every class has to_dict()/from_dict() for storing a read as JSON)
    HistoryRead(tools: [ToolHistory], unreadable: [Unreadable], read_at)  read_at: target clock
    ToolHistory(tool, schema, table, entries: [HistoryEntry], truncated, problem)
    HistoryEntry(tool, schema, table, key, description, applied_at, time_is_apply_time,
                 success, state, details)
        key: what identifies the migration within its tool (version, name, change id);
        state: "applied" | "failed" | "rolled back" | "dirty" | "partial" | "pending" | "skipped";
        details: tool-specific columns, JSON-ready.
    Unreadable(tool, schema, table, reason, code)  code: "permission", "busy", "timeout", ...

Health
    problems(read) -> [Finding(id, severity, tool, schema, table, key, message)]
        Failed, dirty and partial migrations (newest entry per key), e.g. id
        "migration_history.prisma.failed", severity "critical" (or "warning" where the tool
        rolled back by itself: Sqitch, Liquibase). Messages are plain text: escape them.

Drift and branches (drift.py)
    check_drift(snapshots: [SnapshotVersion(id, taken_at, changed, summary)], entries)
        -> [DriftCheck]: for each version that changed the schema, the entries with an apply
        time in (previous.taken_at, taken_at]; none means "changed outside any migration"
        (drifted(checks) keeps those). Pass the dashboard's own applied migrations as
        HistoryEntry(tool="dashboard", ...) together with every read's entries.
    first_seen(reads) -> [HistoryEntry]: entries without an apply time (drizzle's created_at,
        Alembic, Rails, golang-migrate) timed by the first stored read that shows them; add
        them to check_drift's entries. Read the history just before each snapshot's catalog read.
    compare_branches(read_a, read_b) -> [BranchDifference(tool, schema, table, only_on_a,
        only_on_b, incomplete)]: applied on A and missing on B, and the other way round.

Demo
    demo_history_sql() -> str: creates and fills _prisma_migrations (two finished, one failed),
    flyway_schema_history (three successful) and django_migrations (five) with the tools' own
    definitions; safe to run twice.
"""

from pathlib import Path

from .drift import (  # noqa: F401
    OUTSIDE,
    BranchDifference,
    DriftCheck,
    SnapshotVersion,
    check_drift,
    compare_branches,
    drifted,
    first_seen,
)
from .model import (  # noqa: F401
    APPLIED,
    DIRTY,
    FAILED,
    PARTIAL,
    PENDING,
    ROLLED_BACK,
    SKIPPED,
    HistoryEntry,
    HistoryRead,
    ToolHistory,
    Unreadable,
)
from .problems import Finding, problems  # noqa: F401
from .read import DEFAULT_LIMIT, read_history, read_history_from_url  # noqa: F401
from .tools import LABELS  # noqa: F401

TOOLS = tuple(LABELS)
DEMO_SQL = Path(__file__).with_name("demo_history.sql")


def demo_history_sql() -> str:
    return DEMO_SQL.read_text(encoding="utf-8")
