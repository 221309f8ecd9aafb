"""Connection settings for targets, taken from Django settings, and the one way to open a target.

The one place that turns a Project (+ branch) into connection parameters, so every
area connects the same way (timeouts, application_name, pooled vs direct), and
every connection error reaches the page as one TargetError with a safe message.

Branch URLs: the default branch uses the URLs the admin registered. Other branches
use the URIs the Neon API gave during the sync (GET /connection_uri, stored
encrypted); failing that, the registered URL with the host of the branch's
endpoint (the role, password and database are shared by all branches of a Neon project).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
from django.conf import settings

from dashboard.common.crypto import SecretUnreadable
from dashboard.neon.state import compute_for, resolve_branch
from dashboard.neon.sync import refresh_branch_uris
from dashboard.targets.connect import (
    Connected,
    TargetError,
    TargetSettings,
    connect,
    explain_query_error,
    read_only,
)
from dashboard.targets.policy import HostPolicy, own_server_from
from dashboard.targets.urls import POOLER_MARK, InvalidURL, is_neon_host, parse_url, with_host

UNREADABLE_URL_MESSAGE = (
    "The stored connection URL cannot be decrypted with the configured keys: "
    "credentials cannot be decrypted; re-enter them on the project's edit page."
)


def target_settings(url: str, *, interactive: bool = False, **overrides) -> TargetSettings:
    """Settings for connecting to `url`.

    `interactive` is for a person waiting on a page (activity, EXPLAIN, cancel and
    terminate, a manual health refresh): one retry and a short connect timeout, so
    a silent or waking target answers with a message in seconds, not the tens of
    seconds background jobs may spend.
    """
    host = parse_url(url).host
    values = {
        "connect_timeout": settings.TARGET_CONNECT_TIMEOUT,
        "statement_timeout_ms": settings.TARGET_STATEMENT_TIMEOUT_MS,
        "lock_timeout_ms": settings.TARGET_LOCK_TIMEOUT_MS,
        "application_name": settings.TARGET_APPLICATION_NAME,
        "retries": settings.TARGET_CONNECT_RETRIES,
        "retry_base_seconds": settings.TARGET_RETRY_BASE_SECONDS,
        "pooled": is_neon_host(host) and "-pooler" in host.split(".")[0],
        "policy": host_policy(),
    }
    if interactive:
        values["retries"] = min(settings.TARGET_CONNECT_RETRIES, settings.TARGET_INTERACTIVE_CONNECT_RETRIES)
        values["connect_timeout"] = min(
            settings.TARGET_CONNECT_TIMEOUT, settings.TARGET_INTERACTIVE_CONNECT_TIMEOUT
        )
    values.update(overrides)
    return TargetSettings(**values)


def read_url(project, branch=None) -> str:
    """URL for short dashboard reads: the pooled connection of `branch` (default branch if None)."""
    return branch_url(project, branch, pooled=True)


def direct_url(project, branch=None) -> str:
    """URL for session-scoped work (migrations, pg_dump, advisory locks) on `branch`."""
    return branch_url(project, branch, pooled=False)


def database_and_role(project, branch=None) -> tuple[str, str]:
    """The database and role names of `branch`'s direct URL (a new Neon branch is reached with the same).

    An unusable URL or unknown branch is a TargetError, like every other connection failure.
    """
    try:
        parsed = parse_url(direct_url(project, branch))
    except InvalidURL as exc:
        raise TargetError(str(exc), code="url") from None
    except SecretUnreadable:
        raise TargetError(UNREADABLE_URL_MESSAGE, code="credentials") from None
    return parsed.dbname or "postgres", parsed.user or ""


def branch_url(project, branch=None, *, pooled: bool) -> str:
    registered = project.pooled_url if pooled else project.effective_direct_url
    record = resolve_branch(project, branch)
    if record is None:
        if branch is not None and project.is_neon:
            raise InvalidURL("That branch is unknown to the dashboard; sync the branches first.")
        return registered
    if record.is_default:
        return registered
    stored = record.pooled_uri if pooled else record.direct_uri
    if stored:
        return stored
    compute = compute_for(project, record)
    if compute is None or not compute.host:
        raise InvalidURL(f"Branch {record.name} has no compute to connect to.")
    return replace_host(
        registered, compute.pooled_host if pooled and _is_pooler(registered) else compute.host
    )


def _refreshed_branch_url(project, branch, used: str, *, pooled: bool) -> str:
    """The branch's URI as Neon gives it now, if the failed URL was a stored branch URI ('' otherwise)."""
    record = resolve_branch(project, branch)
    if record is None or record.is_default or used not in (record.pooled_uri, record.direct_uri):
        return ""
    if not refresh_branch_uris(project, record):
        return ""
    fresh = record.pooled_uri if pooled else record.direct_uri
    return fresh if fresh != used else ""


