"""Forms of the Neon area."""

from django import forms
from django.utils import timezone

NAME_MAX = 256


class BranchCreateForm(forms.Form):
    parent_id = forms.ChoiceField(label="Parent branch")
    name = forms.CharField(
        label="Name", max_length=NAME_MAX, required=False, help_text="Leave blank to let Neon name it."
    )
    parent_timestamp = forms.DateTimeField(
        label="From the parent as of (UTC, optional)",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Point in time of the parent's data; blank means now.",
    )

    schema_only = forms.BooleanField(
        label="Schema only (no data)", required=False, help_text="Copy the parent's tables, not their rows."
    )

    def __init__(self, *args, branches=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent_id"].choices = [(b.branch_id, b.name) for b in branches]
        default = next((b.branch_id for b in branches if b.is_default), None)
        if default:
            self.fields["parent_id"].initial = default
        self.existing_names = {b.name for b in branches}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            raise forms.ValidationError("The name must not contain control characters.")
        if name in self.existing_names:
            raise forms.ValidationError("A branch with this name already exists.")
        return name

    def clean_parent_timestamp(self):
        value = self.cleaned_data["parent_timestamp"]
        if value is None:
            return None
        # USE_TZ with TIME_ZONE = "UTC": the form already made the value aware in UTC.
        if value > timezone.now():
            raise forms.ValidationError("The point in time must be in the past.")
        return value
