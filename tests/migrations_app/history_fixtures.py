"""Helpers for the migration history pages: tools' real tables on real targets, reads and snapshots.

Import the helpers (and fixtures) you use into the test module (the folder's conftest belongs to
the reviewed-migrations tests).
"""

import uuid

from dashboard.schema.snapshots import capture_snapshot
from migrations_app.history.models import MigrationHistoryRead
from migrations_app.history.services import refresh
from tests.migrations_app.readers_fixtures import create_tool_table, run_sql

__all__ = ["create_tool_table", "run_sql"]

PRISMA_ROW = """INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at,
    applied_steps_count, logs)
VALUES (%(id)s, 'c0ffee', %(name)s, coalesce(%(at)s, now()),
    CASE WHEN %(failed)s THEN NULL ELSE coalesce(%(at)s, now()) END, 1, %(logs)s)"""


def prisma(dbname: str, name: str, *, at=None, failed: bool = False, logs: str | None = None) -> None:
    """One _prisma_migrations row finished at `at` (default: now), or started then and failed."""
    run_sql(
        dbname,
        PRISMA_ROW,
        params={"id": str(uuid.uuid4()), "name": name, "at": at, "failed": failed, "logs": logs},
    )


def snapshot(project, **kwargs):
    """A schema snapshot the way the worker takes it (the history is read just before its catalog)."""
    return capture_snapshot(project, **kwargs)


def read_now(project, branch=None) -> MigrationHistoryRead:
    """A Refresh read, as the button does it (fails the test with the reason when it could not read)."""
    stored, error = refresh(project, branch)
    assert not error, error
    return stored


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()