def _is_pooler(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host.partition(".")[0].endswith(POOLER_MARK)


def replace_host(url: str, host: str) -> str:
    if not urlsplit(url).hostname:
        return url
    return with_host(url, host)


@dataclass
class OpenTarget:
    """An open connection to a target, with the settings it was opened with."""

    conn: psycopg.Connection
    cfg: TargetSettings
    connected: Connected

    def read_only(self):
        """A read-only transaction with the timeouts set (see targets.connect.read_only)."""
        return read_only(self.conn, self.cfg)


@contextmanager
def open_target(
    project, branch=None, *, direct: bool = False, interactive: bool = False, **overrides
) -> Iterator[OpenTarget]:
    """Open the project's target (or `branch`'s) and close it after the block.

    Every failure, while connecting or inside the block (an unusable URL, a refused or
    silent server, a statement or lock timeout, a lost connection), comes out as one
    TargetError whose `message` is safe to show; other exceptions pass through unchanged.
    `overrides` go to target_settings (e.g. statement_timeout_ms).
    """
    try:
        url = direct_url(project, branch) if direct else read_url(project, branch)
    except InvalidURL as exc:
        raise TargetError(str(exc), code="url") from None
    except SecretUnreadable:
        raise TargetError(UNREADABLE_URL_MESSAGE, code="credentials") from None

    def refreshed(stale: str) -> str:
        return _refreshed_branch_url(project, branch, stale, pooled=not direct)

    with open_url(url, interactive=interactive, refresh=refreshed, **overrides) as target:
        yield target


@contextmanager
def open_url(
    url: str, *, interactive: bool = False, refresh: Callable[[str], str] | None = None, **overrides
) -> Iterator[OpenTarget]:
    """open_target for a URL that no Project holds (a temporary branch's URI from the Neon API).

    The same settings and the same errors: every failure comes out as one TargetError.
    `refresh(url)`: a fresh URL to retry once with when the password is refused ("" for none).
    """
    try:
        cfg = target_settings(url, interactive=interactive, **overrides)
        try:
            connected = connect(url, cfg)
        except TargetError as exc:
            # A branch URI stored before the project's password changed: ask Neon once, retry once.
            fresh = refresh(url) if refresh is not None and exc.code == "auth" else ""
            if not fresh:
                raise
            url, cfg = fresh, target_settings(fresh, interactive=interactive, **overrides)
            connected = connect(url, cfg)
        with connected.conn as conn:
            yield OpenTarget(conn, cfg, connected)
    except InvalidURL as exc:
        raise TargetError(str(exc), code="url") from None
    except SecretUnreadable:
        raise TargetError(UNREADABLE_URL_MESSAGE, code="credentials") from None
    except psycopg.Error as exc:
        raise explain_query_error(exc) from None


def connect_url(url: str, **overrides) -> psycopg.Connection:
    """A second, bare connection with open_url's settings (the caller closes it); failures are TargetError."""
    try:
        return connect(url, target_settings(url, **overrides)).conn
    except InvalidURL as exc:
        raise TargetError(str(exc), code="url") from None


def host_policy() -> HostPolicy:
    """What project URLs may point at: never the dashboard's own database (see targets/policy.py)."""
    db = settings.DATABASES["default"]
    return HostPolicy(
        own_server=own_server_from(db["HOST"] or "", int(db["PORT"] or 5432), db["NAME"]),
        block_private_networks=settings.TARGET_BLOCK_PRIVATE_NETWORKS,
        allow_own_server=settings.TARGET_ALLOW_DASHBOARD_SERVER,
    )
