"""Demo runs, so the benchmarks pages are not empty on first start (`make run`).

`load_demo` queues one select-only run on `pagila`; `neon_demo register` queues one
cold-start run on `pagila-neon` (on a temporary branch of the stand-in, which suspends and
wakes its compute). The worker `make run` starts picks them up. Idempotent: a project that
already has a benchmark gets none.
"""

from dashboard.benchmarks.models import BenchmarkRun, Workload
from dashboard.benchmarks.services import BenchmarkRefused, start_benchmark
from dashboard.neon.state import resolve_branch

SELECT_ONLY = {"workload": Workload.SELECT_ONLY, "clients": 2, "duration_seconds": 5, "connection": "direct"}
COLD_START = {
    "workload": Workload.COLD_START,
    "repeats": 3,
    "connection": "direct",
    "use_temporary_branch": True,
}


def queue_demo_run(project, options: dict) -> BenchmarkRun | None:
    if BenchmarkRun.objects.filter(project=project).exists():
        return None
    try:
        return start_benchmark(project, None, options, resolve_branch(project))
    except BenchmarkRefused:
        return None


def queue_select_only(project) -> BenchmarkRun | None:
    return queue_demo_run(project, SELECT_ONLY)


def queue_cold_start(project) -> BenchmarkRun | None:
    return queue_demo_run(project, COLD_START)
