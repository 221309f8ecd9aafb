"""Reading pg_stat_statements of one database: counters, query texts, reset markers.

Plain functions over a psycopg cursor that return dataclasses; no Django. The
column set differs between Postgres 14 and 18 (stats_since arrives with
pg_stat_statements 1.11 on 17; toplevel with 1.9 on 14), so the select list is
built from the columns the installed view really has.

Every statement the dashboard sends carries a `/* neon-ops-dashboard <what> */`
comment right after its first keyword (targets/marker.py: Postgres 18 drops a comment
before the first keyword from the stored text). A statement is the dashboard's own
only when its text carries that exact marker there AND the role
that ran it is the role the dashboard connects as (read with the snapshot), so an
application cannot hide its traffic by writing the marker into a comment.
"""

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from dashboard.targets.marker import is_marked, mark

# Utility statements the dashboard's read-only transactions send (see targets.connect.read_only).
OWN_UTILITY_PREFIXES = (
    "begin",
    "commit",
    "rollback",
    "set transaction read only",
    "set local statement_timeout",
    "set local lock_timeout",
)

# Counters summed per interval; name in pg_stat_statements -> our field name.
COUNTER_COLUMNS = {
    "calls": "calls",
    "total_exec_time": "total_exec_ms",
    "total_plan_time": "total_plan_ms",
    "rows": "rows",
    "shared_blks_hit": "shared_blks_hit",
    "shared_blks_read": "shared_blks_read",
}
COUNTERS = tuple(COUNTER_COLUMNS.values())


class StatementsUnavailable(Exception):
    """pg_stat_statements is missing or unreadable; `message` is safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class StatementCounters:
    queryid: int
    userid: int
    toplevel: bool
    calls: int
    total_exec_ms: float
    total_plan_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    stats_since: datetime | None = None

    @property
    def key(self) -> tuple[int, int, bool]:
        """Identity of one pg_stat_statements entry inside one database."""
        return (self.userid, self.queryid, self.toplevel)

    def counters(self) -> tuple:
        return (
            self.calls,
            self.total_exec_ms,
            self.total_plan_ms,
            self.rows,
            self.shared_blks_hit,
            self.shared_blks_read,
        )


@dataclass
class StatementsSnapshot:
    server_version_num: int
    dbid: int
    datname: str
    target_now: datetime
    postmaster_start: datetime
    stats_reset: datetime | None
    has_stats_since: bool
    entries: list[StatementCounters] = field(default_factory=list)
    roles: dict[int, str] = field(default_factory=dict)
    schema: str = "public"
    # The oid of the role the dashboard connects as (current_user): only its statements can be its own.
    own_userid: int | None = None


@dataclass
class QueryTextRow:
    queryid: int
    text: str


def _mark(query: str) -> sql.Composable:
    return sql.SQL(mark(query, "collector"))


INFO_SQL = _mark(
    "SELECT current_setting('server_version_num')::int, d.oid::bigint, d.datname, now(), "
    "pg_postmaster_start_time(), "
    "(SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
    "WHERE e.extname = 'pg_stat_statements'), "
    "(SELECT r.oid::bigint FROM pg_roles r WHERE r.rolname = current_user) "
    "FROM pg_database d WHERE d.datname = current_database()"
)
# Columns of the view and of pg_stat_statements_info, in the schema the extension was created in
# (not always on the search path, e.g. an `extensions` schema).
COLUMNS_SQL = _mark(
    "SELECT c.relname, a.attname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = c.oid "
    "WHERE n.nspname = %s AND c.relname IN ('pg_stat_statements', 'pg_stat_statements_info') "
    "AND a.attnum > 0 AND NOT a.attisdropped"
)
ROLES_SQL = _mark("SELECT oid::bigint, rolname FROM pg_roles")


def _reset_sql(schema: str) -> sql.Composable:
    return _mark("SELECT stats_reset FROM {schema}.pg_stat_statements_info").format(
        schema=sql.Identifier(schema)
    )


def _counters_sql(schema: str, columns: set[str]) -> sql.Composable:
    toplevel = sql.SQL("toplevel") if "toplevel" in columns else sql.SQL("true")
    since = sql.SQL("stats_since") if "stats_since" in columns else sql.SQL("NULL::timestamptz")
    return _mark(
        "SELECT queryid, userid::bigint, {toplevel}, calls, total_exec_time, total_plan_time, rows, "
        "shared_blks_hit, shared_blks_read, {since} "
        "FROM {schema}.pg_stat_statements(false) WHERE dbid = %s AND queryid IS NOT NULL"
    ).format(toplevel=toplevel, since=since, schema=sql.Identifier(schema))


def _texts_sql(schema: str) -> sql.Composable:
    return _mark(
        "SELECT DISTINCT ON (queryid) queryid, query FROM {schema}.pg_stat_statements(true) "
        "WHERE dbid = %s AND queryid = ANY(%s) ORDER BY queryid"
    ).format(schema=sql.Identifier(schema))


def read_snapshot(cur: psycopg.Cursor) -> StatementsSnapshot:
    """Counters of every pg_stat_statements entry of the connected database (no texts: cheaper)."""
    cur.execute(INFO_SQL)
    version, dbid, datname, target_now, started, schema, own_userid = cur.fetchone()
    if schema is None:
        raise StatementsUnavailable(
            "pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements)."
        )
    cur.execute(COLUMNS_SQL, (schema,))
    relations: dict[str, set[str]] = {}
    for relname, attname in cur.fetchall():
        relations.setdefault(relname, set()).add(attname)
    columns = relations.get("pg_stat_statements", set())
    stats_reset = None
    if "pg_stat_statements_info" in relations:  # 14 and later
        cur.execute(_reset_sql(schema))
        stats_reset = cur.fetchone()[0]
    try:
        cur.execute(_counters_sql(schema, columns), (dbid,))
    except psycopg.errors.ObjectNotInPrerequisiteState as exc:
        raise StatementsUnavailable(
            "pg_stat_statements must be loaded via shared_preload_libraries: "
            + (exc.diag.message_primary or "")
        ) from None
    entries = [StatementCounters(*row) for row in cur.fetchall()]
    cur.execute(ROLES_SQL)
    roles = dict(cur.fetchall())
    return StatementsSnapshot(
        server_version_num=version,
        dbid=dbid,
        datname=datname,
        target_now=target_now,
        postmaster_start=started,
        stats_reset=stats_reset,
        has_stats_since="stats_since" in columns,
        entries=entries,
        roles=roles,
        schema=schema,
        own_userid=own_userid,
    )


def read_texts(cur: psycopg.Cursor, snap: StatementsSnapshot, queryids: list[int]) -> list[QueryTextRow]:
    """Normalized texts of the given statements (only those not stored yet are asked for)."""
    if not queryids:
        return []
    cur.execute(_texts_sql(snap.schema), (snap.dbid, queryids))
    return [QueryTextRow(queryid, text or "") for queryid, text in cur.fetchall()]


def is_own_statement(text: str, *, userid: int, own_userid: int | None) -> bool:
    """True for statements the dashboard itself sent: its role, and its marker first (or one of the
    utility statements of its read-only transactions, which carry no comment)."""
    if own_userid is None or userid != own_userid:
        return False
    if is_marked(text):
        return True
    lowered = " ".join(text.lower().split())
    return lowered.startswith(OWN_UTILITY_PREFIXES)
