"""What the parts of one apply share: the connection, the plan, the settings, what was done so far,
and the small services every part needs (progress reports, cancel checks, sleeping, error details)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg.pq import TransactionStatus

from ..plan import Plan, Statement, Step
from .outcome import ApplyError, StatementReport
from .progress import Progress
from .settings import ApplySettings


class Stop(Exception):
    """Ends the apply with this status and message (any part may raise it; run.py turns it into the result)."""

    def __init__(self, status: str, message: str, *, error=None, blockers=()):
        super().__init__(message)
        self.status, self.message, self.error, self.blockers = status, message, error, tuple(blockers)


class Cancelled(Exception):
    """The caller asked to cancel (should_cancel() turned true)."""


@dataclass
class RunState:
    applied: list[int] = field(default_factory=list)
    already: tuple[int, ...] = ()
    reports: list[StatementReport] = field(default_factory=list)
    pending: list[StatementReport] = field(default_factory=list)  # the step under way
    notes: list[str] = field(default_factory=list)
    lsn_before: str | None = None
    current: Statement | None = None
    current_step: Step | None = None


class RunContext:
    def __init__(
        self,
        conn: psycopg.Connection,
        plan: Plan,
        *,
        migration_id: str,
        settings: ApplySettings,
        capture_effects: bool,
        on_progress: Callable[[Progress], None] | None,
        should_cancel: Callable[[], bool] | None,
        side_connect: Callable[[], psycopg.Connection] | None,
    ):
        self.conn, self.plan, self.migration_id, self.cfg = conn, plan, migration_id, settings
        self.capture = capture_effects
        self.on_progress = on_progress
        self.should_cancel = should_cancel
        self.side_connect = side_connect
        self.cur = conn.cursor()
        # Inside the caller's transaction (rehearsal) steps become savepoints.
        self.nested = conn.info.transaction_status != TransactionStatus.IDLE
        self.state = RunState()
        self.started = time.monotonic()
        self.steps_total = len(plan.steps)

    def progress(self, event: str, message: str, **details) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(event, message, steps_total=self.steps_total, **details))

    def check_cancel(self) -> None:
        if self.should_cancel is not None and self.should_cancel():
            raise Cancelled()

    def sleep(self, seconds: float) -> None:
        """Sleep, but notice a cancel request within poll_seconds."""
        deadline = time.monotonic() + seconds
        while True:
            self.check_cancel()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, self.cfg.poll_seconds))

    def quietly(self, action) -> None:
        try:
            action()
        except psycopg.Error:
            pass

    def error_from(self, exc: psycopg.Error, message: str | None = None) -> ApplyError:
        statement, step = self.state.current, self.state.current_step
        if isinstance(exc, psycopg.OperationalError) and self.conn.closed:
            message = message or "the connection to the database was lost"
        return ApplyError(
            statement_index=statement.index if statement else None,
            line=statement.line if statement else None,
            step=step.number if step else None,
            sqlstate=exc.sqlstate,
            message=message or (exc.diag.message_primary or str(exc).strip()),
        )

    def applied_suffix(self) -> str:
        recorded = sorted(self.state.already + tuple(self.state.applied))
        if not recorded:
            return " Nothing was applied."
        return (
            f" Steps applied and recorded before it: {', '.join(map(str, recorded))} of {self.steps_total}."
        )
