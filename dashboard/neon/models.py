"""Models of the neon area: what the dashboard last learned from the Neon API.

Rows are written by the sync (dashboard/neon/sync.py), which only talks to the
Neon API, so pages can show branches and compute state without touching a
compute. Connection URIs are credentials and are encrypted at rest.
"""

from django.db import models
from django.utils import timezone

from dashboard.common.crypto import EncryptedTextField

__all__ = ["NeonBranch", "NeonCompute", "NeonSyncState"]

IDLE = "idle"
ACTIVE = "active"


class NeonSyncState(models.Model):
    """When the project's branches and computes were last synced, and the last sync error."""

    project = models.OneToOneField("dashboard.Project", on_delete=models.CASCADE, related_name="neon_sync")
    synced_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    error_at = models.DateTimeField(null=True, blank=True)
    # Held while a periodic sync of the project runs (claimed with a conditional UPDATE), so syncs
    # of one project never overlap; it expires by itself if the worker dies.
    lease_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Neon sync of {self.project_id}"


class NeonBranch(models.Model):
    project = models.ForeignKey("dashboard.Project", on_delete=models.CASCADE, related_name="neon_branches")
    branch_id = models.CharField(max_length=64)
    name = models.CharField(max_length=256)
    parent_id = models.CharField(max_length=64, blank=True, default="")
    is_default = models.BooleanField(default=False)
    is_protected = models.BooleanField(default=False)
    # Open strings: Neon may add states (init, ready, archived, ...).
    current_state = models.CharField(max_length=32, blank=True, default="")
    logical_size = models.BigIntegerField(null=True, blank=True)
    parent_timestamp = models.DateTimeField(null=True, blank=True)
    created_at_neon = models.DateTimeField(null=True, blank=True)
    # From GET /connection_uri; None of these are ever rendered.
    pooled_uri = EncryptedTextField(blank=True, default="")
    direct_uri = EncryptedTextField(blank=True, default="")
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "branch_id"], name="neon_branch_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def read_write_compute(self) -> "NeonCompute | None":
        computes = [c for c in self.computes.all() if c.type == "read_write"]
        return computes[0] if computes else None


class NeonCompute(models.Model):
    """A Neon endpoint: the compute serving a branch."""

    project = models.ForeignKey("dashboard.Project", on_delete=models.CASCADE, related_name="neon_computes")
    branch = models.ForeignKey(
        NeonBranch, null=True, blank=True, on_delete=models.CASCADE, related_name="computes"
    )
    endpoint_id = models.CharField(max_length=64)
    host = models.CharField(max_length=255, blank=True, default="")
    type = models.CharField(max_length=32, blank=True, default="read_write")
    current_state = models.CharField(max_length=32, blank=True, default="")
    pending_state = models.CharField(max_length=32, blank=True, default="")
    last_active = models.DateTimeField(null=True, blank=True)
    suspend_timeout_seconds = models.IntegerField(null=True, blank=True)
    pooler_enabled = models.BooleanField(default=False)
    min_cu = models.FloatField(null=True, blank=True)
    max_cu = models.FloatField(null=True, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)
    # The last time a person woke this compute: how long connecting took (cold start).
    last_connect_ms = models.FloatField(null=True, blank=True)
    last_connect_attempts = models.IntegerField(null=True, blank=True)
    last_connected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["endpoint_id"]
        constraints = [models.UniqueConstraint(fields=["project", "endpoint_id"], name="neon_compute_unique")]

    def __str__(self) -> str:
        return self.endpoint_id

    @property
    def is_idle(self) -> bool:
        return self.current_state == IDLE

    @property
    def is_active(self) -> bool:
        return self.current_state == ACTIVE

    @property
    def pooled_host(self) -> str:
        """Neon's pooler host is the endpoint id with `-pooler` appended to the first label."""
        first, dot, rest = self.host.partition(".")
        return f"{first}-pooler{dot}{rest}" if self.host else ""

    @property
    def suspend_after_label(self) -> str:
        if self.suspend_timeout_seconds is None:
            return ""
        if self.suspend_timeout_seconds < 0:
            return "never"
        return f"{self.suspend_timeout_seconds or 300} s"
