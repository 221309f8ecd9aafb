"""Every Celery task of the dashboard, registered by importing each area's `tasks` module (wiring only).

Celery's autodiscover_tasks() (config/celery.py) imports this module. A new area with
tasks adds its module here; each task has an explicit, stable `name=` ("<area>.<what>"),
which is what the beat schedule in config/settings.py and queued messages refer to.
"""

from dashboard.benchmarks import tasks as benchmarks_tasks
from dashboard.neon import tasks as neon_tasks
from dashboard.projects import tasks as projects_tasks
from dashboard.queries import tasks as queries_tasks
from dashboard.schema import tasks as schema_tasks
from dashboard.taskruns import tasks as taskruns_tasks

AREA_TASK_MODULES = (
    benchmarks_tasks,
    neon_tasks,
    projects_tasks,
    queries_tasks,
    schema_tasks,
    taskruns_tasks,
)
