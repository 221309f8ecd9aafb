"""Forms of reviewed migrations. The SQL form lints while it validates, so a syntax error or an
unacknowledged destructive statement is a form error and nothing is saved."""

from django import forms
from django.utils import timezone

from migrations_app.services import policy as policy_service
from migrations_app.services.lint import LintOutcome, lint

MAX_SQL_CHARS = 1_000_000


class SqlForm(forms.Form):
    title = forms.CharField(max_length=200)
    sql = forms.CharField(
        label="SQL",
        max_length=MAX_SQL_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "sql"}),
        help_text="Statements separated by semicolons. Do not write BEGIN/COMMIT: the worker owns transactions.",
    )
    acknowledge_destructive = forms.BooleanField(
        required=False,
        label="I understand that the destructive statements below lose data or break clients.",
    )

    def __init__(self, *args, project, branches=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.outcome: LintOutcome | None = None
        if branches:
            choices = [("", "Default branch")] + [
                (b.branch_id, f"{b.name} ({b.branch_id})") for b in branches if not b.is_default
            ]
            self.fields["branch"] = forms.ChoiceField(choices=choices, required=False, label="Target branch")

    def clean_sql(self):
        sql = self.cleaned_data["sql"]
        if not sql.strip():
            raise forms.ValidationError("The migration has no statements.")
        self.outcome = lint(self.project, sql)
        result = self.outcome.result
        if result.syntax_error is not None:
            error = result.syntax_error
            raise forms.ValidationError(
                f"Syntax error at line {error.line}, column {error.column}: {error.message}"
            )
        if result.plan is None:
            raise forms.ValidationError("The migration has no statements.")
        return sql

    def clean(self):
        cleaned = super().clean()
        result = self.outcome.result if self.outcome else None
        if result is not None and result.plan is not None and result.needs_acknowledgement:
            if not cleaned.get("acknowledge_destructive"):
                numbers = sorted({f.statement_index + 1 for f in result.needs_acknowledgement})
                listed = ", ".join(str(n) for n in numbers)
                self.add_error(
                    "acknowledge_destructive",
                    f"Statement {listed} is destructive: tick the box to acknowledge it.",
                )
        return cleaned

    @property
    def destructive_statements(self) -> list:
        result = self.outcome.result if self.outcome else None
        if result is None or result.plan is None:
            return []
        return [s for s in result.plan.statements if s.destructive]


class CommentForm(forms.Form):
    comment = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class RejectForm(forms.Form):
    comment = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ApplyForm(forms.Form):
    apply_after = forms.DateTimeField(
        required=False,
        label="Not before (UTC, optional)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )

    def clean_apply_after(self):
        value = self.cleaned_data.get("apply_after")
        if value is not None and value <= timezone.now():
            return None  # a time already past means "now"
        return value


class PolicyForm(forms.Form):
    """The project's migration policy; a rule left out of a POST keeps its level."""

    approvals_required = forms.IntegerField(
        min_value=1, max_value=10, label="Approvals required", help_text="From admins other than the author."
    )
    lock_timeout_ms = forms.IntegerField(
        min_value=100,
        max_value=600_000,
        label="lock_timeout (ms)",
        help_text="How long one statement may wait for its lock before it is retried (short: a waiting "
        "ACCESS EXCLUSIVE request blocks every later reader of the table).",
    )
    statement_timeout_ms = forms.IntegerField(
        min_value=1000, max_value=86_400_000, label="statement_timeout (ms)", help_text="Per statement."
    )
    rehearsal_max_table_mb = forms.IntegerField(
        min_value=0,
        max_value=10_000_000,
        label="Rehearsal size limit (MiB)",
        help_text="Plain Postgres: rehearse in a rolled-back transaction only when every touched table "
        "is smaller than this.",
    )

    def __init__(self, *args, values: policy_service.PolicyValues, **kwargs):
        initial = {
            "approvals_required": values.approvals_required,
            "lock_timeout_ms": values.lock_timeout_ms,
            "statement_timeout_ms": values.statement_timeout_ms,
            "rehearsal_max_table_mb": values.rehearsal_max_table_bytes // policy_service.MIB,
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.current = values
        for rule in policy_service.SQUAWK_RULES:
            self.fields[f"rule-{rule}"] = forms.ChoiceField(
                choices=policy_service.LEVELS, required=False, initial=values.levels[rule], label=rule
            )

    def settings_fields(self):
        return [self[name] for name in self.fields if not name.startswith("rule-")]

    def rule_fields(self):
        return [self[name] for name in self.fields if name.startswith("rule-")]

    def values(self) -> policy_service.PolicyValues:
        data = self.cleaned_data
        size = data["rehearsal_max_table_mb"] * policy_service.MIB
        if size == self.current.rehearsal_max_table_bytes // policy_service.MIB * policy_service.MIB:
            size = self.current.rehearsal_max_table_bytes  # unchanged, even when not a whole MiB
        levels = {
            rule: data.get(f"rule-{rule}") or self.current.levels[rule]
            for rule in policy_service.SQUAWK_RULES
        }
        return policy_service.PolicyValues(
            data["approvals_required"], data["lock_timeout_ms"], data["statement_timeout_ms"], size, levels
        )
