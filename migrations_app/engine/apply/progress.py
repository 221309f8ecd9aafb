"""What an apply reports while it runs (on_progress(Progress)): one event name per kind of news."""

from dataclasses import dataclass

from .. import locking

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
