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

__all__ = ["BenchmarkRun", "BenchmarkStatus", "Workload"]


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


class BenchmarkRun(models.Model):
    project = models.ForeignKey("dashboard.Project", on_delete=models.CASCADE, related_name="benchmark_runs")
    # The chosen Neon branch (its id; "" on plain Postgres). `target_key` is what "one run per
    # target" compares: the branch id, or "" for a plain Postgres project.
    branch_id = models.CharField(max_length=64, blank=True, default="")
    branch_name = models.CharField(max_length=256, blank=True, default="")
    target_key = models.CharField(max_length=64, blank=True, default="")
    workload = models.CharField(max_length=16, choices=Workload.choices)
    script = models.TextField(blank=True, default="")
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
    task_run = models.OneToOneField(
        "dashboard.TaskRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="benchmark"
    )
    status = models.CharField(max_length=16, choices=BenchmarkStatus.choices, default=BenchmarkStatus.QUEUED)
    phase = models.CharField(max_length=200, blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    result = models.JSONField(default=dict, blank=True)  # engine RunResult.to_dict() / ColdStartResult
    progress = models.JSONField(default=list, blank=True)  # one point per second while running
    error = models.TextField(blank=True, default="")
    cleanup_error = models.TextField(blank=True, default="")  # a temporary branch or schema left behind
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

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
    def is_finished(self) -> bool:
        return self.status not in ACTIVE_STATUSES

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
