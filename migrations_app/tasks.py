"""Every Celery task of migrations_app, for Celery's autodiscover_tasks() (wiring only)."""

from migrations_app.history import tasks as history_tasks  # noqa: F401
