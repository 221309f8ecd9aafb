"""Celery tasks of the migration history: removing stored reads past their retention."""

from celery import shared_task

from migrations_app.history.store import cleanup_reads


@shared_task(name="migrations.cleanup_history_reads", soft_time_limit=300, time_limit=360)
def cleanup_history_reads() -> int:
    return cleanup_reads()
