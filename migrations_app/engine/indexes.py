"""INVALID indexes left by failed concurrent builds: found before a (re)run, dropped after a failure.

`CREATE INDEX CONCURRENTLY IF NOT EXISTS` silently accepts an invalid index of
the same name, so the applier drops such leftovers before running the build.
"""

import psycopg

from .classify import ConcurrentIndex
from .sqltext import own, quote_ident

INVALID_SQL = own(
    """SELECT n.nspname, c.relname
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = to_regclass(%s) AND NOT i.indisvalid
ORDER BY c.relname"""
)


def invalid_indexes(cur: psycopg.Cursor, index: ConcurrentIndex) -> set[tuple[str, str]]:
    """(schema, name) of the invalid indexes on the build's table."""
    cur.execute(INVALID_SQL, (index.table.sql,))
    return {(schema, name) for schema, name in cur.fetchall()}


def drop_index_concurrently(cur: psycopg.Cursor, schema: str, name: str) -> None:
    cur.execute(own(f"DROP INDEX CONCURRENTLY IF EXISTS {quote_ident(schema)}.{quote_ident(name)}"))


def leftovers_of(index: ConcurrentIndex, invalid: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The invalid indexes a rerun of this build would collide with (same name)."""
    return sorted(item for item in invalid if index.name is not None and item[1] == index.name)
