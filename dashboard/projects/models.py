"""Registered projects: a target database (a Neon project or any Postgres 14-18) of one team."""

from django.db import models
from django.utils import timezone

from dashboard.common.crypto import EncryptedTextField, is_readable
from dashboard.targets.urls import derive_direct_url, mask_url

__all__ = ["Project", "ProjectStatus"]

SECRET_FIELDS = {"pooled_url": "pooled URL", "direct_url": "direct URL", "neon_api_key": "Neon API key"}
UNREADABLE_MASK = "(cannot be decrypted)"


class ProjectStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    CHECKING = "checking", "Checking"
    OK = "ok", "Reachable"
    ERROR = "error", "Unreachable"


class Project(models.Model):
    """A registered target database (a Neon project or any Postgres 14-18)."""

    team = models.ForeignKey("dashboard.Team", on_delete=models.CASCADE, related_name="projects")
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
    def unreadable_secrets(self) -> list[str]:
        """Names of the secret fields no configured key decrypts (decrypts them: not for list pages)."""
        return [name for name in SECRET_FIELDS if not is_readable(self, name)]

    @property
    def unreadable_secret_labels(self) -> str:
        return ", ".join(SECRET_FIELDS[name] for name in self.unreadable_secrets)

    @property
    def masked_pooled_url(self) -> str:
        return mask_url(self.pooled_url) if is_readable(self, "pooled_url") else UNREADABLE_MASK

    @property
    def masked_direct_url(self) -> str:
        if not (is_readable(self, "pooled_url") and is_readable(self, "direct_url")):
            return UNREADABLE_MASK
        return mask_url(self.effective_direct_url)

    @property
    def effective_direct_url(self) -> str:
        return self.direct_url or derive_direct_url(self.pooled_url)

    @property
    def is_neon(self) -> bool:
        return bool(self.neon_project_id)
