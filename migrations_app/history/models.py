"""Stored reads of other tools' migration history tables, and the diff summary of each schema version."""

from django.db import models
from django.utils import timezone

__all__ = ["MigrationHistoryRead", "ReadSource", "SchemaChangeSummary"]


class ReadSource(models.TextChoices):
    SNAPSHOT = "snapshot", "With a schema snapshot"
    REFRESH = "refresh", "Refresh by a person"
    DEMO = "demo", "Demo set-up"


class MigrationHistoryRead(models.Model):
    """One state of a branch's history tables, as readers.read_history() returned it.

    A read identical to the newest stored one (apart from its time) only moves that row's
    `last_read_at`, so rows are states: `read_at` is the first read showing this state and
    `last_read_at` the last one. Both are the target server's clock, like the tools' own times.
    """

    project = models.ForeignKey("dashboard.Project", on_delete=models.CASCADE, related_name="history_reads")
    # "" is the project's own connection (its default branch); a Neon branch id otherwise.
    branch_id = models.CharField(max_length=64, blank=True, default="")
    branch_name = models.CharField(max_length=200, blank=True, default="")
    read_at = models.DateTimeField()
    last_read_at = models.DateTimeField()
    stored_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=16, choices=ReadSource.choices, default=ReadSource.SNAPSHOT)
    # sha256 of the read without its time: equal hashes mean nothing changed in the tables.
    content_hash = models.CharField(max_length=64)
    data = models.JSONField(default=dict)  # readers.HistoryRead.to_dict()
    # Entries with no apply time that this read showed first (readers.first_seen), as dicts.
    first_seen = models.JSONField(default=list)
    # Entries the previous state held and this one does not (golang-migrate's replaced version, an
    # earlier Alembic head, deleted rows), so the timeline keeps them.
    gone = models.JSONField(default=list)
    # readers.problems() of this read (Finding dicts), so health reads them without loading `data`.
    problems = models.JSONField(default=list)
    tool_tables = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["project", "branch_id", "-read_at"], name="history_read_latest")]

    def __str__(self) -> str:
        return f"history read of {self.project_id} at {self.read_at:%Y-%m-%d %H:%M}"


class SchemaChangeSummary(models.Model):
    """What changed from the previous version of the same branch ("+2 tables, 1 index changed").

    Computed once, the first time the timeline shows the version (stored versions never change
    structure: an unchanged capture only refreshes the latest one's statistics).
    """

    snapshot = models.OneToOneField(
        "dashboard.SchemaSnapshot", on_delete=models.CASCADE, related_name="change_summary"
    )
    previous = models.ForeignKey(
        "dashboard.SchemaSnapshot", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.CharField(max_length=500)
    changed = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.summary
