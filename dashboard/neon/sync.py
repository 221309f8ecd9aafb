"""Copy a project's branches and computes from the Neon API into NeonBranch/NeonCompute rows.

The sync talks only to the Neon API, which never wakes a compute, so it is safe
to run periodically for every project.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.common.crypto import SecretUnreadable
from dashboard.models import NeonBranch, NeonCompute, NeonSyncState
from dashboard.neon.client import NeonAPIError, NeonClient
from dashboard.targets.urls import InvalidURL, parse_url

log = logging.getLogger(__name__)


@dataclass
class SyncSummary:
    branches: int
    computes: int
    idle_computes: int

    def as_dict(self) -> dict:
        return {"branches": self.branches, "computes": self.computes, "idle_computes": self.idle_computes}


UNREADABLE_KEY_MESSAGE = (
    "The stored Neon API key cannot be decrypted with the configured keys: "
    "credentials cannot be decrypted; re-enter them on the project's edit page."
)


def client_for(project, **overrides) -> NeonClient:
    """A client with the project's API key; NeonAPIError (code "credentials") if the key cannot be read."""
    options = {"base_url": settings.NEON_API_BASE_URL, "timeout": settings.NEON_API_TIMEOUT}
    options.update(overrides)
    try:
        api_key = project.neon_api_key
    except SecretUnreadable:
        raise NeonAPIError(None, UNREADABLE_KEY_MESSAGE, code="credentials") from None
    return NeonClient(api_key, **options)


def _when(value) -> "timezone.datetime | None":
    return parse_datetime(value) if isinstance(value, str) and value else None


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value) -> str:
    return "" if value is None else str(value)


def sync_project(project, client: NeonClient | None = None) -> SyncSummary:
    """Fetch branches and endpoints and store them; records the error on NeonSyncState and re-raises."""
    owns_client = client is None
    try:
        client = client or client_for(project)
        branches = client.list_branches(project.neon_project_id)
        endpoints = client.list_endpoints(project.neon_project_id)
        uris = _connection_uris(client, project, branches)
    except NeonAPIError as exc:
        NeonSyncState.objects.update_or_create(
            project=project, defaults={"error": exc.message, "error_at": timezone.now()}
        )
        raise
    finally:
        if owns_client and client is not None:
            client.close()
    with transaction.atomic():
        _lock_sync_state(project)
        _store(project, branches, endpoints, uris)
        NeonSyncState.objects.update_or_create(
            project=project, defaults={"synced_at": timezone.now(), "error": ""}
        )
    idle = sum(1 for e in endpoints if e.get("current_state") == "idle")
    return SyncSummary(branches=len(branches), computes=len(endpoints), idle_computes=idle)


def _lock_sync_state(project) -> None:
    """Two syncs storing the same project at once (an action's and the periodic one) take turns."""
    NeonSyncState.objects.get_or_create(project=project)
    NeonSyncState.objects.select_for_update().filter(project=project).values_list("pk", flat=True).first()


def claim_sync(project_id: int, lease_seconds: float, now=None) -> bool:
    """Take the project's sync lease (a conditional UPDATE); False while another sync holds it."""
    now = now or timezone.now()
    try:
        NeonSyncState.objects.get_or_create(project_id=project_id)
    except IntegrityError:  # created by a concurrent claim: the UPDATE below decides
        pass
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    claimed = NeonSyncState.objects.filter(free, project_id=project_id).update(
        lease_until=now + timedelta(seconds=lease_seconds)
    )
    return claimed == 1


def release_sync(project_id: int) -> None:
    NeonSyncState.objects.filter(project_id=project_id).update(lease_until=None)


