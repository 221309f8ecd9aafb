"""Teams, members and roles, registered projects, task runs and the audit log."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.crypto import EncryptedTextField
from dashboard.targets.urls import mask_url


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    ENGINEER = "engineer", "Engineer"
    ADMIN = "admin", "Admin"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self.value]


ROLE_RANK = {Role.VIEWER: 1, Role.ENGINEER: 2, Role.ADMIN: 3}


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} as {self.role}"

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[minimum]


class ProjectStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    CHECKING = "checking", "Checking"
    OK = "ok", "Reachable"
    ERROR = "error", "Unreachable"


class Project(models.Model):
    """A registered target database (a Neon project or any Postgres 14-18)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    # Credentials: encrypted at rest, never rendered back (see mask_url), never in task arguments.
    pooled_url = EncryptedTextField(help_text="Connection URL for short reads (Neon: the -pooler host).")
    direct_url = EncryptedTextField(blank=True, default="", help_text="Direct connection URL for migrations.")
    neon_project_id = models.CharField(max_length=64, blank=True, default="")
    neon_api_key = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # Last known state, shown on the project list without connecting to the target.
    status = models.CharField(max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.UNKNOWN)
    status_message = models.TextField(blank=True, default="")
    checked_at = models.DateTimeField(null=True, blank=True)
    check_result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="project_name_unique_in_team")]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_pooled_url(self) -> str:
        return mask_url(self.pooled_url)

    @property
    def masked_direct_url(self) -> str:
        return mask_url(self.effective_direct_url)

    @property
    def effective_direct_url(self) -> str:
        from dashboard.targets.urls import derive_direct_url

        return self.direct_url or derive_direct_url(self.pooled_url)

    @property
    def is_neon(self) -> bool:
        return bool(self.neon_project_id)


class TaskStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    LOST = "lost", "Lost (worker died)"


class TaskRun(models.Model):
    """The dashboard's own record of a background task; Celery's backend is not the source of truth."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="task_runs"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.QUEUED)
    progress = models.CharField(max_length=200, blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "kind", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.LOST)


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"


class AuditEvent(models.Model):
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=150, help_text="Username at the time, or 'system'.")
    action = models.CharField(max_length=64)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    object_repr = models.CharField(max_length=200, blank=True, default="")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_repr} ({self.outcome})"
