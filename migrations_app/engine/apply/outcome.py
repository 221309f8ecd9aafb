"""What an apply gives back: its status, the statements it ran, the error that stopped it."""

from dataclasses import dataclass

from .. import capture, locking

# Outcomes (ApplyResult.status).
APPLIED = "applied"
FAILED = "failed"
CANCELLED = "cancelled"
BUSY = "busy"  # another apply held the lock for too long
BLOCKED = "blocked"  # pre-flight found sessions in the way


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
