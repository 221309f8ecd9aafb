"""Running one step, recorded with it: consecutive transactional statements in one transaction
together with the step's history row (a crash leaves either "applied and recorded" or "not applied");
a non-transactional statement alone, recorded right after it succeeds. A lock timeout retries the
whole step (lock_retry.py)."""

from psycopg import errors as pg_errors

from .. import capture
from ..plan import Step
from .index_cleanup import drop_leftovers_before, drop_new_after_failure
from .lock_retry import wait_before_retry
from .outcome import StatementReport
from .progress import STEP_RECORDED, STEP_STARTED
from .recording import record_after_the_fact, record_step
from .run_context import RunContext
from .statements import run_statement
from .transaction import Transaction


def run_step(run: RunContext, step: Step) -> None:
    run.state.current_step = step
    run.progress(STEP_STARTED, f"Step {step.number} of {run.steps_total}: {step.label}.", step=step.number)
    attempt = 1
    while True:
        try:
            reports = _attempt(run, step, attempt)
            break
        except pg_errors.LockNotAvailable as exc:
            wait_before_retry(run, exc, step, attempt)
            attempt += 1
    run.state.reports.extend(reports)
    run.state.pending = []
    run.state.applied.append(step.number)
    run.progress(
        STEP_RECORDED, f"Step {step.number} of {run.steps_total} applied and recorded.", step=step.number
    )
    run.state.current_step = None


def _attempt(run: RunContext, step: Step, attempt: int) -> list[StatementReport]:
    if step.transactional:
        return _attempt_in_transaction(run, step, attempt)
    return _attempt_alone(run, step, attempt)


def _attempt_in_transaction(run: RunContext, step: Step, attempt: int) -> list[StatementReport]:
    tx = Transaction(run.cur, run.nested)
    tx.begin()
    try:
        held: set[capture.LockHeld] = set()
        reports = run.state.pending = []
        for statement in step.statements:
            run.check_cancel()
            report, held = run_statement(run, statement, step, attempt, held)
            reports.append(report)
        run.state.current = None
        record_step(run, step, reports)
        tx.commit()
        return reports
    except BaseException:
        tx.rollback()
        raise


def _attempt_alone(run: RunContext, step: Step, attempt: int) -> list[StatementReport]:
    statement = step.statements[0]
    invalid_before = drop_leftovers_before(run, statement)
    try:
        report, _ = run_statement(run, statement, step, attempt, set())
    except BaseException:
        drop_new_after_failure(run, statement, invalid_before)
        raise
    run.state.pending = [report]
    run.state.current = None
    record_after_the_fact(run, step, [report])
    return [report]
