"""Reading every known history table of a target: one catalog query, then one query per table.

Each statement runs in its own read-only transaction with the dashboard's timeouts, so a
table that cannot be read (permission denied, lock or statement timeout, dropped meanwhile)
is reported in HistoryRead.unreadable while the others are still read. Only a failure of the
catalog query or of the connection itself raises (TargetError, with a message safe to show).
"""

import psycopg
from psycopg import sql

from dashboard.targets.connect import TargetSettings, connect, explain_query_error, read_only
from dashboard.targets.marker import mark

from .model import HistoryRead, ToolHistory, Unreadable
from .tools import TABLE_NAMES, Found, ToolSpec, identify, sqitch_events

DEFAULT_LIMIT = 500
MAX_LIMIT = 10_000

# The statement collector recognises the dashboard's own statements by this marker (targets/marker.py).
WHAT = "migration-history"

CATALOG_SQL = r"""SELECT /* neon-ops-dashboard migration-history */
       now_.t, found.nspname, found.relname, found.columns, found.types
FROM (SELECT clock_timestamp()) AS now_(t)
LEFT JOIN (
  SELECT n.nspname::text AS nspname, c.relname::text AS relname,
         array_agg(a.attname::text ORDER BY a.attnum) AS columns,
         array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS types
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname = ANY(%(names)s)
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp\_%%'
  GROUP BY n.nspname, c.relname
) AS found ON true
ORDER BY found.nspname, found.relname
"""


def read_history(conn: psycopg.Connection, cfg: TargetSettings | None = None, *, limit: int = DEFAULT_LIMIT
                 ) -> HistoryRead:  # fmt: skip
    """Read the history tables of every known tool, at most `limit` rows each (newest first).

    The number of statements is fixed by the number of history tables found, whatever
    their row counts: one catalog query plus one per table (Sqitch's two tables: one).
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"The row limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}.")
    cfg = cfg or TargetSettings()
    read_at, everything = _find_tables(conn, cfg)
    result = HistoryRead(read_at=read_at)
    for found in everything:
        spec = identify(found)
        if spec is not None:
            _read_table(conn, cfg, spec, found, everything, limit, result)
    return result


def _read_table(conn, cfg, spec: ToolSpec, found: Found, everything: list[Found], limit: int,
                result: HistoryRead) -> None:  # fmt: skip
    """Add one tool table's history (or why it could not be read) to `result`."""
    missing = spec.missing(found)
    if missing:
        problem = f"required column(s) missing: {', '.join(missing)}"
        result.tools.append(ToolHistory(spec.tool, found.schema, found.table, problem=problem))
        return
    try:
        with read_only(conn, cfg) as cur:
            cur.execute(_table_query(spec, found, everything), {"limit": limit + 1})
            names = [column.name for column in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    except psycopg.Error as exc:
        if conn.closed or conn.broken:
            raise explain_query_error(exc) from None
        error = explain_query_error(exc)
        result.unreadable.append(Unreadable(spec.tool, found.schema, found.table, error.message, error.code))
        return
    result.tools.append(_to_history(spec, found, rows, limit))


def read_history_from_url(url: str, cfg: TargetSettings, *, limit: int = DEFAULT_LIMIT) -> HistoryRead:
    """Connect (timeouts, cold-start retries), read the history read-only, close."""
    connected = connect(url, cfg)
    with connected.conn as conn:
        return read_history(conn, cfg, limit=limit)


def _find_tables(conn: psycopg.Connection, cfg: TargetSettings) -> tuple:
    try:
        with read_only(conn, cfg) as cur:
            cur.execute(CATALOG_SQL, {"names": list(TABLE_NAMES)})
            rows = cur.fetchall()
    except psycopg.Error as exc:
        raise explain_query_error(exc) from None
    read_at = rows[0][0]
    found = [
        Found(schema, table, dict(zip(columns, types, strict=True)))
        for _, schema, table, columns, types in rows
        if table is not None
    ]
    return read_at, found


def _to_history(spec: ToolSpec, found: Found, rows: list[dict], limit: int) -> ToolHistory:
    history = ToolHistory(spec.tool, found.schema, found.table, truncated=len(rows) > limit)
    base = {"tool": spec.tool, "schema": found.schema, "table": found.table}
    for row in rows[:limit]:
        try:
            history.entries.append(spec.to_entry(row, base))
        except (TypeError, ValueError, OverflowError) as exc:
            # A row a tool would never write (hand-edited table): keep the others, say so once.
            history.problem = history.problem or f"a row could not be read: {type(exc).__name__}"
    return history


def _column(found: Found, name: str, alias: str = "") -> sql.Composable:
    """A selected column; timestamps without time zone are read in the server's TimeZone."""
    column = (
        sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(name))
        if alias
        else sql.Identifier(name)
    )
    kind = found.columns[name]
    if kind.startswith("timestamp") and kind.endswith("without time zone"):
        return sql.SQL("{}::timestamptz AS {}").format(column, sql.Identifier(name))
    return column


def _relation(found: Found) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(found.schema), sql.Identifier(found.table))


def _table_query(spec: ToolSpec, found: Found, everything: list[Found]) -> sql.Composed:
    if spec.tool == "sqitch":
        return _sqitch_query(spec, found, sqitch_events(found, everything))
    columns = sql.SQL(", ").join(_column(found, name) for name in spec.selected(found))
    order = [sql.SQL("{} DESC NULLS LAST").format(sql.Identifier(name)) for name in spec.order_by
             if name in found.columns]  # fmt: skip
    order_by = sql.SQL(" ORDER BY ") + sql.SQL(", ").join(order) if order else sql.SQL("")
    return sql.SQL(mark("SELECT {columns} FROM {relation}{order_by} LIMIT %(limit)s", WHAT)).format(
        columns=columns, relation=_relation(found), order_by=order_by
    )


SQITCH_WITH_EVENTS = """WITH latest AS (
  SELECT DISTINCT ON (e.change_id) e.change_id, e.change, e.project, e.event, e.committed_at
  FROM {events} AS e ORDER BY e.change_id, e.committed_at DESC
)
SELECT coalesce(c.change_id, l.change_id) AS change_id, coalesce(c.change, l.change) AS change,
       coalesce(c.project, l.project) AS project, c.committed_at, {optional},
       l.event, l.committed_at AS event_at, c.change_id IS NOT NULL AS deployed
FROM {changes} AS c FULL JOIN latest AS l ON l.change_id = c.change_id
ORDER BY greatest(c.committed_at, l.committed_at) DESC NULLS LAST LIMIT %(limit)s"""

SQITCH_CHANGES_ONLY = """SELECT c.change_id, c.change, c.project, c.committed_at, {optional},
       true AS deployed
FROM {changes} AS c ORDER BY c.committed_at DESC NULLS LAST LIMIT %(limit)s"""


def _sqitch_query(spec: ToolSpec, changes: Found, events: Found | None) -> sql.Composed:
    """Deployed changes joined with each change's latest event (deploy, revert, fail): one statement."""
    optional = sql.SQL(", ").join(
        _column(changes, name, "c")
        if name in changes.columns
        else sql.SQL("NULL AS {}").format(sql.Identifier(name))
        for name in spec.optional
    )
    template = SQITCH_WITH_EVENTS if events else SQITCH_CHANGES_ONLY
    parts = {"changes": _relation(changes), "optional": optional}
    if events:
        parts["events"] = _relation(events)
    return sql.SQL(mark(template, WHAT)).format(**parts)
