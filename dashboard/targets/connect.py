"""Opening connections to target databases.

Every connection sets application_name, a connect timeout, statement_timeout and
lock_timeout. Neon's transient errors while a compute wakes up are retried with
exponential backoff and jitter; the time spent connecting is reported so pages
can show cold starts.
"""

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from .policy import HostPolicy, allowed_addresses
from .urls import InvalidURL, parse_url

# Messages Neon (and Postgres) give while a compute is starting or being suspended.
TRANSIENT_MARKERS = (
    "couldn't connect to compute node",
    "terminating connection due to administrator command",
    "the database system is starting up",
    "the database system is shutting down",
    "compute is starting",
    "endpoint is in transition",
)


class TargetError(Exception):
    """A failure talking to a target; `message` is safe to show to users (no secrets)."""

    def __init__(self, message: str, *, code: str = "error"):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class TargetSettings:
    connect_timeout: int = 10
    statement_timeout_ms: int = 5000
    lock_timeout_ms: int = 2000
    application_name: str = "neon-ops-dashboard"
    retries: int = 4
    retry_base_seconds: float = 0.5
    # Through Neon's pooler (PgBouncer, transaction mode) startup options are refused,
    # so timeouts are then set with SET LOCAL inside each transaction instead.
    pooled: bool = False
    # Checked again at connect time against the addresses actually used (see targets/policy.py).
    policy: HostPolicy | None = None


@dataclass
class Connected:
    conn: psycopg.Connection
    connect_seconds: float
    attempts: int


def is_transient(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in TRANSIENT_MARKERS)


def backoff_delays(retries: int, base: float) -> Iterator[float]:
    """Exponential backoff with full jitter: base, 2*base, 4*base ... each scaled by [0.5, 1.5)."""
    for attempt in range(retries):
        yield base * (2**attempt) * (0.5 + random.random())


def explain_connect_error(exc: BaseException, host: str, port: int, timeout: int) -> TargetError:
    """Turn a psycopg connect failure into a clear message without leaking the password."""
    text = str(exc)
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return TargetError("Authentication failed: wrong user name or password.", code="auth")
    if (
        "could not translate host name" in lowered
        or "failed to resolve host" in lowered
        or "name or service not known" in lowered
    ):
        return TargetError(f"Unknown host {host!r}: the name does not resolve.", code="dns")
    if "timeout expired" in lowered or "timed out" in lowered:
        return TargetError(f"Timed out after {timeout} s connecting to {host}:{port}.", code="timeout")
    if "connection refused" in lowered:
        return TargetError(
            f"Connection refused by {host}:{port}: nothing is listening there.", code="refused"
        )
    if "is not currently accepting connections" in lowered:
        return TargetError(
            "The compute is suspended (idle) and refuses connections; wake it first.", code="idle"
        )
    if "does not exist" in lowered and "database" in lowered:
        return TargetError("The database named in the URL does not exist on the server.", code="no_database")
    if (
        "received invalid response" in lowered
        or "server closed the connection unexpectedly" in lowered
        or ("ssl" in lowered and "negotiation" in lowered)
    ):
        return TargetError(f"{host}:{port} did not answer like a Postgres server.", code="not_postgres")
    if "ssl" in lowered:
        return TargetError(f"TLS negotiation with {host}:{port} failed.", code="tls")
    if is_transient(exc):
        return TargetError("The compute did not wake up in time; try again.", code="cold_start")
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return TargetError(f"Could not connect: {first_line}", code="error")


def _connect_kwargs(url: str, cfg: TargetSettings) -> dict:
    parsed = parse_url(url)
    kwargs = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.user,
        "password": parsed.password,
        "dbname": parsed.dbname,
        "connect_timeout": cfg.connect_timeout,
        "application_name": cfg.application_name,
        "autocommit": True,
    }
    if cfg.policy is not None:
        kwargs.update(_pinned_addresses(parsed, cfg.policy))
    for key, value in parsed.options.items():
        if key in ("sslmode", "sslrootcert", "channel_binding", "options", "target_session_attrs"):
            kwargs[key] = value
    if not cfg.pooled:
        timeouts = f"-c statement_timeout={cfg.statement_timeout_ms} -c lock_timeout={cfg.lock_timeout_ms}"
        kwargs["options"] = f"{kwargs.get('options', '')} {timeouts}".strip()
    return kwargs


def _pinned_addresses(parsed, policy: HostPolicy) -> dict:
    """host/hostaddr lists that make libpq connect to exactly the addresses the policy checked.

    The name is resolved once here; libpq then uses `hostaddr` and never resolves it again,
    so a name that starts resolving elsewhere (DNS rebinding) cannot slip past the check.
    `host` stays the name, for TLS server-name checks.
    """
    try:
        addresses = allowed_addresses(parsed, policy)
    except InvalidURL as exc:
        raise TargetError(str(exc), code="policy") from None
    return {
        "host": ",".join([parsed.host] * len(addresses)),
        "hostaddr": ",".join(str(a) for a in addresses),
    }


def connect(
    url: str,
    cfg: TargetSettings | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Connected:
    """Connect with timeouts, retrying Neon's transient wake-up errors with backoff."""
    cfg = cfg or TargetSettings()
    parsed = parse_url(url)
    kwargs = _connect_kwargs(url, cfg)
    delays = backoff_delays(cfg.retries, cfg.retry_base_seconds)
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            conn = psycopg.connect(**kwargs)
            break
        except psycopg.OperationalError as exc:
            delay = next(delays, None) if is_transient(exc) else None
            if delay is None:
                raise explain_connect_error(exc, parsed.host, parsed.port, cfg.connect_timeout) from None
            sleep(delay)
    return Connected(conn=conn, connect_seconds=time.monotonic() - started, attempts=attempts)


@contextmanager
def read_only(conn: psycopg.Connection, cfg: TargetSettings) -> Iterator[psycopg.Cursor]:
    """A read-only transaction with the configured timeouts (SET LOCAL works through the pooler too)."""
    with conn.transaction():
        cur = conn.cursor()
        cur.execute("SET TRANSACTION READ ONLY")
        apply_local_timeouts(cur, cfg)
        yield cur


def apply_local_timeouts(
    cur: psycopg.Cursor, cfg: TargetSettings, statement_timeout_ms: int | None = None
) -> None:
    """statement_timeout and lock_timeout for the current transaction only.

    Through Neon's pooler startup options are refused, so every transaction that
    talks to a target sets both here. The texts start with "SET LOCAL ...", which
    the collector counts as the dashboard's own (statements.OWN_UTILITY_PREFIXES).
    """
    statement_ms = int(cfg.statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms)
    cur.execute(f"SET LOCAL statement_timeout = {statement_ms}")
    cur.execute(f"SET LOCAL lock_timeout = {int(cfg.lock_timeout_ms)}")


def explain_query_error(exc: psycopg.Error) -> TargetError:
    """A clear message for errors raised while querying a target."""
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return TargetError("The catalog is busy (a lock is held by another session); try again.", code="busy")
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return TargetError("The query took too long and was cancelled (statement timeout).", code="timeout")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return TargetError(f"Permission denied: {exc.diag.message_primary}", code="permission")
    if isinstance(exc, psycopg.OperationalError):
        return TargetError("The connection to the database was lost; try again.", code="connection_lost")
    return TargetError(f"The database returned an error: {exc.diag.message_primary or exc}", code="error")
