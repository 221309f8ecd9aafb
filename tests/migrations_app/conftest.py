"""Fixtures of the migrations engine: a real target database reached the way the product reaches it."""

import threading

import pytest

from dashboard.targets.connect import TargetSettings, connect
from migrations_app.engine.apply import ApplySettings, apply_migration
from migrations_app.engine.plan import build_plan
from tests.neon.conftest import neon_project, neon_settings, neon_standin, neon_worker, standin_db  # noqa: F401
from tests.support import pg
from tests.support.browser import browser_type_launch_args, login  # noqa: F401  (Chromium for browser tests)

# Short waits so the bounded waits of the applier end within a test's time.
FAST = ApplySettings(
    lock_timeout_ms=200,
    max_lock_retries=3,
    retry_base_seconds=0.1,
    retry_max_seconds=0.5,
    apply_lock_wait_seconds=10,
    preflight_wait_seconds=1,
    poll_seconds=0.05,
)


@pytest.fixture
def target_url(target_db):
    return pg.url_for(target_db)


@pytest.fixture
def open_target(target_url):
    """open_target() -> a new direct autocommit connection to the target, as the worker opens it."""
    opened = []

    def open_one():
        conn = connect(target_url, TargetSettings(application_name="neon-ops-dashboard migrations")).conn
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        conn.close()


@pytest.fixture
def target(open_target):
    return open_target()


@pytest.fixture
def target_sql(target_db):
    """target_sql(sql) -> rows (or None): fixed test SQL as the local superuser, outside the engine."""

    def run(sql: str, params=None):
        with pg.admin_connect(target_db) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else None

    return run


@pytest.fixture
def apply(target):
    """apply(sql, migration_id=..., events=[] or on_progress=..., **kwargs) -> ApplyResult."""

    def run(
        sql: str, migration_id: str = "m-1", conn=None, settings=FAST, events=None, on_progress=None, **kwargs
    ):
        plan = build_plan(sql)
        return apply_migration(
            conn or target,
            plan,
            migration_id=migration_id,
            checksum=plan.checksum,
            settings=settings,
            on_progress=on_progress or (events.append if events is not None else None),
            **kwargs,
        )

    return run


def tables(target_sql, schema: str = "public") -> list[str]:
    rows = target_sql("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,))
    return [name for (name,) in rows]


class LockHolder:
    """Another session holding a lock in an open transaction until release() (a real client in the way)."""

    def __init__(self, dbname: str, sql: str):
        self._guard = threading.Lock()
        self.conn = pg.admin_connect(dbname)
        self.conn.execute("BEGIN")
        self.conn.execute(sql)
        self.pid = self.conn.info.backend_pid

    def release(self) -> None:
        with self._guard:
            if not self.conn.closed:
                self.conn.execute("ROLLBACK")
                self.conn.close()

    def release_after(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.release)
        timer.start()
        return timer


@pytest.fixture
def hold_lock(target_db):
    holders = []

    def hold(sql: str) -> LockHolder:
        holder = LockHolder(target_db, sql)
        holders.append(holder)
        return holder

    yield hold
    for holder in holders:
        holder.release()
