"""Fixtures of the benchmark engine: pgbench's tables on a real local database."""

import pytest

from dashboard.benchmarks import execution
from dashboard.benchmarks.engine import builtin_script, run
from dashboard.benchmarks.engine.connection import ConnectionSettings
from dashboard.benchmarks.engine.runner import RunConfig
from dashboard.benchmarks.engine.workloads import DEFAULT_SCHEMA, drop_schema, initialise
from dashboard.benchmarks.tasks import run_benchmark
from dashboard.models import BenchmarkRun, Project
from tests.support import pg


@pytest.fixture
def bench_db(target_db):
    """A database holding pgbench's tables at scale 1 in the `neon_ops_bench` schema."""
    with pg.admin_connect(target_db) as conn:
        initialise(conn, scale=1)
    yield target_db
    with pg.admin_connect(target_db) as conn:
        drop_schema(conn)


def settings_for(dbname: str, **options) -> ConnectionSettings:
    return ConnectionSettings(pg.url_for(dbname), search_path=DEFAULT_SCHEMA, **options)


def config_for(dbname: str, scripts, **options) -> RunConfig:
    values = {"duration_seconds": 1.5, "seed": 7, **options}
    return RunConfig(settings_for(dbname), tuple(scripts), **values)


def query(dbname: str, sql: str, params=()):
    with pg.admin_connect(dbname) as conn:
        return conn.execute(sql, params).fetchall()


# --- the Django area: projects, runs with real results, Chromium --------------------------------

from tests.neon.conftest import neon_project, neon_settings, neon_standin, neon_worker, standin_db  # noqa: E402,F401
from tests.neon.test_scale_to_zero import idle_default_compute  # noqa: E402,F401
from tests.support.browser import browser_type_launch_args, login  # noqa: E402,F401  (Chromium for browser tests)


def real_result(dbname: str, workload: str = "select-only", **options) -> dict:
    """A RunResult measured by the engine on a real database holding pgbench's tables, as JSON."""
    values = {"duration_seconds": 2, "clients": 1, **options}
    return run(config_for(dbname, [builtin_script(workload)], **values)).to_dict()


@pytest.fixture(scope="module")
def measured_results(django_db_blocker):
    """Two real select-only results (1 and 2 clients) measured once per module on a scratch database."""
    name = pg.create_database("benchres")
    with pg.admin_connect(name) as conn:
        initialise(conn, scale=1)
    results = {"one": real_result(name, clients=1), "two": real_result(name, clients=2)}
    pg.drop_database(name)
    return results


def make_run(project, result: dict | None = None, **fields):
    """A BenchmarkRun row as a finished worker leaves it (status and result given by the test)."""
    values = {"workload": "select-only", "clients": 1, "duration_seconds": 2, "status": "finished",
              "result": result or {}, "target_key": f"k{BenchmarkRun.objects.count()}", **fields}  # fmt: skip
    return BenchmarkRun.objects.create(project=project, **values)


@pytest.fixture(scope="module")
def shop_database(django_db_blocker):
    """One empty target database per test module (creating one per test would dominate the run time)."""
    name = pg.create_database("benchshop")
    yield name
    pg.drop_database(name)


@pytest.fixture
def shop(team, shop_database):
    return Project.objects.create(team=team, name="Shop", slug="shop", pooled_url=pg.url_for(shop_database))


def run_here(run):
    """Run a queued benchmark's task in this process, exactly as the worker would (claim, then the body)."""
    run_benchmark(str(run.task_run_id))
    run.refresh_from_db()
    return run


@pytest.fixture
def cancel_after_first_second(monkeypatch):
    """Every run started in this test is cancelled as a person would once its page shows the first second."""
    original = execution._Recorder.progress

    def progress_then_cancel(self, progress):
        original(self, progress)
        BenchmarkRun.objects.filter(pk=self.benchmark.pk).update(cancel_requested=True)

    monkeypatch.setattr(execution._Recorder, "progress", progress_then_cancel)
