"""Models of the queries area: statement history and collector state.

pg_stat_statements keeps cumulative counters that Neon wipes on every suspend.
The collector stores per-interval deltas (StatsSample) so history survives;
each normalized text is stored once (QueryText), each entry of
pg_stat_statements (role x queryid x toplevel) once (Statement).
"""

from django.db import models
from django.utils import timezone

__all__ = ["CollectorState", "CollectorStatus", "DueReason", "QueryText", "Statement", "StatsSample"]


class QueryText(models.Model):
    project = models.ForeignKey("dashboard.Project", on_delete=models.CASCADE, related_name="query_texts")
    queryid = models.BigIntegerField()
    # Secrets (passwords in utility statements) are masked before the text is stored, for everyone.
    text = models.TextField()
    # The text with every literal replaced by "?" (what viewers see and search), or "" when the
    # text holds no literal.
    viewer_text = models.TextField(blank=True, default="")
    fingerprint = models.CharField(max_length=40, blank=True, default="")
    first_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "queryid"], name="query_text_once_per_project")
        ]

    def __str__(self) -> str:
        return f"{self.queryid}: {self.text[:60]}"

    @property
    def has_hidden_literals(self) -> bool:
        return bool(self.viewer_text)

    def text_for(self, hide_literals: bool) -> str:
        return self.viewer_text if hide_literals and self.viewer_text else self.text


class Statement(models.Model):
    """One pg_stat_statements entry of the project's database: role x queryid x toplevel."""

    project = models.ForeignKey("dashboard.Project", on_delete=models.CASCADE, related_name="statements")
    query = models.ForeignKey(QueryText, on_delete=models.CASCADE, related_name="statements")
    queryid = models.BigIntegerField()
    userid = models.BigIntegerField()
    role_name = models.CharField(max_length=128, blank=True, default="")
    dbid = models.BigIntegerField()
    datname = models.CharField(max_length=128, blank=True, default="")
    toplevel = models.BooleanField(default=True)
    # The dashboard's own traffic: its marker first and run by the role it connects as
    # (introspection.statements.is_own_statement). Hidden from the pages; does not end a quiet streak.
    is_own = models.BooleanField(default=False)
    first_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "dbid", "userid", "queryid", "toplevel"], name="statement_entry_once"
            )
        ]
        indexes = [models.Index(fields=["project", "queryid"])]

    @property
    def key(self) -> tuple[int, int, bool]:
        return (self.userid, self.queryid, self.toplevel)


class StatsSample(models.Model):
    """What one statement did between two snapshots (deltas of pg_stat_statements counters)."""

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(
        "dashboard.Project", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="samples")
    interval_start = models.DateTimeField()
    taken_at = models.DateTimeField()
    # True when the counters were reset (or the server restarted) inside this interval: the
    # delta is then counted from zero and the series starts afresh here.
    series_start = models.BooleanField(default=False)
    calls = models.BigIntegerField()
    total_exec_ms = models.FloatField()
    total_plan_ms = models.FloatField()
    rows = models.BigIntegerField()
    shared_blks_hit = models.BigIntegerField()
    shared_blks_read = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["project", "taken_at"], name="sample_project_time"),
            models.Index(fields=["statement", "taken_at"], name="sample_statement_time"),
        ]


class CollectorStatus(models.TextChoices):
    NEVER = "never", "Not collected yet"
    OK = "ok", "Collected"
    BASELINE = "baseline", "Baseline taken"
    IDLE = "idle", "Skipped: compute idle"
    QUIET = "quiet", "Nothing ran but the dashboard"
    UNAVAILABLE = "unavailable", "pg_stat_statements unavailable"
    ERROR = "error", "Failed"


class DueReason(models.TextChoices):
    """Why the next snapshot is due when it is (shown on Queries)."""

    INTERVAL = "interval", "the normal interval"
    BACKOFF = "backoff", "backing off so the compute may suspend"
    IDLE = "idle", "the compute is idle"


class CollectorState(models.Model):
    """Where the statement collector is for one project, and the totals it computes deltas against."""

    project = models.OneToOneField(
        "dashboard.Project", on_delete=models.CASCADE, primary_key=True, related_name="collector"
    )
    status = models.CharField(max_length=16, choices=CollectorStatus.choices, default=CollectorStatus.NEVER)
    message = models.TextField(blank=True, default="")
    next_due_at = models.DateTimeField(default=timezone.now)
    due_reason = models.CharField(max_length=16, choices=DueReason.choices, default=DueReason.INTERVAL)
    # Set while a worker collects (scheduled or "Collect now"), so two snapshots never overlap.
    leased_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_snapshot_at = models.DateTimeField(null=True, blank=True)
    # Consecutive snapshots in which only the dashboard's own statements moved (drives the backoff).
    quiet_streak = models.PositiveIntegerField(default=0)
    series = models.PositiveIntegerField(default=0)
    resets_detected = models.PositiveIntegerField(default=0)
    last_reset_reason = models.CharField(max_length=200, blank=True, default="")
    server_version_num = models.IntegerField(null=True, blank=True)
    # Reset markers of the last snapshot: {"stats_reset", "postmaster_start", "target_now", "dbid"}.
    baseline = models.JSONField(default=dict, blank=True)
    # Cumulative counters of every entry at the last snapshot, packed (dashboard.queries.deltas.pack_totals).
    totals = models.BinaryField(default=b"", blank=True)

    def __str__(self) -> str:
        return f"collector of {self.project_id}: {self.status}"
