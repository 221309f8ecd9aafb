"""Celery tasks of the benchmarks area: thin, take the TaskRun id, claim it, run the service body.

The soft and hard time limits are given per run when it is queued (services.time_limits:
they follow the requested duration); the decorator's limits are only the fallback. A run
whose worker died is settled by the reconciler (cleanup.py: the run ends failed, its
temporary branch is deleted).
"""

from celery import shared_task

from dashboard.benchmarks import cleanup
from dashboard.benchmarks.execution import KIND, execute_benchmark, fail_unexpectedly
from dashboard.benchmarks.series_execution import end_series, execute_series
from dashboard.taskruns import lifecycle

lifecycle.on_lost(KIND)(cleanup.end_lost_run)
if cleanup.delete_leftover_branches not in lifecycle.RECONCILE_HOOKS:
    lifecycle.RECONCILE_HOOKS.append(cleanup.delete_leftover_branches)


@shared_task(name="benchmarks.run", soft_time_limit=900, time_limit=1020)
def run_benchmark(run_id: str) -> None:
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(
            run,
            execute_benchmark,
            audit_action="benchmark.run",
            on_failure=lambda message: fail_unexpectedly(run, message),
        )


# --- series (A, B, A, B ...): one task runs every repetition through run_benchmark's body ---------


@shared_task(name="benchmarks.series", soft_time_limit=3600, time_limit=3720)
def run_series(run_id: str) -> None:
    run = lifecycle.claim(run_id)
    if run is not None:
        lifecycle.execute(
            run,
            lambda task_run: execute_series(task_run, run_benchmark),
            audit_action="benchmark.series_run",
            on_failure=lambda message: end_series(run, message),
        )
