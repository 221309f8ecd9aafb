"""The form that starts a benchmark: workload, script, limits, connection and the safety choices."""

from django import forms
from django.conf import settings

from dashboard.benchmarks.engine import ScriptError, parse_script
from dashboard.benchmarks.models import Workload, custom_script_name, needs_admin_confirmation

SCRIPT_MAX_CHARS = 20_000
MAX_SCRIPTS = 4  # the first in `script`, the others in script_2 .. script_4
MAX_WEIGHT = 1000
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
    script_weight = forms.IntegerField(
        label="Weight of the custom script",
        min_value=0,
        max_value=MAX_WEIGHT,
        initial=1,
        required=False,
        help_text="With several scripts, each transaction runs one of them, drawn by weight "
        "(pgbench's -f file@W).",
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
        for number in range(2, MAX_SCRIPTS + 1):
            self.fields[f"script_{number}"] = _extra_script_field(f"Script {number}", forms.CharField(
                required=False, max_length=SCRIPT_MAX_CHARS,
                widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
            ))  # fmt: skip
            self.fields[f"script_{number}_weight"] = _extra_script_field(
                f"Weight of script {number}",
                forms.IntegerField(min_value=0, max_value=MAX_WEIGHT, initial=1, required=False),
            )
        self.fields["branch"].choices = [("", "default branch")] + [
            (b.branch_id, b.name) for b in self.branches if not b.is_default
        ]
        if not project.is_neon:
            for name in ("branch", "use_temporary_branch", "wake_compute", "confirm_default_branch_write"):
                del self.fields[name]

    @property
    def extra_script_fields(self) -> list:
        return [field for field in self if getattr(field.field, "is_extra_script", False)]

    @property
    def has_extra_scripts(self) -> bool:
        """Open the fold when a second script was written (or one of its fields has an error)."""
        return any(
            field.value() not in (None, "", 1, "1") or field.errors for field in self.extra_script_fields
        )

    def clean(self):
        data = super().clean()
        workload = data.get("workload")
        data["warmup"] = data.get("warmup") or 0
        data["repeats"] = data.get("repeats") or 3
        if workload == Workload.CUSTOM:
            self._check_scripts(data)
        if workload == Workload.COLD_START and not self.project.is_neon:
            self.add_error(
                "workload", "Cold starts need a Neon project (the compute is suspended through its API)."
            )
        if self.project.is_neon and not self.branches:
            self.add_error(None, "The dashboard knows no branches of this Neon project yet: sync them first.")
        if self.project.is_neon:
            self._check_default_branch_write(data)
        return data

    def _given_scripts(self, data: dict) -> list[tuple[str, str, int]]:
        """(field name, text, weight) of each custom script written, first field first."""
        given = []
        for number in range(1, MAX_SCRIPTS + 1):
            name = "script" if number == 1 else f"script_{number}"
            text = data.get(name) or ""
            weight = data.get(f"{name}_weight")
            if text.strip():
                given.append((name, text, 1 if weight is None else weight))
        return given

    def _check_scripts(self, data: dict) -> None:
        if not (data.get("script") or "").strip():
            self.add_error("script", "Write the custom script (or choose a built-in workload).")
            return
        given = self._given_scripts(data)
        for name, text, weight in given:
            number = 1 if name == "script" else int(name.split("_")[1])
            try:
                parse_script(text, name=custom_script_name(number, len(given)), weight=weight)
            except ScriptError as exc:
                self.add_error(name, str(exc))
        weights_given = all(f"{name}_weight" not in self.errors for name, _, _ in given)
        if weights_given and sum(weight for _, _, weight in given) == 0:
            self.add_error(
                "script_weight", "The weights add up to 0: at least one script needs a weight above 0."
            )

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
        scripts = self._given_scripts(data) if data["workload"] == Workload.CUSTOM else []
        options["script"], options["script_weight"] = (scripts[0][1], scripts[0][2]) if scripts else ("", 1)
        options["extra_scripts"] = [{"text": text, "weight": weight} for _, text, weight in scripts[1:]]
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


def _extra_script_field(label: str, field: forms.Field) -> forms.Field:
    """Scripts 2 .. 4 and their weights: the template folds them away under "More custom scripts"."""
    field.label = label
    field.is_extra_script = True
    return field


class SeriesForm(forms.Form):
    """Repeat a run as a series: N repetitions each of A and B, B changed as `kind` says (or a run B)."""

    kind = forms.ChoiceField(
        choices=[("", "—"), ("pooled-vs-direct", "pooled vs direct"), ("parent-branch", "the parent branch")],
        required=False,
    )
    repetitions = forms.IntegerField(label="Repetitions of each", min_value=2, initial=3)

    def __init__(self, *args, with_b: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_b = with_b
        self.fields["repetitions"].validators.append(_max(settings.BENCHMARK_MAX_SERIES_REPETITIONS))

    def clean(self):
        data = super().clean()
        if not self.with_b and not data.get("kind") and "kind" not in self.errors:
            self.add_error("kind", "Choose what B changes: pooled vs direct, or the parent branch.")
        return data


def _max(limit: int):
    def check(value):
        if value is not None and value > limit:
            raise forms.ValidationError(f"At most {limit} (a limit of this dashboard).")

    return check
