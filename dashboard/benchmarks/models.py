"""Models of the benchmarks area: one row per benchmark run, with the engine's result as JSON.

A run targets a project and (on Neon) a branch. By default a Neon run goes to a temporary
branch created from that branch and deleted afterwards; on plain Postgres pgbench's tables
live in their own schema (`neon_ops_bench`), dropped afterwards. At most one run per
target is queued or running at a time: a partial unique constraint says so, so two
people pressing Start at once cannot both get one.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

__all__ = ["BenchmarkRun", "BenchmarkSeries", "BenchmarkStatus", "Workload"]


class Workload(models.TextChoices):
    SELECT_ONLY = "select-only", "select-only (pgbench -S)"
    SIMPLE_UPDATE = "simple-update", "simple-update (pgbench -N)"
    TPCB_LIKE = "tpcb-like", "tpcb-like (pgbench default)"
    CUSTOM = "custom", "custom script"
    COLD_START = "cold-start", "cold start (Neon: suspend, wake, time the first query)"


# Workloads that change data (a custom script may); cold starts suspend the compute.
WRITE_WORKLOADS = (Workload.SIMPLE_UPDATE, Workload.TPCB_LIKE, Workload.CUSTOM)
DISRUPTIVE_WORKLOADS = (*WRITE_WORKLOADS, Workload.COLD_START)


def needs_admin_confirmation(workload: str, *, on_default_branch: bool, use_temporary_branch: bool) -> bool:
    """A write workload (or cold starts, which suspend the compute) on a Neon default branch itself."""
    return on_default_branch and not use_temporary_branch and workload in DISRUPTIVE_WORKLOADS


class BenchmarkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


ACTIVE_STATUSES = (BenchmarkStatus.QUEUED, BenchmarkStatus.RUNNING)


class _Started(models.Model):
    """What a run and a series both have: who started it, how far it got, and how it ended."""

    status = models.CharField(max_length=16, choices=BenchmarkStatus.choices, default=BenchmarkStatus.QUEUED)
    phase = models.CharField(max_length=200, blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status not in ACTIVE_STATUSES


class BenchmarkRun(_Started):
    project = models.ForeignKey("dashboard.Project", on_delete=models.CASCADE, related_name="benchmark_runs")
    # The chosen Neon branch (its id; "" on plain Postgres). `target_key` is what "one run per
    # target" compares: the branch id, or "" for a plain Postgres project.
    branch_id = models.CharField(max_length=64, blank=True, default="")
    branch_name = models.CharField(max_length=256, blank=True, default="")
    target_key = models.CharField(max_length=64, blank=True, default="")
    workload = models.CharField(max_length=16, choices=Workload.choices)
    script = models.TextField(blank=True, default="")
    # Several custom scripts (pgbench's -f file@W): the first is `script` with `script_weight`,
    # the others [{"text": ..., "weight": ...}]; one script is drawn per transaction by weight.
    script_weight = models.PositiveIntegerField(default=1)
    extra_scripts = models.JSONField(default=list, blank=True)
    clients = models.PositiveIntegerField(default=1)
    duration_seconds = models.PositiveIntegerField(default=10)
    warmup_seconds = models.PositiveIntegerField(default=0)
    rate = models.FloatField(null=True, blank=True)  # target tps (open loop); None: as fast as possible
    connection = models.CharField(
        max_length=8, choices=[("pooled", "pooled"), ("direct", "direct")], default="pooled"
    )
    protocol = models.CharField(
        max_length=8, choices=[("prepared", "prepared"), ("simple", "simple")], default="prepared"
    )
    reconnect = models.BooleanField(default=False)
    scale = models.PositiveIntegerField(default=1)
    repeats = models.PositiveIntegerField(default=3)  # cold starts only
    # Safety choices made by the person starting the run.
    use_temporary_branch = models.BooleanField(default=True)
    wake_compute = models.BooleanField(default=False)
    confirmed_default_branch_write = models.BooleanField(default=False)
    temporary_branch_id = models.CharField(max_length=64, blank=True, default="")
    temporary_branch_deleted = models.BooleanField(default=False)
    # The run this one was started to be compared with ("pooled vs direct", "parent branch").
    counterpart_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="counterparts"
    )
    # One repetition of a series (A, B, A, B ...): its side and its number (1..N) on that side.
    series = models.ForeignKey(
        "BenchmarkSeries", null=True, blank=True, on_delete=models.SET_NULL, related_name="repetitions"
    )
    series_side = models.CharField(max_length=1, blank=True, default="")
    series_number = models.PositiveIntegerField(null=True, blank=True)
    task_run = models.OneToOneField(
        "dashboard.TaskRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="benchmark"
    )
    result = models.JSONField(default=dict, blank=True)  # engine RunResult.to_dict() / ColdStartResult
    progress = models.JSONField(default=list, blank=True)  # one point per second while running
    cleanup_error = models.TextField(blank=True, default="")  # a temporary branch or schema left behind

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["project", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "target_key"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_benchmark_per_target",
            )
        ]

    def __str__(self) -> str:
        return f"Benchmark #{self.pk} {self.workload}"

    @property
    def is_cold_start(self) -> bool:
        return self.workload == Workload.COLD_START

    @property
    def writes(self) -> bool:
        return self.workload in WRITE_WORKLOADS

    @property
    def planned_seconds(self) -> int:
        return self.warmup_seconds + self.duration_seconds

    @property
    def target_label(self) -> str:
        where = f"branch {self.branch_name}" if self.branch_name else "the project's database"
        if self.use_temporary_branch and self.project.is_neon:
            return f"a temporary branch of {where}"
        return where

    @property
    def custom_scripts(self) -> list[dict]:
        """The custom scripts as [{"name", "text", "weight"}] ([] for a built-in workload)."""
        if self.workload != Workload.CUSTOM:
            return []
        given = [{"text": self.script, "weight": self.script_weight}, *self.extra_scripts]
        return [{"name": custom_script_name(n, len(given)), **s} for n, s in enumerate(given, start=1)]


# The parameters a run starts with: what a counterpart or a series repetition copies.
RUN_OPTIONS = ("workload", "script", "script_weight", "extra_scripts", "clients", "duration_seconds",
               "warmup_seconds", "rate", "connection", "protocol", "reconnect", "scale", "repeats",
               "use_temporary_branch", "wake_compute", "confirmed_default_branch_write")  # fmt: skip


def run_options_of(benchmark: BenchmarkRun) -> dict:
    return {name: getattr(benchmark, name) for name in RUN_OPTIONS}


def new_run(project, user, options: dict, branch=None, **links) -> BenchmarkRun:
    """An unsaved run with these parameters on `branch` (a NeonBranch; None on plain Postgres)."""
    benchmark = BenchmarkRun(
        project=project,
        created_by=user,
        branch_id=branch.branch_id if branch else "",
        branch_name=branch.name if branch else "",
        target_key=branch.branch_id if branch else "",
        **{name: options[name] for name in RUN_OPTIONS if name in options},
        **links,
    )
    if not project.is_neon:
        benchmark.use_temporary_branch = False
    return benchmark


def custom_script_name(number: int, count: int) -> str:
    """ "custom" for a lone script (as runs stored before weights had), "custom #2" among several."""
    return "custom" if count == 1 else f"custom #{number}"


SERIES_SIDES = ("A", "B")


class BenchmarkSeries(_Started):
    """N interleaved repetitions A, B, A, B ... run one after another by one worker task.

    A copies a run's parameters; B the same with one thing changed (pooled vs direct, the
    parent branch) or another run's parameters. Each repetition is a normal BenchmarkRun
    (its own temporary branch, its own page), linked here; the comparison takes one value
    per repetition (engine.compare_repeats), so it needs no block bootstrap.
    """

    project = models.ForeignKey(
        "dashboard.Project", on_delete=models.CASCADE, related_name="benchmark_series"
    )
    repetitions_each = models.PositiveIntegerField()  # N: A and B run N times each
    differs_in = models.CharField(max_length=200)  # what B changes, for people: "direct instead of pooled"
    # The runs whose parameters A and B copy (kept for the links; the copies below are what runs).
    baseline = models.ForeignKey(
        BenchmarkRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="series_as_a"
    )
    candidate = models.ForeignKey(
        BenchmarkRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="series_as_b"
    )
    a_options = models.JSONField(default=dict)  # BenchmarkRun field values (services.RUN_OPTIONS)
    b_options = models.JSONField(default=dict)
    a_branch_id = models.CharField(max_length=64, blank=True, default="")
    b_branch_id = models.CharField(max_length=64, blank=True, default="")
    task_run = models.OneToOneField(
        "dashboard.TaskRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="benchmark_series"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["project", "-created_at"])]

    def __str__(self) -> str:
        return f"Benchmark series #{self.pk}"

    @property
    def planned(self) -> list[tuple[str, int]]:
        """The order the repetitions run in: (A, 1), (B, 1), (A, 2), (B, 2) ..."""
        return [(side, n) for n in range(1, self.repetitions_each + 1) for side in SERIES_SIDES]

    def target_keys(self) -> set[str]:
        return {self.a_branch_id, self.b_branch_id}
