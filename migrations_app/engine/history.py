"""The target's own migration history: schema `neon_ops`, one row per migration and per applied step.

A transactional step's row is written in the same transaction as its statements,
so after any crash a step is either applied and recorded or not applied at all.
A non-transactional statement is recorded right after it succeeds (the one gap:
a crash between the two leaves it applied but unrecorded; rerunning it is safe
for CREATE INDEX CONCURRENTLY, whose invalid leftovers the applier drops first).
"""

from dataclasses import dataclass
from datetime import datetime

import psycopg

from .sqltext import own

HISTORY_DDL = (
    own("CREATE SCHEMA IF NOT EXISTS neon_ops"),
    own(
        """CREATE TABLE IF NOT EXISTS neon_ops.migrations (
    migration_id text PRIMARY KEY,
    checksum text NOT NULL,
    steps_total integer NOT NULL,
    lsn_before pg_lsn,
    applied_by text NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz
)"""
    ),
    own(
        """CREATE TABLE IF NOT EXISTS neon_ops.migration_steps (
    migration_id text NOT NULL,
    step integer NOT NULL,
    first_statement integer NOT NULL,
    last_statement integer NOT NULL,
    transactional boolean NOT NULL,
    step_checksum text NOT NULL,
    duration_ms double precision NOT NULL,
    rows_affected bigint,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (migration_id, step)
)"""
    ),
)
HISTORY_EXISTS_SQL = own("SELECT to_regclass('neon_ops.migration_steps') IS NOT NULL")
INSERT_MIGRATION_SQL = own(
    """INSERT INTO neon_ops.migrations (migration_id, checksum, steps_total, lsn_before, applied_by)
VALUES (%s, %s, %s, %s::pg_lsn, %s) ON CONFLICT (migration_id) DO NOTHING"""
)
INSERT_STEP_SQL = own(
    """INSERT INTO neon_ops.migration_steps (migration_id, step, first_statement, last_statement,
    transactional, step_checksum, duration_ms, rows_affected) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"""
)
FINISH_SQL = own("UPDATE neon_ops.migrations SET finished_at = clock_timestamp() WHERE migration_id = %s")
READ_MIGRATION_SQL = own(
    """SELECT checksum, steps_total, lsn_before::text, applied_by, started_at, finished_at
FROM neon_ops.migrations WHERE migration_id = %s"""
)
READ_STEPS_SQL = own(
    """SELECT step, first_statement, last_statement, transactional, step_checksum, duration_ms, rows_affected,
    applied_at FROM neon_ops.migration_steps WHERE migration_id = %s ORDER BY step"""
)


@dataclass(frozen=True)
class RecordedStep:
    step: int
    first_statement: int  # 0-based statement indexes
    last_statement: int
    transactional: bool
    step_checksum: str
    duration_ms: float
    rows_affected: int | None
    applied_at: datetime


@dataclass(frozen=True)
class History:
    """What the target records about one migration: the basis for "applied / partly / not applied"."""

    migration_id: str
    checksum: str | None
    steps_total: int | None
    steps: tuple[RecordedStep, ...]
    lsn_before: str | None = None
    applied_by: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def step_numbers(self) -> tuple[int, ...]:
        return tuple(s.step for s in self.steps)

    @property
    def state(self) -> str:
        """ "applied", "partly applied" or "not applied"."""
        if not self.steps:
            return "not applied"
        if self.steps_total is not None and len(self.steps) >= self.steps_total:
            return "applied"
        return "partly applied"

    def describe(self) -> str:
        """E.g. "partly applied (steps 1-3 of 5)"."""
        if self.state != "partly applied":
            return self.state
        total = self.steps_total if self.steps_total is not None else "?"
        return f"partly applied (steps {_ranges(self.step_numbers)} of {total})"


def _ranges(numbers: tuple[int, ...]) -> str:
    parts, start = [], None
    for i, n in enumerate(numbers):
        start = n if start is None else start
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(n) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(parts)


def ensure_history_tables(cur: psycopg.Cursor) -> None:
    """Create schema and tables on first use; callers hold the apply lock, so this never races."""
    cur.execute(HISTORY_EXISTS_SQL)
    if not cur.fetchone()[0]:
        for statement in HISTORY_DDL:
            cur.execute(statement)


def read_history(conn: psycopg.Connection, migration_id: str, *, steps_total: int | None = None) -> History:
    """The steps of `migration_id` the target has recorded (nothing recorded: "not applied").

    `steps_total` (the plan's number of steps) is used when the target has no row yet.
    """
    cur = conn.cursor()
    cur.execute(HISTORY_EXISTS_SQL)
    if not cur.fetchone()[0]:
        return History(migration_id, None, steps_total, ())
    cur.execute(READ_MIGRATION_SQL, (migration_id,))
    row = cur.fetchone()
    if row is None:
        return History(migration_id, None, steps_total, ())
    cur.execute(READ_STEPS_SQL, (migration_id,))
    steps = tuple(RecordedStep(*step) for step in cur.fetchall())
    return History(migration_id, row[0], row[1], steps, row[2], row[3], row[4], row[5])


@dataclass(frozen=True)
class StepRow:
    migration_id: str
    checksum: str
    steps_total: int
    lsn_before: str | None
    applied_by: str
    step: int
    first_statement: int
    last_statement: int
    transactional: bool
    step_checksum: str
    duration_ms: float
    rows_affected: int | None


def write_step(cur: psycopg.Cursor, row: StepRow) -> None:
    """Record one step (inside the caller's transaction); the last step also marks the migration finished."""
    cur.execute(
        INSERT_MIGRATION_SQL,
        (row.migration_id, row.checksum, row.steps_total, row.lsn_before, row.applied_by),
    )
    cur.execute(
        INSERT_STEP_SQL,
        (
            row.migration_id,
            row.step,
            row.first_statement,
            row.last_statement,
            row.transactional,
            row.step_checksum,
            row.duration_ms,
            row.rows_affected,
        ),
    )
    if row.step == row.steps_total:
        cur.execute(FINISH_SQL, (row.migration_id,))
