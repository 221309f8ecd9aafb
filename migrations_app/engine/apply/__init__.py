"""Applying a plan to a target database over a direct (non-pooled) autocommit connection.

The order of one apply, and the module of each part:
1. `run.py`: refuse what cannot be applied at all (checksum, refused statements, connection), before
   anything is sent;
2. `session.py`: session settings: lock_timeout, statement_timeout (and, on 14+,
   client_connection_check_interval, so a statement of a worker that died stops soon instead of
   holding its locks); then the per-database apply lock (session advisory lock): a second apply
   waits, says so, and gives up after `apply_lock_wait_seconds`;
3. `recording.py`: the history tables (created on first use) and what they already record for this
   migration: steps recorded earlier with the same checksum are skipped, so a rerun after a crash
   resumes; then the LSN before applying (to restore a Neon branch to it later);
4. `preflight.py`: sessions holding locks on the relations the migration touches, or with long open
   transactions; the apply waits for them (bounded) and then stops with their list;
5. `steps.py`: the steps: consecutive transactional statements in one transaction together with their
   history row; each non-transactional statement alone, recorded right after it succeeds
   (`statements.py` runs one statement; `index_cleanup.py` drops the INVALID index a failed concurrent
   build leaves). A statement that fails on lock timeout (55P03) is retried with exponential backoff
   and jitter (`lock_retry.py`; the whole step, so no lock is held while waiting); any other error stops
   the apply with the statement and the reason.

What callers pass and get back: `settings.py` (ApplySettings), `progress.py` (Progress and its events),
`outcome.py` (ApplyResult and its statuses, StatementReport, ApplyError, ApplyRefused); what the parts
share during one apply: `run_context.py`.

Nothing here imports Django; callers pass plain values and get dataclasses back.
"""

from .outcome import (
    APPLIED,
    BLOCKED,
    BUSY,
    CANCELLED,
    FAILED,
    ApplyError,
    ApplyRefused,
    ApplyResult,
    StatementReport,
)
from .progress import (
    INVALID_INDEX_DROPPED,
    LOCK_RETRY,
    PREFLIGHT_WAIT,
    STATEMENT_DONE,
    STATEMENT_STARTED,
    STEP_ALREADY_APPLIED,
    STEP_RECORDED,
    STEP_STARTED,
    WAITING_FOR_APPLY,
    Progress,
)
from .recording import current_lsn
from .run import apply_migration
from .settings import ApplySettings

__all__ = [
    "APPLIED",
    "BLOCKED",
    "BUSY",
    "CANCELLED",
    "FAILED",
    "INVALID_INDEX_DROPPED",
    "LOCK_RETRY",
    "PREFLIGHT_WAIT",
    "STATEMENT_DONE",
    "STATEMENT_STARTED",
    "STEP_ALREADY_APPLIED",
    "STEP_RECORDED",
    "STEP_STARTED",
    "WAITING_FOR_APPLY",
    "ApplyError",
    "ApplyRefused",
    "ApplyResult",
    "ApplySettings",
    "Progress",
    "StatementReport",
    "apply_migration",
    "current_lsn",
]
