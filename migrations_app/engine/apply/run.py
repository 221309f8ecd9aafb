"""apply_migration: what cannot be applied is refused first; then, in order, the session, the apply
lock, the history, the LSN, the pre-flight and the steps (see the package docstring), and whatever
stopped it becomes the result."""

import time
from collections.abc import Callable

import psycopg
from psycopg.pq import TransactionStatus

from .. import locking
from ..plan import Plan
from .outcome import APPLIED, CANCELLED, FAILED, ApplyRefused, ApplyResult
from .preflight import wait_for_blockers
from .progress import Progress
from .recording import current_lsn, skip_recorded_steps
from .run_context import Cancelled, RunContext, Stop
from .session import reset_timeouts, set_timeouts, take_apply_lock
from .settings import ApplySettings
from .steps import run_step


def apply_migration(
    conn: psycopg.Connection,
    plan: Plan,
    *,
    migration_id: str,
    checksum: str,
    settings: ApplySettings | None = None,
    capture_effects: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    side_connect: Callable[[], psycopg.Connection] | None = None,
) -> ApplyResult:
    """Apply `plan` on `conn` (direct, autocommit). `checksum` is the approved one and must match the plan.

    capture_effects: also record per statement the locks held and the tables rewritten (rehearsals);
    non-transactional statements are sampled through a second connection from `side_connect()`.
    Inside an open transaction (rehearse.rehearse_in_transaction) steps become savepoints.
    """
    refuse_if_unfit(conn, plan, migration_id, checksum)
    run = RunContext(
        conn,
        plan,
        migration_id=migration_id,
        settings=settings or ApplySettings(),
        capture_effects=capture_effects,
        on_progress=on_progress,
        should_cancel=should_cancel,
        side_connect=side_connect,
    )
    return _execute(run)


def refuse_if_unfit(conn: psycopg.Connection, plan: Plan, migration_id: str, checksum: str) -> None:
    """Raise ApplyRefused, before anything is sent, when this plan or call cannot be applied at all."""
    if checksum != plan.checksum:
        raise ApplyRefused("The SQL changed since it was approved (checksum mismatch); nothing was applied.")
    if not migration_id or len(migration_id) > 200:
        raise ApplyRefused("A migration id of 1 to 200 characters is required.")
    if plan.refused:
        first = plan.refused[0]
        raise ApplyRefused(f"Statement {first.number} (line {first.line}): {first.refused}.")
    if not conn.autocommit:
        raise ApplyRefused(
            "The applier needs an autocommit connection (dashboard.targets.connect gives one)."
        )
    nested = conn.info.transaction_status != TransactionStatus.IDLE
    if nested and not plan.all_transactional:
        raise ApplyRefused("Inside a transaction only transactional statements can run.")


def _execute(run: RunContext) -> ApplyResult:
    keys = locking.apply_lock_keys(run.conn.info.dbname)
    try:
        set_timeouts(run)
        take_apply_lock(run, keys)
    except psycopg.Error as exc:
        error = run.error_from(exc)
        return _result(run, FAILED, error.describe() + " Nothing was applied.", error=error)
    except Stop as stop:
        reset_timeouts(run)
        return _result(run, stop.status, stop.message, blockers=stop.blockers)
    except Cancelled:
        reset_timeouts(run)
        return _result(run, CANCELLED, "Cancelled while waiting for another apply; nothing was applied.")
    try:
        return _run_locked(run)
    finally:
        run.quietly(lambda: locking.release_apply_lock(run.cur, keys))
        reset_timeouts(run)


def _run_locked(run: RunContext) -> ApplyResult:
    try:
        skip_recorded_steps(run)
        run.state.lsn_before = current_lsn(run.conn)
        wait_for_blockers(run)
        for step in run.plan.steps:
            if step.number in run.state.already:
                continue
            run.check_cancel()
            run_step(run, step)
    except Stop as stop:
        return _result(run, stop.status, stop.message, error=stop.error, blockers=stop.blockers)
    except Cancelled:
        return _result(run, CANCELLED, _cancel_message(run))
    except psycopg.Error as exc:
        error = run.error_from(exc)
        return _result(run, FAILED, error.describe() + run.applied_suffix(), error=error)
    applied = run.state.applied
    message = f"Applied {len(applied)} of {run.steps_total} steps." if applied else "Already applied."
    return _result(run, APPLIED, message)


def _cancel_message(run: RunContext) -> str:
    step = run.state.current_step
    where = f" during step {step.number}, which was rolled back" if step and step.transactional else ""
    return f"Cancelled{where}." + run.applied_suffix()


def _result(run: RunContext, status: str, message: str, *, error=None, blockers=()) -> ApplyResult:
    state = run.state
    return ApplyResult(
        status=status,
        message=message,
        migration_id=run.migration_id,
        checksum=run.plan.checksum,
        steps_total=run.steps_total,
        steps_applied=tuple(state.applied),
        steps_already_applied=tuple(state.already),
        statements=tuple(state.reports + state.pending),
        error=error,
        blockers=tuple(blockers),
        lsn_before=state.lsn_before,
        duration_ms=(time.monotonic() - run.started) * 1000,
        notes=tuple(state.notes),
    )
