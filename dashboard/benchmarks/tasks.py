"""Celery tasks of the benchmarks area: thin, take the TaskRun id, claim it, run the service body.

The soft and hard time limits are given per run when it is queued (services.time_limits:
they follow the requested duration); the decorator's limits are only the fallback. A run
whose worker died is settled by the reconciler (cleanup.py: the run ends failed, its
temporary branch is deleted).
"""

from celery import shared_task

from dashboard.benchmarks import cleanup
from dashboard.benchmarks.execution import KIND, execute_benchmark, fail_unexpectedly
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
