"""The connection check run when a project is registered or edited."""

import time
from dataclasses import asdict, dataclass

import psycopg

from .connect import Connected, TargetError, TargetSettings, connect, explain_query_error, read_only

CHECK_SQL = """SELECT /* neon-ops-dashboard check */
       current_setting('server_version_num')::int,
       current_setting('server_version'),
       pg_database_size(current_database()),
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'),
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'neon'),
       pg_is_in_recovery()
"""


@dataclass
class CheckResult:
    server_version_num: int
    server_version: str
    database_size_bytes: int
    pg_stat_statements_installed: bool
    pg_stat_statements_readable: bool
    neon_extension: bool
    in_recovery: bool
    connect_ms: float
    round_trip_ms: float
    connect_attempts: int

    def as_dict(self) -> dict:
        return asdict(self)


def _pg_stat_statements_readable(cur: psycopg.Cursor) -> bool:
    """Readable means the extension answers and shows other roles' query texts."""
    try:
        with cur.connection.transaction():
            cur.execute("SELECT /* neon-ops-dashboard check */ count(*) FROM pg_stat_statements LIMIT 1")
            cur.fetchone()
        return True
    except psycopg.Error:
        return False


def check_connection(url: str, cfg: TargetSettings) -> CheckResult:
    return check_connected(connect(url, cfg), cfg)


def check_connected(connected: Connected, cfg: TargetSettings) -> CheckResult:
    """Check a connection just opened (round trip, version, extensions); closes it."""
    try:
        with connected.conn as conn:
            started = time.monotonic()
            conn.execute("SELECT /* neon-ops-dashboard check */ 1").fetchone()
            round_trip = time.monotonic() - started
            try:
                with read_only(conn, cfg) as cur:
                    cur.execute(CHECK_SQL)
                    version_num, version, size, has_pgss, has_neon, in_recovery = cur.fetchone()
                    readable = _pg_stat_statements_readable(cur) if has_pgss else False
            except psycopg.Error as exc:
                raise explain_query_error(exc) from None
    except psycopg.OperationalError as exc:
        raise TargetError(f"The connection was lost during the check: {type(exc).__name__}") from None
    return CheckResult(
        server_version_num=version_num,
        server_version=version,
        database_size_bytes=size,
        pg_stat_statements_installed=has_pgss,
        pg_stat_statements_readable=readable,
        neon_extension=has_neon,
        in_recovery=in_recovery,
        connect_ms=round(connected.connect_seconds * 1000, 1),
        round_trip_ms=round(round_trip * 1000, 2),
        connect_attempts=connected.attempts,
    )
