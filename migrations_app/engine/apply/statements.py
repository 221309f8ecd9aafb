"""Running one statement of the migration, exactly as written: progress before and after, a cancel
request honoured while it runs, and in capture mode (rehearsals) the locks it took and the tables it
rewrote."""

import time

from psycopg import errors as pg_errors

from .. import capture
from ..cancel import CancelWatcher
from ..plan import Statement, Step
from .outcome import StatementReport
from .progress import STATEMENT_DONE, STATEMENT_STARTED
from .run_context import Cancelled, RunContext


def run_statement(
    run: RunContext, statement: Statement, step: Step, attempt: int, held: set
) -> tuple[StatementReport, set]:
    """Run `statement`; returns its report and the locks now held in the step (capture mode)."""
    run.state.current = statement
    run.progress(
        STATEMENT_STARTED,
        f"Statement {statement.number} of {len(run.plan.statements)} (line {statement.line}).",
        step=step.number,
        statement_index=statement.index,
        attempt=attempt,
    )
    filenodes = capture.read_filenodes(run.cur, statement.relations) if run.capture else None
    sampler = _sampler(run, statement)
    started = time.perf_counter()
    with CancelWatcher(run.conn, run.should_cancel, run.cfg.poll_seconds) as watcher:
        try:
            if sampler is None:
                run.cur.execute(statement.text, prepare=False)
            else:
                with sampler:
                    run.cur.execute(statement.text, prepare=False)
        except pg_errors.QueryCanceled:
            if watcher.fired:
                raise Cancelled() from None
            raise
    duration_ms = (time.perf_counter() - started) * 1000
    rows = run.cur.rowcount if run.cur.rowcount >= 0 else None
    locks, rewrites, note = None, None, ""
    if run.capture:
        locks, held, note = _locks_of(run, statement, sampler, held)
        rewrites = capture.rewritten(run.cur, filenodes)
    report = StatementReport(
        statement.index, statement.line, step.number, duration_ms, rows, attempt, locks, rewrites, note
    )
    run.progress(
        STATEMENT_DONE,
        f"Statement {statement.number} done in {duration_ms:.0f} ms.",
        step=step.number,
        statement_index=statement.index,
    )
    return report, held


def _sampler(run: RunContext, statement: Statement) -> capture.LockSampler | None:
    """A non-transactional statement's locks are gone when it ends: a second connection samples them."""
    if run.capture and not statement.transactional and run.side_connect is not None:
        return capture.LockSampler(run.side_connect, run.conn.info.backend_pid)
    return None


def _locks_of(run: RunContext, statement: Statement, sampler, held: set):
    """(locks this statement took, all locks now held in the step, note)."""
    if statement.transactional:
        now = capture.read_locks(run.cur, run.conn.info.backend_pid)
        return tuple(sorted(now - held)), now, ""
    if sampler is None:
        return None, held, "locks not sampled (no second connection given)"
    return tuple(sorted(sampler.locks)), held, sampler.error or ""
