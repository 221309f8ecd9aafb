"""Fixtures of the benchmark engine: pgbench's tables on a real local database."""

import pytest

from dashboard.benchmarks.engine.connection import ConnectionSettings
from dashboard.benchmarks.engine.runner import RunConfig
from dashboard.benchmarks.engine.workloads import DEFAULT_SCHEMA, drop_schema, initialise
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
