"""Connection URLs of a Neon branch.

The default branch uses the URLs the admin registered. Other branches use the
URIs the Neon API gave during the sync (GET /connection_uri, stored encrypted);
failing that, the registered URL with the host of the branch's endpoint (the
role, password and database are shared by all branches of a Neon project).
"""

from urllib.parse import urlsplit

from dashboard.targets.urls import POOLER_MARK, InvalidURL, with_host


def branch_url(project, branch=None, *, pooled: bool) -> str:
    from dashboard.neon.state import compute_for, resolve_branch

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
