"""Reviewed migrations: requests, their revisions, approvals, rehearsals and apply runs.

A request targets one branch of a project (the default branch unless chosen). Every
edit of the SQL is a new Revision with its own checksum; approvals, rehearsals and
apply runs belong to a revision and repeat its checksum, so an approval can never
carry over to different SQL.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

# The engine's own rules are never configurable; these squawk rules block by default.
DEFAULT_BLOCKING_RULES = ["require-concurrent-index-creation", "require-concurrent-index-deletion"]
DEFAULT_DISABLED_RULES = ["require-lock-timeout", "require-statement-timeout"]


class RequestState(models.TextChoices):
    DRAFT = "draft", "Draft"
    LINTED = "linted", "Linted (blocked)"
    REHEARSING = "rehearsing", "Rehearsing"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SCHEDULED = "scheduled", "Scheduled"
    APPLYING = "applying", "Applying"
    APPLIED = "applied", "Applied"
    PARTLY_APPLIED = "partly_applied", "Partly applied"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# Requests in these states are history; the others are pending.
FINISHED_STATES = (RequestState.APPLIED, RequestState.PARTLY_APPLIED, RequestState.CANCELLED)
# Editing the SQL is possible until an apply has started.
EDITABLE_STATES = (
    RequestState.DRAFT,
    RequestState.LINTED,
    RequestState.REHEARSING,
    RequestState.AWAITING_APPROVAL,
    RequestState.APPROVED,
    RequestState.REJECTED,
    RequestState.FAILED,
)


class MigrationRequest(models.Model):
    project = models.ForeignKey(
        "dashboard.Project", on_delete=models.CASCADE, related_name="migration_requests"
    )
    # "" = the project's own connection (its default branch); otherwise a Neon branch id.
    branch_id = models.CharField(max_length=64, blank=True, default="")
    branch_name = models.CharField(max_length=256, blank=True, default="")
    title = models.CharField(max_length=200)
    state = models.CharField(max_length=32, choices=RequestState.choices, default=RequestState.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "state", "-created_at"], name="migration_request_list")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_pending(self) -> bool:
        return self.state not in FINISHED_STATES

    @property
    def branch_label(self) -> str:
        return self.branch_name or self.branch_id or "default branch"


class Revision(models.Model):
    request = models.ForeignKey(MigrationRequest, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    sql = models.TextField()
    checksum = models.CharField(max_length=64)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The engine's view of the SQL: statements (text, line, flags, relations) and lint findings.
    statements = models.JSONField(default=list)
    findings = models.JSONField(default=list)
    steps = models.JSONField(default=list)
    blocked = models.BooleanField(default=False)
    destructive_acknowledged = models.BooleanField(default=False)
    lint_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["request", "number"], name="revision_number_unique")]

    def __str__(self) -> str:
        return f"revision {self.number} of #{self.request_id}"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"


class Approval(models.Model):
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="approvals")
    checksum = models.CharField(max_length=64)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # Set when a new revision replaced the one approved: the approval no longer counts.
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.decision} of {self.revision}"


class RehearsalStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not rehearsed"
    INVALIDATED = "invalidated", "Invalidated (SQL changed)"


class Rehearsal(models.Model):
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="rehearsals")
    checksum = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=RehearsalStatus.choices, default=RehearsalStatus.QUEUED)
    task_run = models.ForeignKey("dashboard.TaskRun", null=True, blank=True, on_delete=models.SET_NULL)
    # "neon-branch" or "transaction" (plain Postgres, rolled back).
    method = models.CharField(max_length=32, blank=True, default="")
    # Per statement: duration, locks by mode and relation, rewrites, rows.
    report = models.JSONField(default=dict, blank=True)
    # Schema diff before/after: list of objects with their changes.
    diff = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True, default="")  # why none ran, or why it failed
    temp_branch_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"rehearsal of {self.revision} ({self.status})"


class ApplyOutcome(models.TextChoices):
    WAITING = "waiting", "Waiting"
    RUNNING = "running", "Running"
    APPLIED = "applied", "Applied"
    PARTLY_APPLIED = "partly_applied", "Partly applied"
    NOT_APPLIED = "not_applied", "Not applied"
    CANCELLED = "cancelled", "Cancelled"


class ApplyRun(models.Model):
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="apply_runs")
    checksum = models.CharField(max_length=64)
    task_run = models.ForeignKey("dashboard.TaskRun", null=True, blank=True, on_delete=models.SET_NULL)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    apply_after = models.DateTimeField(null=True, blank=True)
    # Why a waiting run has not started (a later time, or an idle compute).
    waiting_for = models.CharField(max_length=200, blank=True, default="")
    lsn_before = models.CharField(max_length=32, blank=True, default="")
    time_before = models.DateTimeField(null=True, blank=True)
    steps = models.JSONField(default=list, blank=True)
    steps_total = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=ApplyOutcome.choices, default=ApplyOutcome.WAITING)
    message = models.TextField(blank=True, default="")
    diff = models.JSONField(default=list, blank=True)
    # Differences between this diff and the rehearsal's (empty when they match).
    diff_mismatch = models.JSONField(default=list, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"apply of {self.revision} ({self.outcome})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def is_active(self) -> bool:
        return self.outcome in (ApplyOutcome.WAITING, ApplyOutcome.RUNNING)


class ProjectMigrationPolicy(models.Model):
    project = models.OneToOneField(
        "dashboard.Project", on_delete=models.CASCADE, related_name="migration_policy"
    )
    approvals_required = models.PositiveSmallIntegerField(default=1)
    blocking_rules = models.JSONField(default=list, blank=True)
    disabled_rules = models.JSONField(default=list, blank=True)
    lock_timeout_ms = models.PositiveIntegerField(default=2000)
    statement_timeout_ms = models.PositiveIntegerField(default=600_000)
    # Plain Postgres: rehearse in a rolled-back transaction only when every touched table is below this.
    rehearsal_max_table_bytes = models.BigIntegerField(default=100 * 1024 * 1024)

    def __str__(self) -> str:
        return f"migration policy of {self.project_id}"

    @classmethod
    def for_project(cls, project) -> "ProjectMigrationPolicy":
        policy, _ = cls.objects.get_or_create(
            project=project,
            defaults={
                "blocking_rules": list(DEFAULT_BLOCKING_RULES),
                "disabled_rules": list(DEFAULT_DISABLED_RULES),
            },
        )
        return policy


from migrations_app.history.models import *  # noqa: E402,F401,F403  (migration history)
