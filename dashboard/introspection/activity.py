"""Live sessions of one database: what runs, what waits, who blocks whom; cancel and terminate.

One query over pg_stat_activity with pg_blocking_pids; the blocking tree is
built in Python. Plain functions returning dataclasses; no Django.
"""

import re
from dataclasses import dataclass, field

import psycopg
from pglast import parser as pg_parser

SESSIONS_SQL = """SELECT /* neon-ops-dashboard activity */
       pid, usename, application_name, client_addr::text, state, wait_event_type, wait_event,
       EXTRACT(EPOCH FROM now() - query_start)::float8, EXTRACT(EPOCH FROM now() - xact_start)::float8,
       EXTRACT(EPOCH FROM now() - backend_start)::float8, left(query, 4000), pg_blocking_pids(pid)
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
ORDER BY xact_start NULLS LAST, pid
"""

SIGNAL_SQL = {
    "cancel": """SELECT /* neon-ops-dashboard activity */ pg_cancel_backend(pid) FROM pg_stat_activity
        WHERE pid = %s AND datname = current_database() AND pid <> pg_backend_pid()""",
    "terminate": """SELECT /* neon-ops-dashboard activity */ pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE pid = %s AND datname = current_database() AND pid <> pg_backend_pid()""",
}

SHOWN_STATES = ("active", "idle in transaction", "idle in transaction (aborted)", "fastpath function call")


@dataclass
class Session:
    pid: int
    user: str
    application: str
    client: str
    state: str
    wait_event_type: str
    wait_event: str
    query_seconds: float | None
    xact_seconds: float | None
    backend_seconds: float | None
    query: str
    blocked_by: list[int] = field(default_factory=list)
    blocking: list[int] = field(default_factory=list)
    depth: int = 0

    @property
    def is_idle_in_transaction(self) -> bool:
        return self.state.startswith("idle in transaction")


@dataclass
class Activity:
    sessions: list[Session]
    tree: list[Session]

    @property
    def blocked_count(self) -> int:
        return sum(1 for s in self.sessions if s.blocked_by)


def read_sessions(cur: psycopg.Cursor) -> list[Session]:
    cur.execute(SESSIONS_SQL)
    sessions = [
        Session(
            pid,
            user or "",
            app or "",
            client or "",
            state or "",
            wtype or "",
            wevent or "",
            q_age,
            x_age,
            b_age,
            query or "",
            list(blocked or []),
        )
        for pid, user, app, client, state, wtype, wevent, q_age, x_age, b_age, query, blocked in cur.fetchall()
    ]
    by_pid = {s.pid: s for s in sessions}
    for session in sessions:
        for blocker in session.blocked_by:
            if blocker in by_pid:
                by_pid[blocker].blocking.append(session.pid)
    return sessions


def blocking_tree(sessions: list[Session]) -> list[Session]:
    """Sessions in a blocking relationship, each blocker followed by those it blocks (depth set)."""
    by_pid = {s.pid: s for s in sessions}
    roots = [s for s in sessions if s.blocking and not any(b in by_pid for b in s.blocked_by)]
    ordered: list[Session] = []
    seen: set[int] = set()

    def walk(session: Session, depth: int) -> None:
        if session.pid in seen:  # deadlock cycles are resolved by Postgres, but never loop here
            return
        seen.add(session.pid)
        session.depth = depth
        ordered.append(session)
        for pid in session.blocking:
            walk(by_pid[pid], depth + 1)

    for root in roots:
        walk(root, 0)
    for session in sessions:  # members of a cycle with no root
        if (session.blocking or session.blocked_by) and session.pid not in seen:
            walk(session, 0)
    return ordered


def read_activity(cur: psycopg.Cursor) -> Activity:
    sessions = read_sessions(cur)
    shown = [s for s in sessions if s.state in SHOWN_STATES or s.blocking or s.blocked_by]
    return Activity(sessions=shown, tree=blocking_tree(sessions))


def signal_backend(conn: psycopg.Connection, pid: int, action: str) -> bool | None:
    """Cancel or terminate a session of this database: True if signalled, None if no such session."""
    row = conn.execute(SIGNAL_SQL[action], (pid,)).fetchone()
    return None if row is None else bool(row[0])


# Token names of literals in Postgres' scanner: strings (also E'', $$ $$, U&''), numbers, bit strings.
LITERAL_TOKENS = {"SCONST", "USCONST", "ICONST", "FCONST", "BCONST", "XCONST"}
REDACTED = "?"
_ERROR_INDEX = re.compile(r"at index (\d+)")


def redact_literals(text: str) -> str:
    """The query text with every literal replaced by "?" (ALTER ROLE ... PASSWORD '...' shows no password).

    Postgres' own scanner (via pglast) finds the literals, so quoting tricks cannot
    hide one. Texts are cut at 4000 characters, so the scan may stop at an unfinished
    literal: everything from there on is hidden too.
    """
    try:
        tokens, tail_from = list(pg_parser.scan(text)), len(text)
    except pg_parser.ParseError as exc:
        match = _ERROR_INDEX.search(str(exc))
        tail_from = int(match.group(1)) if match else 0
        try:
            tokens = list(pg_parser.scan(text[:tail_from]))
        except pg_parser.ParseError:
            return REDACTED
    parts, position = [], 0
    for token in tokens:
        if token.name in LITERAL_TOKENS:
            parts.append(text[position : token.start])
            parts.append(REDACTED)
            position = token.end + 1
    parts.append(text[position:tail_from])
    if tail_from < len(text):
        parts.append(REDACTED)
    return "".join(parts)
