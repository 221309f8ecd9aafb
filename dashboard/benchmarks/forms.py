"""The form that starts a benchmark: workload, script, limits, connection and the safety choices."""

from django import forms
from django.conf import settings

from dashboard.benchmarks.engine import ScriptError, parse_script
from dashboard.benchmarks.models import Workload, needs_admin_confirmation

SCRIPT_MAX_CHARS = 20_000
MAX_WARMUP_SECONDS = 60
MAX_RATE = 1_000_000


class BenchmarkForm(forms.Form):
    workload = forms.ChoiceField(choices=Workload.choices, initial=Workload.SELECT_ONLY)
    script = forms.CharField(
        label="Custom script",
        required=False,
        max_length=SCRIPT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="pgbench's script language: \\set with random(), random_gaussian(), random_exponential(), "
        "random_zipfian() and arithmetic; \\sleep; SQL statements ending with ';'. pgbench's tables "
        "(pgbench_accounts, ...) are there, in schema neon_ops_bench.",
    )
    clients = forms.IntegerField(min_value=1, initial=1)
    duration_seconds = forms.IntegerField(label="Duration (seconds)", min_value=1, initial=10)
    warmup = forms.IntegerField(
        label="Warm-up (seconds, excluded from the results)",
        min_value=0,
        max_value=MAX_WARMUP_SECONDS,
        initial=0,
        required=False,
    )
    rate = forms.FloatField(
        label="Target rate (transactions per second, blank: as fast as possible)",
        min_value=0.1,
        max_value=MAX_RATE,
        required=False,
        help_text="Open loop: latency counts from each transaction's scheduled start.",
    )
    connection = forms.ChoiceField(choices=[("pooled", "pooled"), ("direct", "direct")], initial="pooled")
    protocol = forms.ChoiceField(choices=[("prepared", "prepared"), ("simple", "simple")], initial="prepared")
    reconnect = forms.BooleanField(
        label="Reconnect for every transaction (the serverless-function pattern)", required=False
    )
    scale = forms.IntegerField(label="Scale (pgbench -s)", min_value=1, initial=1)
    repeats = forms.IntegerField(label="Cold starts to measure", min_value=1, initial=3, required=False)
    branch = forms.ChoiceField(label="Branch", required=False)
    use_temporary_branch = forms.BooleanField(
        label="Run on a temporary branch created from it (deleted afterwards)", required=False, initial=True
    )
    wake_compute = forms.BooleanField(
        label="Wake the compute if it is idle (it then runs, and costs, until it suspends again)",
        required=False,
    )
    confirm_default_branch_write = forms.BooleanField(
        label="I am an admin and want this write workload on the default branch itself", required=False
    )

    def __init__(self, *args, project, branches=(), is_admin=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.is_admin = is_admin
        self.branches = list(branches)
        self.fields["clients"].validators.append(_max(settings.BENCHMARK_MAX_CLIENTS))
        self.fields["duration_seconds"].validators.append(_max(settings.BENCHMARK_MAX_DURATION_SECONDS))
        self.fields["scale"].validators.append(_max(settings.BENCHMARK_MAX_SCALE))
        self.fields["repeats"].validators.append(_max(settings.BENCHMARK_MAX_COLD_STARTS))
        self.fields["branch"].choices = [("", "default branch")] + [
            (b.branch_id, b.name) for b in self.branches if not b.is_default
        ]
        if not project.is_neon:
            for name in ("branch", "use_temporary_branch", "wake_compute", "confirm_default_branch_write"):
                del self.fields[name]

    def clean(self):
        data = super().clean()
        workload = data.get("workload")
        data["warmup"] = data.get("warmup") or 0
        data["repeats"] = data.get("repeats") or 3
        if workload == Workload.CUSTOM:
            self._check_script(data.get("script", ""))
        if workload == Workload.COLD_START and not self.project.is_neon:
            self.add_error(
                "workload", "Cold starts need a Neon project (the compute is suspended through its API)."
            )
        if self.project.is_neon and not self.branches:
            self.add_error(None, "The dashboard knows no branches of this Neon project yet: sync them first.")
        if self.project.is_neon:
            self._check_default_branch_write(data)
        return data

    def _check_script(self, text: str) -> None:
        if not text.strip():
            self.add_error("script", "Write the custom script (or choose a built-in workload).")
            return
        try:
            parse_script(text, name="custom")
        except ScriptError as exc:
            self.add_error("script", str(exc))

    def _check_default_branch_write(self, data: dict) -> None:
        if not needs_admin_confirmation(
            data.get("workload"),
            on_default_branch=not data.get("branch"),
            use_temporary_branch=bool(data.get("use_temporary_branch")),
        ):
            return
        if not self.is_admin:
            self.add_error(
                "use_temporary_branch",
                "Only an admin may run a write workload or cold starts on the default branch itself; "
                "keep the temporary branch.",
            )
        elif not data.get("confirm_default_branch_write"):
            self.add_error(
                "confirm_default_branch_write",
                "This writes to (or suspends) the default branch: tick the confirmation to go on.",
            )

    def run_options(self) -> dict:
        """The cleaned values under the BenchmarkRun field names."""
        data = self.cleaned_data
        options = {name: data[name] for name in ("workload", "clients", "duration_seconds", "rate", "connection",
                                                  "protocol", "reconnect", "scale", "repeats")}  # fmt: skip
        options["script"] = data["script"] if data["workload"] == Workload.CUSTOM else ""
        options["warmup_seconds"] = data["warmup"]
        options["use_temporary_branch"] = bool(data.get("use_temporary_branch"))
        options["wake_compute"] = bool(data.get("wake_compute"))
        options["confirmed_default_branch_write"] = bool(data.get("confirm_default_branch_write"))
        return options

    def chosen_branch(self):
        wanted = self.cleaned_data.get("branch") or ""
        if not self.project.is_neon:
            return None
        if wanted:
            return next((b for b in self.branches if b.branch_id == wanted), None)
        return next((b for b in self.branches if b.is_default), None)


def _max(limit: int):
    def check(value):
        if value is not None and value > limit:
            raise forms.ValidationError(f"At most {limit} (a limit of this dashboard).")

    return check
