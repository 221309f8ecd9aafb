"""Applying a plan to a target database over a direct (non-pooled) autocommit connection.

The order of one apply:
1. session settings: lock_timeout, statement_timeout (and, on 14+, client_connection_check_interval,
   so a statement of a worker that died stops soon instead of holding its locks);
2. the per-database apply lock (session advisory lock): a second apply waits, says so, and gives up
   after `apply_lock_wait_seconds`;
3. the history tables (created on first use) and what they already record for this migration: steps
   recorded earlier with the same checksum are skipped, so a rerun after a crash resumes;
4. the LSN before applying (to restore a Neon branch to it later);
5. pre-flight: sessions holding locks on the relations the migration touches, or with long open
   transactions; the apply waits for them (bounded) and then stops with their list;
6. the steps: consecutive transactional statements in one transaction together with their history
   row; each non-transactional statement alone, recorded right after it succeeds. A statement that
   fails on lock timeout (55P03) is retried with exponential backoff and jitter (the whole step, so no
   lock is held while waiting); any other error stops the apply with the statement and the reason.

Nothing here imports Django; callers pass plain values and get dataclasses back.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from . import capture, history, indexes, locking
from .cancel import CancelWatcher
from .plan import Plan, Statement, Step
from .sqltext import own

# Progress events (Progress.event).
WAITING_FOR_APPLY = "waiting_for_apply"
PREFLIGHT_WAIT = "preflight_wait"
STEP_ALREADY_APPLIED = "step_already_applied"
STEP_STARTED = "step_started"
STATEMENT_STARTED = "statement_started"
STATEMENT_DONE = "statement_done"
LOCK_RETRY = "lock_retry"
INVALID_INDEX_DROPPED = "invalid_index_dropped"
STEP_RECORDED = "step_recorded"

# Outcomes (ApplyResult.status).
APPLIED = "applied"
FAILED = "failed"
CANCELLED = "cancelled"
BUSY = "busy"  # another apply held the lock for too long
BLOCKED = "blocked"  # pre-flight found sessions in the way


@dataclass(frozen=True)
class ApplySettings:
    lock_timeout_ms: int = 2000
    statement_timeout_ms: int = 600_000
    max_lock_retries: int = 5  # retries after the first attempt
    retry_base_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    apply_lock_wait_seconds: float = 300.0
    preflight_wait_seconds: float = 30.0
    long_transaction_seconds: float = 60.0
    stop_on_blockers: bool = True  # False: report blockers and go ahead (lock_timeout still protects)
    poll_seconds: float = 0.25
    applied_by: str = ""  # recorded in neon_ops.migrations


@dataclass(frozen=True)
class Progress:
    event: str
    message: str
    step: int | None = None
    steps_total: int | None = None
    statement_index: int | None = None
    attempt: int | None = None
    delay_seconds: float | None = None
    blockers: tuple[locking.Blocker, ...] = ()


@dataclass(frozen=True)
class StatementReport:
    index: int
    line: int
    step: int
    duration_ms: float
    rows: int | None  # cursor.rowcount; None for statements that report no rows
    attempts: int
    locks: tuple[capture.LockHeld, ...] | None = None  # capture mode only
    rewrites: tuple[str, ...] | None = None  # capture mode only: tables whose relfilenode changed
    note: str = ""


@dataclass(frozen=True)
class ApplyError:
    statement_index: int | None  # None: the failure was not in a statement of the migration
    line: int | None
    step: int | None
    sqlstate: str | None
    message: str

    def describe(self) -> str:
        where = (
            f"Statement {self.statement_index + 1} (line {self.line})"
            if self.statement_index is not None
            else "The apply"
        )
        code = f" [{self.sqlstate}]" if self.sqlstate else ""
        end = "" if self.message.endswith(".") else "."
        return f"{where} failed{code}: {self.message}{end}"


@dataclass(frozen=True)
class ApplyResult:
    status: str
    message: str
    migration_id: str
    checksum: str
    steps_total: int
    steps_applied: tuple[int, ...]  # recorded by this run
    steps_already_applied: tuple[int, ...]  # recorded by an earlier run, skipped
    statements: tuple[StatementReport, ...]  # every statement that ran to completion (last attempt)
    error: ApplyError | None = None
    blockers: tuple[locking.Blocker, ...] = ()
    lsn_before: str | None = None
    duration_ms: float = 0.0
    notes: tuple[str, ...] = ()  # invalid indexes dropped, sampling problems...

    @property
    def ok(self) -> bool:
        return self.status == APPLIED

    @property
    def steps_recorded(self) -> tuple[int, ...]:
        return tuple(sorted(self.steps_already_applied + self.steps_applied))


class ApplyRefused(ValueError):
    """The plan or the call cannot be applied at all (nothing was sent to the target)."""


class _Stop(Exception):
    def __init__(self, status: str, message: str, *, error=None, blockers=()):
        super().__init__(message)
        self.status, self.message, self.error, self.blockers = status, message, error, tuple(blockers)


class _Cancelled(Exception):
    pass


def current_lsn(conn: psycopg.Connection) -> str:
    """The current WAL position (record it before applying to restore a Neon branch to it later)."""
    return conn.execute(own("SELECT pg_current_wal_lsn()::text")).fetchone()[0]


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
    _refuse_if_unfit(conn, plan, migration_id, checksum)
    run = _Apply(
        conn, plan, migration_id, settings or ApplySettings(), capture_effects, on_progress, should_cancel
    )
    run.side_connect = side_connect
    return run.execute()


def _refuse_if_unfit(conn: psycopg.Connection, plan: Plan, migration_id: str, checksum: str) -> None:
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


class _Transaction:
    """BEGIN/COMMIT, or a savepoint when the caller already opened a transaction (rehearsal)."""

    def __init__(self, cur: psycopg.Cursor, nested: bool):
        self.cur, self.nested = cur, nested

    def begin(self) -> None:
        self.cur.execute(own("SAVEPOINT neon_ops_step" if self.nested else "BEGIN"))

    def commit(self) -> None:
        self.cur.execute(own("RELEASE SAVEPOINT neon_ops_step" if self.nested else "COMMIT"))

    def rollback(self) -> None:
        """Roll back what the step did; quietly, because the connection may be gone already."""
        try:
            if self.nested:
                self.cur.execute(own("ROLLBACK TO SAVEPOINT neon_ops_step"))
                self.cur.execute(own("RELEASE SAVEPOINT neon_ops_step"))
            else:
                self.cur.execute(own("ROLLBACK"))
        except psycopg.Error:
            pass


@dataclass
class _State:
    applied: list[int] = field(default_factory=list)
    already: tuple[int, ...] = ()
    reports: list[StatementReport] = field(default_factory=list)
    pending: list[StatementReport] = field(default_factory=list)  # the step under way
    notes: list[str] = field(default_factory=list)
    lsn_before: str | None = None
    current: Statement | None = None
    current_step: Step | None = None


class _Apply:
    def __init__(self, conn, plan, migration_id, settings, capture_effects, on_progress, should_cancel):
        self.conn, self.plan, self.migration_id, self.cfg = conn, plan, migration_id, settings
        self.capture = capture_effects
        self.on_progress = on_progress
        self.should_cancel = should_cancel
        self.side_connect = None
        self.cur = conn.cursor()
        self.nested = conn.info.transaction_status != TransactionStatus.IDLE
        self.state = _State()
        self.started = time.monotonic()
        self.steps_total = len(plan.steps)

    # --- the whole run -------------------------------------------------------------------------
    def execute(self) -> ApplyResult:
        keys = locking.apply_lock_keys(self.conn.info.dbname)
        try:
            self._set_session()
            self._take_apply_lock(keys)
        except psycopg.Error as exc:
            error = self._error_from(exc)
            return self._result(FAILED, error.describe() + " Nothing was applied.", error=error)
        except _Stop as stop:
            self._reset_session()
            return self._result(stop.status, stop.message, blockers=stop.blockers)
        except _Cancelled:
            self._reset_session()
            return self._result(CANCELLED, "Cancelled while waiting for another apply; nothing was applied.")
        try:
            return self._run_locked()
        finally:
            self._quietly(lambda: locking.release_apply_lock(self.cur, keys))
            self._reset_session()

    def _run_locked(self) -> ApplyResult:
        try:
            self._prepare_history()
            self.state.lsn_before = current_lsn(self.conn)
            self._preflight()
            for step in self.plan.steps:
                if step.number in self.state.already:
                    continue
                self._check_cancel()
                self._run_step(step)
        except _Stop as stop:
            return self._result(stop.status, stop.message, error=stop.error, blockers=stop.blockers)
        except _Cancelled:
            return self._result(CANCELLED, self._cancel_message())
        except psycopg.Error as exc:
            error = self._error_from(exc)
            return self._result(FAILED, error.describe() + self._applied_suffix(), error=error)
        applied = self.state.applied
        message = f"Applied {len(applied)} of {self.steps_total} steps." if applied else "Already applied."
        return self._result(APPLIED, message)

    # --- session, lock, history, pre-flight ----------------------------------------------------
    def _set_session(self) -> None:
        settings = [
            f"SET lock_timeout = {int(self.cfg.lock_timeout_ms)}",
            f"SET statement_timeout = {int(self.cfg.statement_timeout_ms)}",
        ]
        if self.conn.info.server_version >= 140000:
            settings.append("SET client_connection_check_interval = 2000")
        for setting in settings:
            self.cur.execute(own(setting))

    def _reset_session(self) -> None:
        resets = ["RESET lock_timeout", "RESET statement_timeout"]
        if self.conn.info.server_version >= 140000:
            resets.append("RESET client_connection_check_interval")
        for reset in resets:
            self._quietly(lambda reset=reset: self.cur.execute(own(reset)))

    def _take_apply_lock(self, keys) -> None:
        deadline = time.monotonic() + self.cfg.apply_lock_wait_seconds
        reported = False
        while not locking.try_apply_lock(self.cur, keys):
            holder = locking.apply_lock_holder(self.cur, keys)
            if not reported:
                self._progress(WAITING_FOR_APPLY, f"Waiting for another apply on this database ({holder}).")
                reported = True
            if time.monotonic() >= deadline:
                raise _Stop(
                    BUSY,
                    f"Another apply ({holder}) kept this database busy for more than "
                    f"{self.cfg.apply_lock_wait_seconds:.0f} s; nothing was applied.",
                )
            self._sleep(self.cfg.poll_seconds)

    def _prepare_history(self) -> None:
        history.ensure_history_tables(self.cur)
        recorded = history.read_history(self.conn, self.migration_id, steps_total=self.steps_total)
        if recorded.checksum is not None and recorded.checksum != self.plan.checksum:
            raise _Stop(
                FAILED,
                "This migration id is already recorded on the target with different SQL "
                f"({recorded.describe()}); nothing was applied.",
            )
        self.state.already = recorded.step_numbers
        for number in recorded.step_numbers:
            self._progress(
                STEP_ALREADY_APPLIED, f"Step {number} was applied earlier; skipping it.", step=number
            )

    def _preflight(self) -> None:
        oids = locking.relation_oids(self.cur, self.plan.relations)
        deadline = time.monotonic() + self.cfg.preflight_wait_seconds
        seen: set[int] = set()
        while True:
            blockers = locking.find_blockers(
                self.cur, oids, long_transaction_seconds=self.cfg.long_transaction_seconds
            )
            if not blockers:
                return
            listing = "; ".join(b.describe() for b in blockers)
            if not self.cfg.stop_on_blockers:
                self._progress(
                    PREFLIGHT_WAIT, f"Sessions in the way (going ahead): {listing}", blockers=blockers
                )
                return
            if {b.pid for b in blockers} != seen:
                seen = {b.pid for b in blockers}
                self._progress(
                    PREFLIGHT_WAIT, f"Waiting for sessions in the way: {listing}", blockers=blockers
                )
            if time.monotonic() >= deadline:
                raise _Stop(
                    BLOCKED,
                    f"Stopped before applying anything: {len(blockers)} session(s) still in the way after "
                    f"{self.cfg.preflight_wait_seconds:.0f} s: {listing}",
                    blockers=blockers,
                )
            self._sleep(self.cfg.poll_seconds)

    # --- steps -----------------------------------------------------------------------------------
    def _run_step(self, step: Step) -> None:
        self.state.current_step = step
        self._progress(
            STEP_STARTED, f"Step {step.number} of {self.steps_total}: {step.label}.", step=step.number
        )
        attempt = 1
        while True:
            try:
                reports = self._attempt_step(step, attempt)
                break
            except pg_errors.LockNotAvailable as exc:
                self._wait_before_retry(exc, step, attempt)
                attempt += 1
        self.state.reports.extend(reports)
        self.state.pending = []
        self.state.applied.append(step.number)
        self._progress(
            STEP_RECORDED, f"Step {step.number} of {self.steps_total} applied and recorded.", step=step.number
        )
        self.state.current_step = None

    def _attempt_step(self, step: Step, attempt: int) -> list[StatementReport]:
        if step.transactional:
            return self._attempt_in_transaction(step, attempt)
        return self._attempt_alone(step, attempt)

    def _attempt_in_transaction(self, step: Step, attempt: int) -> list[StatementReport]:
        tx = _Transaction(self.cur, self.nested)
        tx.begin()
        try:
            held: set[capture.LockHeld] = set()
            reports = self.state.pending = []
            for statement in step.statements:
                self._check_cancel()
                report, held = self._run_statement(statement, step, attempt, held)
                reports.append(report)
            self.state.current = None
            self._record(step, reports)
            tx.commit()
            return reports
        except BaseException:
            tx.rollback()
            raise

    def _attempt_alone(self, step: Step, attempt: int) -> list[StatementReport]:
        statement = step.statements[0]
        invalid_before = self._clear_invalid_index(statement)
        try:
            report, _ = self._run_statement(statement, step, attempt, set())
        except BaseException:
            self._drop_new_invalid(statement, invalid_before)
            raise
        self.state.pending = [report]
        self.state.current = None
        self._record_alone(step, [report])
        return [report]

    def _wait_before_retry(self, exc: psycopg.Error, step: Step, attempt: int) -> None:
        statement = self.state.current or step.statements[0]
        holders = self._lock_holders(statement)
        if attempt > self.cfg.max_lock_retries:
            error = self._error_from(
                exc,
                message=(
                    f"could not get its lock within {self.cfg.lock_timeout_ms} ms in {attempt} attempts "
                    f"({exc.diag.message_primary or exc}). {holders}"
                ).strip(),
            )
            raise _Stop(FAILED, error.describe() + self._applied_suffix(), error=error) from None
        delay = min(self.cfg.retry_max_seconds, self.cfg.retry_base_seconds * 2 ** (attempt - 1))
        delay *= 0.5 + random.random()
        self._progress(
            LOCK_RETRY,
            f"Statement {statement.number} did not get its lock within {self.cfg.lock_timeout_ms} ms; "
            f"retry {attempt} of {self.cfg.max_lock_retries} in {delay:.1f} s. {holders}".strip(),
            step=step.number,
            statement_index=statement.index,
            attempt=attempt,
            delay_seconds=delay,
        )
        self._sleep(delay)

    def _lock_holders(self, statement: Statement) -> str:
        """Who holds locks on the statement's relations now (for retry and failure messages)."""
        oids = locking.relation_oids(self.cur, statement.relations)
        if not oids:
            return ""
        blockers = [b for b in locking.find_blockers(self.cur, oids, long_transaction_seconds=1e9) if b.locks]
        return ("Held by: " + "; ".join(b.describe() for b in blockers) + ".") if blockers else ""

    # --- one statement ---------------------------------------------------------------------------
    def _run_statement(self, statement: Statement, step: Step, attempt: int, held: set):
        self.state.current = statement
        self._progress(
            STATEMENT_STARTED,
            f"Statement {statement.number} of {len(self.plan.statements)} (line {statement.line}).",
            step=step.number,
            statement_index=statement.index,
            attempt=attempt,
        )
        filenodes = capture.read_filenodes(self.cur, statement.relations) if self.capture else None
        sampler = self._sampler(statement)
        started = time.perf_counter()
        with CancelWatcher(self.conn, self.should_cancel, self.cfg.poll_seconds) as watcher:
            try:
                if sampler is None:
                    self.cur.execute(statement.text, prepare=False)
                else:
                    with sampler:
                        self.cur.execute(statement.text, prepare=False)
            except pg_errors.QueryCanceled:
                if watcher.fired:
                    raise _Cancelled() from None
                raise
        duration_ms = (time.perf_counter() - started) * 1000
        rows = self.cur.rowcount if self.cur.rowcount >= 0 else None
        locks, rewrites, note = None, None, ""
        if self.capture:
            locks, held, note = self._locks_of(statement, sampler, held)
            rewrites = capture.rewritten(self.cur, filenodes)
        report = StatementReport(
            statement.index, statement.line, step.number, duration_ms, rows, attempt, locks, rewrites, note
        )
        self._progress(
            STATEMENT_DONE,
            f"Statement {statement.number} done in {duration_ms:.0f} ms.",
            step=step.number,
            statement_index=statement.index,
        )
        return report, held

    def _sampler(self, statement: Statement) -> capture.LockSampler | None:
        if self.capture and not statement.transactional and self.side_connect is not None:
            return capture.LockSampler(self.side_connect, self.conn.info.backend_pid)
        return None

    def _locks_of(self, statement: Statement, sampler, held: set):
        """(locks this statement took, all locks now held in the step, note)."""
        if statement.transactional:
            now = capture.read_locks(self.cur, self.conn.info.backend_pid)
            return tuple(sorted(now - held)), now, ""
        if sampler is None:
            return None, held, "locks not sampled (no second connection given)"
        return tuple(sorted(sampler.locks)), held, sampler.error or ""

    # --- recording -------------------------------------------------------------------------------
    def _record(self, step: Step, reports: list[StatementReport]) -> None:
        rows = [r.rows for r in reports if r.rows is not None]
        history.write_step(
            self.cur,
            history.StepRow(
                migration_id=self.migration_id,
                checksum=self.plan.checksum,
                steps_total=self.steps_total,
                lsn_before=self.state.lsn_before,
                applied_by=self.cfg.applied_by,
                step=step.number,
                first_statement=step.statements[0].index,
                last_statement=step.statements[-1].index,
                transactional=step.transactional,
                step_checksum=step.checksum,
                duration_ms=sum(r.duration_ms for r in reports),
                rows_affected=sum(rows) if rows else None,
            ),
        )

    def _record_alone(self, step: Step, reports: list[StatementReport]) -> None:
        """The statement already committed: its row must be written even if a late cancel arrives."""
        for attempt in range(2):
            tx = _Transaction(self.cur, self.nested)
            tx.begin()
            try:
                self._record(step, reports)
                tx.commit()
                return
            except pg_errors.QueryCanceled:
                tx.rollback()
                if attempt:
                    raise

    # --- invalid indexes -------------------------------------------------------------------------
    def _clear_invalid_index(self, statement: Statement) -> set:
        index = statement.concurrent_index
        if index is None:
            return set()
        invalid = indexes.invalid_indexes(self.cur, index)
        for schema, name in indexes.leftovers_of(index, invalid):
            self._drop_invalid(schema, name, "left by an earlier failed build")
            invalid.discard((schema, name))
        return invalid

    def _drop_new_invalid(self, statement: Statement, before: set) -> None:
        index = statement.concurrent_index
        if index is None:
            return
        try:
            for schema, name in sorted(indexes.invalid_indexes(self.cur, index) - before):
                self._drop_invalid(schema, name, "left by this failed build")
        except psycopg.Error as exc:
            self.state.notes.append(
                f"Could not drop the invalid index left by statement {statement.number} "
                f"({exc.diag.message_primary or exc}); the next apply drops it before retrying."
            )

    def _drop_invalid(self, schema: str, name: str, why: str) -> None:
        indexes.drop_index_concurrently(self.cur, schema, name)
        note = f"Dropped invalid index {schema}.{name} ({why})."
        self.state.notes.append(note)
        self._progress(INVALID_INDEX_DROPPED, note)

    # --- helpers ---------------------------------------------------------------------------------
    def _check_cancel(self) -> None:
        if self.should_cancel is not None and self.should_cancel():
            raise _Cancelled()

    def _sleep(self, seconds: float) -> None:
        """Sleep, but notice a cancel request within poll_seconds."""
        deadline = time.monotonic() + seconds
        while True:
            self._check_cancel()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, self.cfg.poll_seconds))

    def _progress(self, event: str, message: str, **details) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(event, message, steps_total=self.steps_total, **details))

    def _quietly(self, action) -> None:
        try:
            action()
        except psycopg.Error:
            pass

    def _error_from(self, exc: psycopg.Error, message: str | None = None) -> ApplyError:
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

    def _applied_suffix(self) -> str:
        recorded = sorted(self.state.already + tuple(self.state.applied))
        if not recorded:
            return " Nothing was applied."
        return (
            f" Steps applied and recorded before it: {', '.join(map(str, recorded))} of {self.steps_total}."
        )

    def _cancel_message(self) -> str:
        step = self.state.current_step
        where = f" during step {step.number}, which was rolled back" if step and step.transactional else ""
        return f"Cancelled{where}." + self._applied_suffix()

    def _result(self, status: str, message: str, *, error=None, blockers=()) -> ApplyResult:
        return ApplyResult(
            status=status,
            message=message,
            migration_id=self.migration_id,
            checksum=self.plan.checksum,
            steps_total=self.steps_total,
            steps_applied=tuple(self.state.applied),
            steps_already_applied=tuple(self.state.already),
            statements=tuple(self.state.reports + self.state.pending),
            error=error,
            blockers=tuple(blockers),
            lsn_before=self.state.lsn_before,
            duration_ms=(time.monotonic() - self.started) * 1000,
            notes=tuple(self.state.notes),
        )
