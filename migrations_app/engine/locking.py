"""Who may apply and who is in the way: the per-database apply lock and the pre-flight blockers.

The apply lock is a session advisory lock (two int4 keys: a fixed namespace and a
hash of the database name), so it needs the direct connection: Neon's pooler
(PgBouncer, transaction mode) would hand the session to someone else.
"""

import hashlib
from dataclasses import dataclass

import psycopg

from .classify import RelationName
from .sqltext import own, shorten

# "nomg": the advisory-lock namespace of migrations applied by the dashboard.
APPLY_LOCK_NAMESPACE = 0x6E6F6D67

TRY_LOCK_SQL = own("SELECT pg_try_advisory_lock(%s, %s)")
UNLOCK_SQL = own("SELECT pg_advisory_unlock(%s, %s)")
HOLDER_SQL = own(
    """SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.usename, '')
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::oid AND l.objid = %s::oid AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
)
RELATION_OIDS_SQL = own(
    """SELECT coalesce(array_agg(DISTINCT to_regclass(name)::oid) FILTER (WHERE to_regclass(name) IS NOT NULL),
    '{}') FROM unnest(%s::text[]) AS name"""
)
BLOCKERS_SQL = own(
    """SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), coalesce(a.state, ''),
       EXTRACT(EPOCH FROM now() - a.xact_start)::float8, left(coalesce(a.query, ''), 2000),
       coalesce(array_agg(DISTINCT n.nspname || '.' || c.relname || ' (' || l.mode || ')')
                FILTER (WHERE c.oid IS NOT NULL), '{}')
FROM pg_stat_activity a
LEFT JOIN pg_locks l ON l.pid = a.pid AND l.granted AND l.locktype = 'relation' AND l.relation = ANY(%(oids)s::oid[])
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
GROUP BY a.pid, a.usename, a.application_name, a.state, a.xact_start, a.query
HAVING count(c.oid) > 0
    OR (a.xact_start IS NOT NULL AND now() - a.xact_start > make_interval(secs => %(long_seconds)s))
ORDER BY a.xact_start NULLS LAST, a.pid"""
)


def apply_lock_keys(dbname: str) -> tuple[int, int]:
    """(namespace, key) of the apply lock of database `dbname` (both signed int4)."""
    digest = hashlib.sha256(dbname.encode("utf-8")).digest()
    return APPLY_LOCK_NAMESPACE, int.from_bytes(digest[:4], "big", signed=True)


def try_apply_lock(cur: psycopg.Cursor, keys: tuple[int, int]) -> bool:
    cur.execute(TRY_LOCK_SQL, keys)
    return bool(cur.fetchone()[0])


def release_apply_lock(cur: psycopg.Cursor, keys: tuple[int, int]) -> None:
    cur.execute(UNLOCK_SQL, keys)


def apply_lock_holder(cur: psycopg.Cursor, keys: tuple[int, int]) -> str:
    """A short description of the session holding the apply lock ("" when nobody does)."""
    namespace, key = keys
    cur.execute(HOLDER_SQL, (namespace & 0xFFFFFFFF, key & 0xFFFFFFFF))
    row = cur.fetchone()
    if row is None:
        return ""
    pid, application, user = row
    return f"pid {pid} ({application or 'no application name'}, user {user or '?'})"


@dataclass(frozen=True)
class Blocker:
    """A session that would make the migration queue behind it (or block everyone behind the migration)."""

    pid: int
    user: str
    application: str
    state: str
    xact_seconds: float | None
    query: str  # shortened, literals redacted
    locks: tuple[str, ...]  # "schema.table (Mode)" it holds on relations the migration touches

    @property
    def reason(self) -> str:
        if self.locks:
            return "holds " + ", ".join(self.locks)
        return f"transaction open for {self.xact_seconds or 0:.0f} s"

    def describe(self) -> str:
        return (
            f"pid {self.pid} (user {self.user or '?'}, {self.application or 'no application name'}, "
            f"{self.state or 'unknown state'}): {self.reason}; query: {self.query or '-'}"
        )


def relation_oids(cur: psycopg.Cursor, relations: tuple[RelationName, ...]) -> list[int]:
    """Oids of the named relations that exist now (names resolve through the session's search_path)."""
    cur.execute(RELATION_OIDS_SQL, ([r.sql for r in relations],))
    return list(cur.fetchone()[0])


def find_blockers(cur: psycopg.Cursor, oids: list[int], *, long_transaction_seconds: float) -> list[Blocker]:
    """Other sessions holding locks on those relations, or with a transaction open longer than the limit."""
    cur.execute(BLOCKERS_SQL, {"oids": oids, "long_seconds": float(long_transaction_seconds)})
    return [
        Blocker(pid, user, app, state, xact, shorten(query), tuple(sorted(locks)))
        for pid, user, app, state, xact, query, locks in cur.fetchall()
    ]
