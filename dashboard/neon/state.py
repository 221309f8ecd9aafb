"""What other areas need to know about a project's Neon branches and computes.

This is the contract between the Neon area and the rest: background jobs call
`compute_is_idle` before connecting, and pages let people pick a branch from
`branches_for` (and read the choice with `branch_from_request`). For non-Neon
projects there are no branches and no idle state.

The stored state comes from the periodic sync. When it is older than
NEON_STATE_MAX_AGE_SECONDS, `compute_is_idle` asks the Neon API again (reading
an endpoint never wakes it); if the API cannot answer, the compute is treated
as idle, because waking a suspended compute by mistake costs the user money.
For the same reason a Neon project with no stored compute (never synced, no API
key, rows lost) counts as idle: unknown state means do not connect.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.models import NeonBranch, NeonCompute
from dashboard.neon.client import NeonAPIError, NeonClient, RetryPolicy
from dashboard.targets.urls import InvalidURL, is_neon_host, parse_url

log = logging.getLogger(__name__)


def resolve_branch(project, branch=None) -> NeonBranch | None:
    """The stored branch meant by `branch` (a NeonBranch, a Neon branch id or name; None: the default)."""
    if not project.is_neon:
        return None
    if isinstance(branch, NeonBranch):
        return branch
    branches = NeonBranch.objects.filter(project=project)
    if branch:
        return branches.filter(Q(branch_id=branch) | Q(name=branch)).first()
    return branches.filter(is_default=True).first()


def compute_for(project, branch=None) -> NeonCompute | None:
    record = resolve_branch(project, branch)
    if record is None:
        return None
    return NeonCompute.objects.filter(branch=record, type="read_write").first()


def compute_is_idle(project, branch=None) -> bool:
    """True when the compute of `branch` (default branch if None) is idle or its state is unknown.

    Background jobs must then skip the project so they never wake a suspended compute.
    Non-Neon projects are never idle.
    """
    if not project.is_neon:
        return False
    return loaded_compute_is_idle(project, compute_for(project, branch))


def compute_may_suspend(project, branch=None) -> bool:
    """True when the project's compute can scale to zero, so polling it keeps it awake and costs money.

    Neon projects can, unless Neon reports the compute set never to suspend (suspend timeout -1);
    an unknown compute counts as one that can. So can a Neon host registered without the Neon API
    (no state to read). Other projects (a plain Postgres) never suspend.
    """
    if not project.is_neon:
        return _is_neon_url(project.pooled_url)
    compute = compute_for(project, branch)
    timeout = compute.suspend_timeout_seconds if compute is not None else None
    return timeout is None or timeout >= 0


def _is_neon_url(url: str) -> bool:
    try:
        return is_neon_host(parse_url(url).host)
    except InvalidURL:
        return False


def loaded_compute_is_idle(project, compute: NeonCompute | None) -> bool:
    """The same decision for a compute record already read (pages use it to avoid reading it twice)."""
    if compute is None:
        return True  # never synced (or rows lost): Neon has reported nothing, so do not connect
    age = (timezone.now() - compute.synced_at).total_seconds()
    if age > settings.NEON_STATE_MAX_AGE_SECONDS and not _refresh_unless_failed_recently(project, compute):
        return True
    return stored_state_is_idle(compute)


def stored_state_is_idle(compute: NeonCompute) -> bool:
    """Idle per the stored state; a compute Neon is suspending counts too (connecting would keep it awake)."""
    return compute.is_idle or compute.pending_state == "idle"


def _refresh_unless_failed_recently(project, compute: NeonCompute) -> bool:
    """Refresh, but after a failed refresh wait NEON_STATE_MAX_AGE_SECONDS before asking the API again,
    so pages rendered while the API is down do not each wait for it."""
    key = f"neon-state-refresh-failed:{compute.pk}"
    if cache.get(key):
        return False
    if refresh_compute(project, compute):
        return True
    cache.set(key, True, timeout=settings.NEON_STATE_MAX_AGE_SECONDS)
    return False


def refresh_compute(project, compute: NeonCompute) -> bool:
    """Re-read one endpoint from the Neon API (quick, no retries); False if the API did not answer."""
    try:
        with NeonClient(
            project.neon_api_key,
            base_url=settings.NEON_API_BASE_URL,
            timeout=settings.NEON_STATE_CHECK_TIMEOUT,
            retry=RetryPolicy(attempts=1),
        ) as client:
            endpoint = client.get_endpoint(project.neon_project_id, compute.endpoint_id)
        current_state = str(endpoint.get("current_state") or "")
        pending_state = str(endpoint.get("pending_state") or "")
        last_active = parse_datetime(endpoint["last_active"]) if endpoint.get("last_active") else None
    except NeonAPIError as exc:
        log.warning(
            "Could not refresh compute %s of project %s: %s", compute.endpoint_id, project.pk, exc.message
        )
        return False
    except Exception as exc:  # an odd answer or an undecryptable key: unknown state counts as idle
        log.warning(
            "Could not refresh compute %s of project %s (%s)",
            compute.endpoint_id,
            project.pk,
            type(exc).__name__,
        )
        return False
    compute.current_state, compute.pending_state = current_state, pending_state
    compute.last_active = last_active
    compute.synced_at = timezone.now()
    compute.save(update_fields=["current_state", "pending_state", "last_active", "synced_at"])
    return True


def branches_for(project) -> list:
    """The project's known branches (NeonBranch records), default branch first; [] for non-Neon projects."""
    if not project.is_neon:
        return []
    return list(
        NeonBranch.objects.filter(project=project)
        .prefetch_related("computes")
        .order_by("-is_default", "name")
    )


def branch_from_request(request, project) -> NeonBranch | None:
    """The branch chosen with ?branch=<name or id>, or None for the default branch."""
    wanted = (request.GET.get("branch") or "").strip()
    return resolve_branch(project, wanted) if wanted else None


def has_api_access(project) -> bool:
    """True when the project is linked to a Neon project with an API key stored (the key is not decrypted)."""
    if not project.is_neon:
        return False
    return type(project).objects.filter(pk=project.pk).exclude(neon_api_key="").exists()
