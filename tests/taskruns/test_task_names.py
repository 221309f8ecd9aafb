"""Beat and queued messages refer to tasks by name: every name is explicit, stable and registered."""

from django.conf import settings

from config.celery import app
from dashboard.tasks import AREA_TASK_MODULES


def registered_tasks() -> dict:
    app.loader.import_default_modules()  # autodiscovery, as in a worker or beat
    return app.tasks


def test_every_beat_entry_names_a_registered_task():
    tasks = registered_tasks()
    entries = settings.CELERY_BEAT_SCHEDULE
    assert entries
    unknown = {key: entry["task"] for key, entry in entries.items() if entry["task"] not in tasks}
    assert unknown == {}


def test_every_dashboard_task_has_an_area_name_not_its_module_path():
    tasks = registered_tasks()
    ours = {name: task for name, task in tasks.items() if task.__module__.startswith("dashboard.")}
    assert {task.__module__ for task in ours.values()} == {module.__name__ for module in AREA_TASK_MODULES}
    for name, task in ours.items():
        area = task.__module__.split(".")[1]
        assert name.startswith(f"{area}.") and not name.startswith("dashboard."), name
