"""The demo's history tables: three tools' own definitions and rows in the pagila database, read once."""

import psycopg

from dashboard.connections import open_target
from dashboard.targets.connect import TargetError
from migrations_app.history.models import MigrationHistoryRead, ReadSource
from migrations_app.history.store import read_target, store_read
from migrations_app.readers import demo_history_sql


def ensure_demo_history(project, conninfo: dict) -> None:
    """Create and fill the tables (safe to run again), then read them unless a read is stored already,
    so the timeline and the failed-migration finding show on first start, before any snapshot."""
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(demo_history_sql())
    if MigrationHistoryRead.objects.filter(project=project).exists():
        return
    try:
        with open_target(project) as target:
            store_read(project, read_target(target), source=ReadSource.DEMO)
    except TargetError:
        pass  # the demo's first snapshot reads the history too
