"""Health snapshots: the evaluated checks of one moment, stored so pages never connect to render them."""

from django.db import models
from django.utils import timezone

__all__ = ["HealthSnapshot"]


class HealthSnapshot(models.Model):
    project = models.ForeignKey(
        "dashboard.Project", on_delete=models.CASCADE, related_name="health_snapshots"
    )
    taken_at = models.DateTimeField(default=timezone.now)
    checks = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    skipped = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["project", "-taken_at"])]
