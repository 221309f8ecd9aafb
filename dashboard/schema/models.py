"""Models of the schema area: versioned schema snapshots and their relation index.

A snapshot keeps the whole catalog of one branch at one time. The relations are
stored one row each (SchemaRelation) with the columns the overview page filters,
sorts and pages on and the relation's statistics, so the overview with thousands of
tables is a plain SQL page query and a table page reads a single row. A relation's
structure (columns, constraints, indexes, ...) is stored once by the hash of its JSON
(SchemaRelationStructure): a new version of a schema where one table was added
stores one new structure, and its other relations refer to the structures already stored.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = ["SchemaSnapshot", "SchemaRelation", "SchemaRelationStructure", "SnapshotSource"]


class SnapshotSource(models.TextChoices):
    MANUAL = "manual", "Refresh by a person"
    PERIODIC = "periodic", "Periodic capture"
    CHANGE = "change", "After a change applied by the dashboard"
    BRANCH = "branch", "Branch comparison"


class SchemaSnapshot(models.Model):
    project = models.ForeignKey(
        "dashboard.Project", on_delete=models.CASCADE, related_name="schema_snapshots"
    )
    # "" is the project's own connection (its default branch); a Neon branch id otherwise.
    branch_id = models.CharField(max_length=64, blank=True, default="")
    branch_name = models.CharField(max_length=200, blank=True, default="")
    # Schema version within the project: it goes up only when the structure changed.
    version = models.PositiveIntegerField()
    taken_at = models.DateTimeField(default=timezone.now)
    first_taken_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=16, choices=SnapshotSource.choices, default=SnapshotSource.MANUAL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    server_version = models.CharField(max_length=200, blank=True, default="")
    structure_hash = models.CharField(max_length=64)
    capture_ms = models.PositiveIntegerField(default=0)
    # Everything except relations (schemas, sequences, types, functions, extensions).
    data = models.JSONField(default=dict)
    # Advisor findings computed when the snapshot was taken.
    findings = models.JSONField(default=list)
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="schema_snapshot_version_unique"),
        ]
        indexes = [models.Index(fields=["project", "branch_id", "-version"], name="schema_snapshot_latest")]

    def __str__(self) -> str:
        return f"schema v{self.version} of {self.project_id}"

    @property
    def label(self) -> str:
        where = f" ({self.branch_name or self.branch_id})" if self.branch_id else ""
        return f"v{self.version}{where} · {self.taken_at:%Y-%m-%d %H:%M} UTC"


class SchemaRelationStructure(models.Model):
    """A relation's structure without statistics, as JSON, stored once whatever the number of versions using it.

    Content-addressed: `hash` is the SHA-256 of the canonical JSON text (see
    dashboard.introspection.model.canonical_json), so equal structures share one row.
    Structures no relation refers to any more are deleted by the schema cleanup job.
    """

    hash = models.CharField(max_length=64, primary_key=True)
    structure = models.JSONField()

    def __str__(self) -> str:
        return self.hash[:12]


class SchemaRelation(models.Model):
    """One relation of a snapshot: index columns for the overview, statistics here, structure shared."""

    snapshot = models.ForeignKey(SchemaSnapshot, on_delete=models.CASCADE, related_name="relations")
    schema = models.TextField()
    name = models.TextField()
    kind = models.CharField(max_length=1)
    is_partition = models.BooleanField(default=False)
    parent_schema = models.TextField(null=True, blank=True)
    parent_name = models.TextField(null=True, blank=True)
    row_estimate = models.BigIntegerField(null=True)
    total_bytes = models.BigIntegerField(default=0)
    column_count = models.PositiveIntegerField(default=0)
    index_count = models.PositiveIntegerField(default=0)
    constraint_count = models.PositiveIntegerField(default=0)
    fk_count = models.PositiveIntegerField(default=0)
    incoming_fk_count = models.PositiveIntegerField(default=0)
    # The relation's structure (shared between versions): a diff loads only relations whose structures differ.
    structure = models.ForeignKey(SchemaRelationStructure, on_delete=models.PROTECT, related_name="+")
    # Statistics of this capture (see relation_statistics()) and "findings": the advisor findings about it.
    stats = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "schema", "name"], name="schema_relation_unique"),
        ]
        indexes = [
            models.Index(
                fields=["snapshot", "parent_schema", "parent_name"], name="schema_relation_partitions"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"