def _connection_uris(client: NeonClient, project, branches: list[dict]) -> dict[str, tuple[str, str]]:
    """URIs for branches the dashboard has none for yet (two API calls per new branch)."""
    try:
        registered = parse_url(project.pooled_url)
    except (InvalidURL, SecretUnreadable):
        return {}
    known = {
        b.branch_id
        for b in NeonBranch.objects.filter(project=project)
        .exclude(pooled_uri="")
        .only("branch_id", "pooled_uri")
    }
    uris = {}
    for branch in branches:
        if (
            branch.get("default")
            or branch["id"] in known
            or branch.get("current_state") not in ("ready", None)
        ):
            continue
        try:
            uris[branch["id"]] = _branch_uris(client, project, registered, branch["id"])
        except NeonAPIError as exc:
            log.warning("No connection URI for branch %s: %s", branch["id"], exc.message)
    return uris


def _branch_uris(client: NeonClient, project, registered, branch_id: str) -> tuple[str, str]:
    """(pooled, direct) URIs of a branch for the registered role and database."""
    pooled, direct = (
        client.connection_uri(
            project.neon_project_id,
            branch_id=branch_id,
            database_name=registered.dbname,
            role_name=registered.user,
            pooled=is_pooled,
        )
        for is_pooled in (True, False)
    )
    return pooled, direct


def refresh_branch_uris(project, branch: NeonBranch) -> bool:
    """Ask Neon again for one branch's URIs (after its stored ones were refused); False if it cannot say."""
    try:
        registered = parse_url(project.pooled_url)
        with client_for(project) as client:
            branch.pooled_uri, branch.direct_uri = _branch_uris(client, project, registered, branch.branch_id)
    except (InvalidURL, SecretUnreadable, NeonAPIError) as exc:
        log.warning("Could not refresh the URIs of branch %s: %s", branch.branch_id, type(exc).__name__)
        return False
    branch.save(update_fields=["pooled_uri", "direct_uri"])
    return True


def forget_branch_uris(project) -> int:
    """Drop the stored branch URIs (the project's credentials changed); the next sync fetches new ones."""
    return NeonBranch.objects.filter(project=project).update(pooled_uri="", direct_uri="")


def _store(project, branches: list[dict], endpoints: list[dict], uris: dict) -> None:
    now = timezone.now()
    records = {}
    for data in branches:
        defaults = {
            "name": _text(data.get("name") or data["id"])[:256],
            "parent_id": _text(data.get("parent_id")),
            "is_default": bool(data.get("default") or data.get("primary")),
            "is_protected": bool(data.get("protected")),
            "current_state": _text(data.get("current_state"))[:32],
            "logical_size": _int(data.get("logical_size")),
            "parent_timestamp": _when(data.get("parent_timestamp")),
            "created_at_neon": _when(data.get("created_at")),
            "synced_at": now,
        }
        if data["id"] in uris:
            defaults["pooled_uri"], defaults["direct_uri"] = uris[data["id"]]
        records[data["id"]], _ = NeonBranch.objects.update_or_create(
            project=project, branch_id=data["id"], defaults=defaults
        )
    NeonBranch.objects.filter(project=project).exclude(branch_id__in=list(records)).delete()
    seen = []
    for data in endpoints:
        seen.append(data["id"])
        NeonCompute.objects.update_or_create(
            project=project,
            endpoint_id=data["id"],
            defaults={
                "branch": records.get(data.get("branch_id")),
                "host": _text(data.get("host"))[:255],
                "type": _text(data.get("type"))[:32],
                "current_state": _text(data.get("current_state"))[:32],
                "pending_state": _text(data.get("pending_state"))[:32],
                "last_active": _when(data.get("last_active")),
                "suspend_timeout_seconds": _int(data.get("suspend_timeout_seconds")),
                "pooler_enabled": bool(data.get("pooler_enabled")),
                "min_cu": _float(data.get("autoscaling_limit_min_cu")),
                "max_cu": _float(data.get("autoscaling_limit_max_cu")),
                "synced_at": now,
            },
        )
    NeonCompute.objects.filter(project=project).exclude(endpoint_id__in=seen).delete()
