"""Finished task runs are deleted after TASK_RUN_RETENTION_DAYS; queued and running ones never."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from dashboard.models import TaskRun, TaskStatus
from dashboard.taskruns.tasks import cleanup_task_runs

pytestmark = pytest.mark.django_db


def test_cleanup_deletes_only_old_finished_runs(project):
    old = timezone.now() - timedelta(days=settings.TASK_RUN_RETENTION_DAYS + 1)
    recent = timezone.now() - timedelta(days=settings.TASK_RUN_RETENTION_DAYS - 1)

    def run(status, created_at, finished_at=None):
        return TaskRun.objects.create(kind="check", project=project, status=status, created_at=created_at,
                                      finished_at=finished_at).pk  # fmt: skip

    expired = {
        run(TaskStatus.SUCCEEDED, old, old),
        run(TaskStatus.FAILED, old, old),
        run(TaskStatus.LOST, old),  # never started: its age counts from its creation
    }
    kept = {
        run(TaskStatus.SUCCEEDED, old, recent),  # ended recently
        run(TaskStatus.QUEUED, old),
        run(TaskStatus.RUNNING, old),
        run(TaskStatus.FAILED, recent, recent),
    }
    assert cleanup_task_runs() == 3
    assert set(TaskRun.objects.values_list("pk", flat=True)) == kept
    assert not TaskRun.objects.filter(pk__in=expired).exists()
    assert cleanup_task_runs() == 0
