"""The session around an apply: its timeouts, and the per-database apply lock (a second apply waits)."""

import time

from .. import locking
from ..sqltext import own
from .outcome import BUSY
from .progress import WAITING_FOR_APPLY
from .run_context import RunContext, Stop


def set_timeouts(run: RunContext) -> None:
    settings = [
        f"SET lock_timeout = {int(run.cfg.lock_timeout_ms)}",
        f"SET statement_timeout = {int(run.cfg.statement_timeout_ms)}",
    ]
    if run.conn.info.server_version >= 140000:
        # A statement of a worker that died stops soon instead of holding its locks.
        settings.append("SET client_connection_check_interval = 2000")
    for setting in settings:
        run.cur.execute(own(setting))


def reset_timeouts(run: RunContext) -> None:
    resets = ["RESET lock_timeout", "RESET statement_timeout"]
    if run.conn.info.server_version >= 140000:
        resets.append("RESET client_connection_check_interval")
    for reset in resets:
        run.quietly(lambda reset=reset: run.cur.execute(own(reset)))


def take_apply_lock(run: RunContext, keys: tuple[int, int]) -> None:
    """Wait (bounded, saying so once) until no other apply holds this database's apply lock."""
    deadline = time.monotonic() + run.cfg.apply_lock_wait_seconds
    reported = False
    while not locking.try_apply_lock(run.cur, keys):
        holder = locking.apply_lock_holder(run.cur, keys)
        if not reported:
            run.progress(WAITING_FOR_APPLY, f"Waiting for another apply on this database ({holder}).")
            reported = True
        if time.monotonic() >= deadline:
            raise Stop(
                BUSY,
                f"Another apply ({holder}) kept this database busy for more than "
                f"{run.cfg.apply_lock_wait_seconds:.0f} s; nothing was applied.",
            )
        run.sleep(run.cfg.poll_seconds)
