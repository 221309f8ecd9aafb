"""The target's own record of the apply (history.py's tables): steps recorded earlier are skipped,
each step's row is written with it, and the LSN before applying is kept to restore a Neon branch to."""

import psycopg
from psycopg import errors as pg_errors

from .. import history
from ..plan import Step
from ..sqltext import own
from .outcome import FAILED, StatementReport
from .progress import STEP_ALREADY_APPLIED
from .run_context import RunContext, Stop
from .transaction import Transaction


def current_lsn(conn: psycopg.Connection) -> str:
    """The current WAL position (record it before applying to restore a Neon branch to it later)."""
    return conn.execute(own("SELECT pg_current_wal_lsn()::text")).fetchone()[0]


def skip_recorded_steps(run: RunContext) -> None:
    """Create the history tables on first use and mark the steps an earlier run recorded (a resume)."""
    history.ensure_history_tables(run.cur)
    recorded = history.read_history(run.conn, run.migration_id, steps_total=run.steps_total)
    if recorded.checksum is not None and recorded.checksum != run.plan.checksum:
        raise Stop(
            FAILED,
            "This migration id is already recorded on the target with different SQL "
            f"({recorded.describe()}); nothing was applied.",
        )
    run.state.already = recorded.step_numbers
    for number in recorded.step_numbers:
        run.progress(STEP_ALREADY_APPLIED, f"Step {number} was applied earlier; skipping it.", step=number)


def record_step(run: RunContext, step: Step, reports: list[StatementReport]) -> None:
    """Write the step's history row (inside the step's transaction when it has one)."""
    rows = [r.rows for r in reports if r.rows is not None]
    history.write_step(
        run.cur,
        history.StepRow(
            migration_id=run.migration_id,
            checksum=run.plan.checksum,
            steps_total=run.steps_total,
            lsn_before=run.state.lsn_before,
            applied_by=run.cfg.applied_by,
            step=step.number,
            first_statement=step.statements[0].index,
            last_statement=step.statements[-1].index,
            transactional=step.transactional,
            step_checksum=step.checksum,
            duration_ms=sum(r.duration_ms for r in reports),
            rows_affected=sum(rows) if rows else None,
        ),
    )


def record_after_the_fact(run: RunContext, step: Step, reports: list[StatementReport]) -> None:
    """The non-transactional statement already committed: its row must be written even if a late
    cancel arrives (one more try)."""
    for attempt in range(2):
        tx = Transaction(run.cur, run.nested)
        tx.begin()
        try:
            record_step(run, step, reports)
            tx.commit()
            return
        except pg_errors.QueryCanceled:
            tx.rollback()
            if attempt:
                raise
