"""How benchmark clients connect: libpq connection strings with the project's safety settings.

The runner talks to libpq through `psycopg.pq` directly (no cursor layer), which is what
lets a Python client come close to pgbench's throughput. Every connection sets
application_name `neon-ops-dashboard-bench`, a connect timeout, statement_timeout and
lock_timeout. The collector tells the dashboard's own statements by the
`/* neon-ops-dashboard ... */` comment in their text, not by application_name, so
benchmark statements (which carry no such comment) count as real traffic; the distinct
application_name lets the activity page and pg_stat_activity tell benchmark sessions apart.
"""

import time
from dataclasses import dataclass

from psycopg import conninfo as psycopg_conninfo
from psycopg import pq

from dashboard.targets.connect import TargetError, explain_connect_error
from dashboard.targets.urls import parse_url

APPLICATION_NAME = "neon-ops-dashboard-bench"


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect; pooled vs direct is the caller's choice of URL.

    Through a transaction-mode pooler (Neon's `-pooler` host) startup options are
    refused, so with `pooled=True` the timeouts and search_path are sent as session
    `SET`s after connecting instead: best effort, since such a pooler may hand later
    transactions to another server connection. Keep the benchmark tables in a schema the
    role already has on its search_path when running pooled.
    """

    url: str
    pooled: bool = False
    connect_timeout: int = 10
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 5_000
    application_name: str = APPLICATION_NAME
    search_path: str | None = None  # a schema to find the benchmark's tables in (before public)
    # The addresses the dashboard's host policy accepted for the URL's host (targets/policy.py).
    # Every connection goes to exactly these (libpq's hostaddr) and the name is never resolved
    # again, so a name that starts resolving elsewhere (DNS rebinding) cannot move the workers;
    # the name stays the host, for TLS. Empty: libpq resolves the name itself.
    hostaddr: tuple[str, ...] = ()

    def conninfo(self) -> bytes:
        parsed = parse_url(self.url)  # a clear InvalidURL for bad input, before any process starts
        extra = {"application_name": self.application_name, "connect_timeout": int(self.connect_timeout)}
        if self.hostaddr:
            extra["host"] = ",".join([parsed.host] * len(self.hostaddr))
            extra["hostaddr"] = ",".join(self.hostaddr)
        if not self.pooled:
            existing = psycopg_conninfo.conninfo_to_dict(self.url).get("options") or ""
            extra["options"] = f"{existing} {self._startup_options()}".strip()
        return psycopg_conninfo.make_conninfo(self.url, **extra).encode()

    def _search_path(self) -> str:
        """The benchmark's schema first, then public: `"neon_ops_bench", public`."""
        return '"' + self.search_path.replace('"', '""') + '", public'

    def _startup_options(self) -> str:
        options = f"-c statement_timeout={int(self.statement_timeout_ms)} -c lock_timeout={int(self.lock_timeout_ms)}"
        if self.search_path:  # the options parser splits on spaces unless escaped with a backslash
            options += " -c search_path=" + self._search_path().replace("\\", "\\\\").replace(" ", "\\ ")
        return options

    def session_statements(self) -> list[bytes]:
        """What a pooled connection runs once after connecting (nothing for direct ones)."""
        if not self.pooled:
            return []
        statements = [
            f"SET statement_timeout = {int(self.statement_timeout_ms)}".encode(),
            f"SET lock_timeout = {int(self.lock_timeout_ms)}".encode(),
        ]
        if self.search_path:
            statements.append(f"SET search_path = {self._search_path()}".encode())
        return statements

    def describe_error(self, message: str) -> TargetError:
        parsed = parse_url(self.url)
        return explain_connect_error(Exception(message), parsed.host, parsed.port, self.connect_timeout)


def connect_blocking(conninfo: bytes, session_statements: list[bytes]) -> tuple[pq.PGconn, int]:
    """A connected PGconn and the nanoseconds it took; raises ConnectFailed with libpq's text."""
    started = time.perf_counter_ns()
    conn = pq.PGconn.connect(conninfo)
    if conn.status != pq.ConnStatus.OK:
        message = conn.error_message.decode(errors="replace")
        conn.finish()
        raise ConnectFailed(message)
    for statement in session_statements:
        result = conn.exec_(statement)
        if result.status != pq.ExecStatus.COMMAND_OK:
            text = (result.error_message or b"").decode(errors="replace")
            conn.finish()
            raise ConnectFailed(text)
    return conn, time.perf_counter_ns() - started


class ConnectFailed(Exception):
    """libpq's message for a failed connection (may name host and user, never the password)."""
