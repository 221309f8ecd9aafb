"""What a statement really did: the relation locks it held and the tables it rewrote (rehearsal mode).

Inside a transaction the applying backend reads its own pg_locks right after the
statement (locks stay until commit). A non-transactional statement commits as it
goes, so a second connection samples pg_locks for the applying pid while it runs.
A rewrite shows as a new relfilenode of a table it touches.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from .classify import RelationName
from .sqltext import own

RELKINDS = {
    "r": "table",
    "p": "partitioned table",
    "i": "index",
    "I": "partitioned index",
    "S": "sequence",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
    "t": "toast table",
    "c": "type",
}
# Catalog locks every statement takes, the engine's own history tables and relations gone by now (the
# transient copy of a rewrite) say nothing about the migration.
LOCKS_SQL = own(
    """SELECT n.nspname || '.' || c.relname, c.relkind::text, l.mode, l.granted
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = %s AND l.locktype = 'relation'
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'neon_ops')"""
)
FILENODES_SQL = own(
    """SELECT c.oid, n.nspname || '.' || c.relname, c.relfilenode
FROM unnest(%s::text[]) AS r(name)
JOIN pg_class c ON c.oid = to_regclass(r.name)
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 't')"""
)
FILENODES_BY_OID_SQL = own("SELECT oid, relfilenode FROM pg_class WHERE oid = ANY(%s::oid[])")
SAMPLE_SECONDS = 0.01


@dataclass(frozen=True, order=True)
class LockHeld:
    relation: str  # "schema.name"
    kind: str  # "table", "index", ...
    mode: str  # e.g. "AccessExclusiveLock"
    granted: bool = True  # False: seen waiting for it (sampled statements only)


def read_locks(cur: psycopg.Cursor, pid: int) -> set[LockHeld]:
    cur.execute(LOCKS_SQL, (pid,))
    return {
        LockHeld(rel, RELKINDS.get(kind, kind or "relation"), mode, granted)
        for rel, kind, mode, granted in cur
    }


class LockSampler:
    """Samples pg_locks of `pid` from a second connection while a statement runs (context manager)."""

    def __init__(self, connect: Callable[[], psycopg.Connection], pid: int):
        self._connect = connect
        self._pid = pid
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection | None = None
        self.locks: set[LockHeld] = set()
        self.error: str | None = None

    def __enter__(self):
        self._conn = self._connect()
        self._thread = threading.Thread(target=self._sample, name="migration-lock-sampler", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        try:
            cur = self._conn.cursor()
            while True:
                self.locks |= read_locks(cur, self._pid)
                if self._stop.wait(SAMPLE_SECONDS):
                    break
        except psycopg.Error as exc:
            self.error = f"lock sampling stopped: {exc.diag.message_primary or exc}"

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self._conn.close()
        return False


@dataclass(frozen=True)
class Filenodes:
    by_oid: dict[int, tuple[str, int]]  # oid -> (name, relfilenode)


def read_filenodes(cur: psycopg.Cursor, relations: tuple[RelationName, ...]) -> Filenodes:
    if not relations:
        return Filenodes({})
    cur.execute(FILENODES_SQL, ([r.sql for r in relations],))
    return Filenodes({oid: (name, node) for oid, name, node in cur.fetchall()})


def rewritten(cur: psycopg.Cursor, before: Filenodes) -> tuple[str, ...]:
    """Names of the tables whose relfilenode changed since `before` (a dropped table is not a rewrite)."""
    if not before.by_oid:
        return ()
    cur.execute(FILENODES_BY_OID_SQL, (list(before.by_oid),))
    after = dict(cur.fetchall())
    return tuple(
        sorted(name for oid, (name, node) in before.by_oid.items() if oid in after and after[oid] != node)
    )
