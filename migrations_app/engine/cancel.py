"""Cancelling the statement the applier is running when the caller asks (should_cancel() turns true)."""

import threading
from collections.abc import Callable

import psycopg

CANCEL_TIMEOUT_SECONDS = 10.0


class CancelWatcher:
    """While active, polls should_cancel() and sends a cancel request for `conn`'s running statement.

    The request is only sent while the statement runs (a lock keeps exit and cancel
    apart), so it cannot hit the step's history row written afterwards.
    """

    def __init__(
        self, conn: psycopg.Connection, should_cancel: Callable[[], bool] | None, poll_seconds: float
    ):
        self._conn = conn
        self._should_cancel = should_cancel
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._guard = threading.Lock()
        self._active = False
        self._thread: threading.Thread | None = None
        self.fired = False

    def __enter__(self):
        if self._should_cancel is None:
            return self
        self._active = True
        self._thread = threading.Thread(target=self._watch, name="migration-cancel-watcher", daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            if not self._should_cancel():
                continue
            with self._guard:
                if self._active:
                    self.fired = True
                    self._conn.cancel_safe(timeout=CANCEL_TIMEOUT_SECONDS)
            return

    def __exit__(self, *exc_info):
        if self._thread is not None:
            with self._guard:
                self._active = False
            self._stop.set()
            self._thread.join()
        return False
