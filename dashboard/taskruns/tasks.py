"""Celery tasks of the taskruns area: finding runs whose worker died."""

from celery import shared_task

from dashboard.taskruns import lifecycle, retention


@shared_task(name="taskruns.reconcile_stale", soft_time_limit=30, time_limit=60)
def reconcile_stale_task_runs() -> int:
    return lifecycle.reconcile_stale()


@shared_task(name="taskruns.cleanup_runs", soft_time_limit=300, time_limit=360)
def cleanup_task_runs() -> int:
    return retention.delete_expired_runs()
