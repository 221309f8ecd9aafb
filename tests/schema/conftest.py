"""Fixtures of the schema area: SQL on real target databases and snapshots taken from them."""

import pytest

from dashboard.schema.snapshots import capture_snapshot
from tests.support import pg


def run_sql(dbname: str, *statements: str) -> None:
    """Run fixed test DDL on a target database as the local superuser."""
    with pg.admin_connect(dbname) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def target_sql(target_db):
    def run(*statements: str) -> None:
        run_sql(target_db, *statements)

    return run


@pytest.fixture
def snapshot(project):
    """take() -> a fresh snapshot of the project's target, read through the real introspection."""

    def take(**kwargs):
        return capture_snapshot(project, **kwargs)

    return take


# Browser tests of this area reuse the shared Chromium set-up (real Chromium, live server, login form).
from tests.support.browser import browser_type_launch_args, login  # noqa: E402,F401
