import secrets

from django import forms
from django.utils.text import slugify

from dashboard.common.crypto import is_readable
from dashboard.connections import host_policy
from dashboard.models import Project
from dashboard.projects.models import SECRET_FIELDS
from dashboard.targets.policy import check_target_url
from dashboard.targets.urls import InvalidURL

SLUG_HELP = "Used in URLs: lowercase letters, digits and hyphens."
SLUG_MAX = 100
SLUG_UNAVAILABLE = (
    "This slug is not available; choose another, or leave it blank to derive one from the name."
)
UNREADABLE_HELP = "The stored value cannot be decrypted (the encryption keys changed); enter it again. "


def validate_connection_url(value: str) -> str:
    try:
        check_target_url(value, host_policy())
    except InvalidURL as exc:
        raise forms.ValidationError(str(exc)) from None
    return value.strip()


class ProjectForm(forms.ModelForm):
    """Register or edit a project. Secret fields are never pre-filled; blank keeps the stored value.

    The secrets are form fields only (not in Meta.fields): ModelForm would read, and so decrypt,
    every model field to fill its initial data, which fails for a secret no key decrypts.
    """

    pooled_url = forms.CharField(
        label="Pooled connection URL",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="postgresql://user:password@host/db — for Neon, the -pooler host.",
        required=False,
    )
    direct_url = forms.CharField(
        label="Direct connection URL (optional)",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Used for migrations. For Neon it defaults to the pooled host without -pooler.",
        required=False,
    )
    neon_api_key = forms.CharField(
        label="Neon API key (optional)",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        required=False,
    )

    field_order = ["team", "name", "slug", "pooled_url", "direct_url", "neon_project_id", "neon_api_key"]

    class Meta:
        model = Project
        fields = ["team", "name", "slug", "neon_project_id"]
        labels = {"neon_project_id": "Neon project id (optional)"}
        help_texts = {"slug": SLUG_HELP}

    def __init__(self, *args, teams=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = self.instance.pk is not None
        self.fields["team"].queryset = teams
        self.fields["team"].empty_label = None
        self.fields["slug"].required = False
        if self.editing:
            del self.fields["team"]
            for name in ("pooled_url", "direct_url", "neon_api_key"):
                self.fields[name].help_text = (
                    "Leave blank to keep the stored value. " + self.fields[name].help_text
                )
            self.fields["direct_url"].help_text += " Cleared when the pooled URL changes and this is blank."
            for name in SECRET_FIELDS:
                if not is_readable(self.instance, name):
                    self.fields[name].help_text = UNREADABLE_HELP + self.fields[name].help_text

    def _stored(self, name: str) -> str:
        """The stored secret `name`, for a blank field that keeps it; asks again if it cannot be decrypted."""
        if not is_readable(self.instance, name):
            raise forms.ValidationError("The stored value cannot be decrypted; enter it again.")
        return getattr(self.instance, name)

    def clean_pooled_url(self):
        value = self.cleaned_data["pooled_url"].strip()
        if not value and self.editing:
            return self._stored("pooled_url")
        return validate_connection_url(value)

    def clean_direct_url(self):
        value = self.cleaned_data["direct_url"].strip()
        if value:
            return validate_connection_url(value)
        if not self.editing or self._pooled_url_changed():
            # A new pooled URL without a new direct one: the old direct URL may point at another
            # database, so drop it and use the one derived from the new pooled URL.
            return ""
        return self._stored("direct_url")

    def _pooled_url_changed(self) -> bool:
        new = self.cleaned_data.get("pooled_url")  # cleaned before direct_url (field order)
        if new is None:
            return False
        return not is_readable(self.instance, "pooled_url") or new != self.instance.pooled_url

    def save(self, commit=True):
        # Secrets are not model fields of the form: set them here (a direct URL cleared above is
        # cleared even when the client did not send the blank field).
        for name in SECRET_FIELDS:
            setattr(self.instance, name, self.cleaned_data[name])
        return super().save(commit)

    def clean_neon_api_key(self):
        value = self.cleaned_data["neon_api_key"].strip()
        if value or not self.editing:
            return value
        return self._stored("neon_api_key")

    def clean_neon_project_id(self):
        value = self.cleaned_data["neon_project_id"].strip()
        if value and not all(ch.isalnum() or ch in "-_" for ch in value):
            raise forms.ValidationError("A Neon project id has only letters, digits, '-' and '_'.")
        return value

    def clean(self):
        cleaned = super().clean()
        slug = cleaned.get("slug")
        if not slug and cleaned.get("name"):
            derived = slugify(cleaned["name"])[:SLUG_MAX]
            if not derived:
                self.add_error("slug", "Choose a slug: the name has no letters or digits to derive one from.")
            else:
                cleaned["slug"] = self._free_slug(derived)
        elif slug and self._slug_taken(slug):
            # One message whoever has it (this team or another): slugs are global, names are not.
            self.add_error("slug", SLUG_UNAVAILABLE)
        return cleaned

    def _slug_taken(self, slug: str) -> bool:
        return Project.objects.filter(slug=slug).exclude(pk=self.instance.pk).exists()

    def _free_slug(self, derived: str) -> str:
        """The derived slug, or (if any project has it) the same with a random suffix, saying nothing."""
        slug = derived
        while self._slug_taken(slug):
            slug = f"{derived[: SLUG_MAX - 7]}-{secrets.token_hex(3)}"
        return slug

    def validate_unique(self):
        # The slug was checked in clean() with a message that names no other team's project.
        try:
            self.instance.validate_unique(exclude=self._get_validation_exclusions() | {"slug"})
        except forms.ValidationError as exc:
            self._update_errors(exc)
