"""Deleting finished task runs after TASK_RUN_RETENTION_DAYS, so the table does not grow forever.

Queued and running runs are never deleted (the reconciler decides about those), nor a run another
area's record still refers to (a migration or benchmark run keeps its task run while it exists).
"""

from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Coalesce
from django.utils import timezone

from dashboard.models import TaskRun, TaskStatus

FINISHED = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.LOST)
BATCH = 1000


def expired_runs(now=None):
    """Finished runs that ended (or, never started, were created) before the retention cutoff."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.TASK_RUN_RETENTION_DAYS)
    runs = TaskRun.objects.alias(ended=Coalesce("finished_at", "created_at")).filter(
        status__in=FINISHED, ended__lt=cutoff
    )
    for relation in TaskRun._meta.related_objects:  # records of other areas pointing at a run
        column = relation.field.attname
        # Without the NULLs: NOT IN over a set holding NULL would keep every run.
        records = relation.related_model._base_manager
        referenced = records.filter(**{f"{column}__isnull": False}).values(column)
        runs = runs.exclude(pk__in=referenced)
    return runs


def delete_expired_runs(now=None) -> int:
    """Delete expired runs in batches (short transactions); returns how many were deleted."""
    deleted = 0
    while ids := list(expired_runs(now).values_list("pk", flat=True)[:BATCH]):
        deleted += TaskRun.objects.filter(pk__in=ids).delete()[0]
    return deleted
