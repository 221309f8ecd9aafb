"""Pre-flight: sessions in the way of the migration, found before anything runs.

A session holding a lock on a relation the migration touches, or with a transaction open for long,
would make the migration queue behind it (and every later reader queue behind the migration). The
apply waits for them, bounded, then stops with their list (or goes ahead, if the settings say so).
"""

import time

from .. import locking
from ..plan import Statement
from .outcome import BLOCKED
from .progress import PREFLIGHT_WAIT
from .run_context import RunContext, Stop


def wait_for_blockers(run: RunContext) -> None:
    oids = locking.relation_oids(run.cur, run.plan.relations)
    deadline = time.monotonic() + run.cfg.preflight_wait_seconds
    seen: set[int] = set()
    while True:
        blockers = locking.find_blockers(
            run.cur, oids, long_transaction_seconds=run.cfg.long_transaction_seconds
        )
        if not blockers:
            return
        listing = "; ".join(b.describe() for b in blockers)
        if not run.cfg.stop_on_blockers:
            run.progress(PREFLIGHT_WAIT, f"Sessions in the way (going ahead): {listing}", blockers=blockers)
            return
        if {b.pid for b in blockers} != seen:  # say it again only when the sessions change
            seen = {b.pid for b in blockers}
            run.progress(PREFLIGHT_WAIT, f"Waiting for sessions in the way: {listing}", blockers=blockers)
        if time.monotonic() >= deadline:
            raise Stop(
                BLOCKED,
                f"Stopped before applying anything: {len(blockers)} session(s) still in the way after "
                f"{run.cfg.preflight_wait_seconds:.0f} s: {listing}",
                blockers=blockers,
            )
        run.sleep(run.cfg.poll_seconds)


def lock_holders(run: RunContext, statement: Statement) -> str:
    """Who holds locks on the statement's relations now (for retry and failure messages)."""
    oids = locking.relation_oids(run.cur, statement.relations)
    if not oids:
        return ""
    blockers = [b for b in locking.find_blockers(run.cur, oids, long_transaction_seconds=1e9) if b.locks]
    return ("Held by: " + "; ".join(b.describe() for b in blockers) + ".") if blockers else ""
