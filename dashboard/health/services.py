"""Health snapshots: computed by workers (and on demand), stored, and shown from storage.

Pages and the API never connect to render health; they read the last stored
HealthSnapshot, which says when it was taken.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import F, FloatField, Sum
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone

from dashboard.connections import open_target
from dashboard.health import rules
from dashboard.introspection.health import read_health
from dashboard.models import HealthSnapshot, Project, StatsSample
from dashboard.neon.state import compute_is_idle
from dashboard.targets.connect import TargetError
from migrations_app.history.health import migration_history_checks


def slow_statements(project, now=None) -> list[dict]:
    """Statements whose mean time in the last hour is at least the threshold over enough calls."""
    t = settings.HEALTH_THRESHOLDS
    now = now or timezone.now()
    rows = (
        StatsSample.objects.filter(
            project=project,
            taken_at__gt=now - timedelta(hours=1),
            taken_at__lte=now,
            statement__is_own=False,
        )
        .values("statement__queryid")
        .annotate(calls=Sum("calls"), total_ms=Sum("total_exec_ms"))
        .annotate(mean_ms=F("total_ms") / Cast(F("calls"), FloatField()))
        .filter(calls__gte=t["slow_min_calls"], mean_ms__gte=t["slow_mean_ms"])
        .order_by("-mean_ms")
    )
    return [
        {"queryid": r["statement__queryid"], "calls": r["calls"], "mean_ms": round(r["mean_ms"], 2)}
        for r in rows[:50]
    ]


def take_health_snapshot(project: Project, *, manual: bool = False) -> HealthSnapshot:
    """Read the target's health facts and store the evaluated checks; a person may wake a compute, a job may not."""
    if not manual and compute_is_idle(project):
        return HealthSnapshot.objects.create(
            project=project, skipped="Neon reports the compute idle; not checked."
        )
    t = settings.HEALTH_THRESHOLDS
    try:
        # A person waits for a manual refresh: connect as for a page.
        with open_target(project, interactive=manual) as target, target.read_only() as cur:
            facts = read_health(
                cur, long_seconds=t["long_running_seconds"], idle_seconds=t["idle_in_transaction_seconds"]
            )
    except TargetError as exc:
        return HealthSnapshot.objects.create(project=project, error=exc.message)
    checks = rules.evaluate(
        facts, slow_statements(project), t, reverse("project_detail", args=[project.slug])
    )
    return HealthSnapshot.objects.create(project=project, checks=checks)


def latest(project: Project) -> dict:
    """What the tiles show: the last snapshot with checks, plus a newer skip or error note if any."""
    last = HealthSnapshot.objects.filter(project=project).first()
    if last is not None and last.checks:
        with_checks, note = last, None
    else:
        with_checks, note = HealthSnapshot.objects.filter(project=project).exclude(checks=[]).first(), last
    checks = (with_checks.checks if with_checks else []) + stored_checks(project)
    return {"snapshot": with_checks, "note": note, "checks": checks, "overall": rules.overall(checks)}


def stored_checks(project: Project) -> list[dict]:
    """Checks other areas keep from their own stored reads (they never connect either)."""
    return migration_history_checks(project)


def cleanup_snapshots(now=None) -> int:
    now = now or timezone.now()
    deleted, _ = HealthSnapshot.objects.filter(
        taken_at__lt=now - timedelta(days=settings.QUERIES_RETENTION_DAYS)
    ).delete()
    return deleted
