"""Connection settings for targets, taken from Django settings.

The one place that turns a Project into connection parameters, so every area
connects the same way (timeouts, application_name, pooled vs direct).
"""

from django.conf import settings

from dashboard.targets.connect import TargetSettings
from dashboard.targets.policy import HostPolicy, own_server_from
from dashboard.targets.urls import is_neon_host, parse_url


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
    from dashboard.neon.urls import branch_url

    return branch_url(project, branch, pooled=True)


def direct_url(project, branch=None) -> str:
    """URL for session-scoped work (migrations, pg_dump, advisory locks) on `branch`."""
    from dashboard.neon.urls import branch_url

    return branch_url(project, branch, pooled=False)


def host_policy() -> HostPolicy:
    """What project URLs may point at: never the dashboard's own database (see targets/policy.py)."""
    db = settings.DATABASES["default"]
    return HostPolicy(
        own_server=own_server_from(db["HOST"] or "", int(db["PORT"] or 5432), db["NAME"]),
        block_private_networks=settings.TARGET_BLOCK_PRIVATE_NETWORKS,
        allow_own_server=settings.TARGET_ALLOW_DASHBOARD_SERVER,
    )
