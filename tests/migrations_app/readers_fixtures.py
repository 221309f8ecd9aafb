"""Helpers for the history reader tests: the tools' real table definitions on real local databases.

Import the fixtures you use into the test module (this folder has no conftest of its own).
"""

import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from dashboard.targets.connect import TargetSettings, connect
from dashboard.targets.marker import is_marked
from migrations_app.readers import read_history
from tests.support import pg

DDL_DIR = Path(__file__).with_name("history_ddl")
SETTINGS = TargetSettings(connect_timeout=5, statement_timeout_ms=5000, lock_timeout_ms=300, retries=0)


def ddl(tool: str) -> str:
    return (DDL_DIR / f"{tool}.sql").read_text()


def run_sql(dbname: str, *statements: str, params=None) -> None:
    """Fixed test SQL as the local superuser (autocommit, one statement or script at a time)."""
    with pg.admin_connect(dbname) as conn:
        for statement in statements:
            conn.execute(statement, params)


def create_tool_table(dbname: str, tool: str, schema: str | None = None) -> None:
    """Create a tool's history table with its own DDL, in `schema` when the tool uses the current one."""
    with pg.admin_connect(dbname) as conn:
        if schema:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(ddl(tool))


@contextmanager
def target(
    dbname: str, *, user: str | None = None, password: str | None = None, cfg=SETTINGS, cursor_factory=None
):
    """A connection opened the dashboard's way (targets.connect), closed afterwards."""
    connected = connect(pg.url_for(dbname, user=user, password=password), cfg)
    if cursor_factory is not None:
        connected.conn.cursor_factory = cursor_factory
    with connected.conn as conn:
        yield conn


def read(dbname: str, **kwargs):
    with target(dbname) as conn:
        return read_history(conn, SETTINGS, **kwargs)


def only(result, tool: str):
    """The one ToolHistory of `tool` in a read (fails clearly when there are none or several)."""
    found = result.tool(tool)
    assert len(found) == 1, f"expected one {tool} table, found {[(h.schema, h.table) for h in found]}"
    return found[0]


def target_now(dbname: str):
    with pg.admin_connect(dbname) as conn:
        return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def sqitch_rows(target_db):
    create_tool_table(target_db, "sqitch")
    run_sql(target_db,
        "INSERT INTO sqitch.projects (project, creator_name, creator_email) VALUES ('flipr', 'Ann', 'ann@example.com')",
        # users: deployed; widgets: deployed, reverted, deployed again; flips: reverted; lists: failed.
        """INSERT INTO sqitch.changes (change_id, script_hash, change, project, note, committed_at, committer_name,
            committer_email, planned_at, planner_name, planner_email)
           SELECT v.*, 'Ann', 'ann@example.com', '2024-04-01 00:00+00', 'Ann', 'ann@example.com' FROM (VALUES
            ('id-users', 'sh1', 'users', 'flipr', 'Creates users', '2024-05-01 12:00+00'::timestamptz),
            ('id-widgets', 'sh2', 'widgets', 'flipr', '', '2024-05-04 12:00+00')) AS v""",
        """INSERT INTO sqitch.events (event, change_id, change, project, note, committed_at, committer_name,
            committer_email, planned_at, planner_name, planner_email)
           SELECT v.event, v.change_id, v.change, 'flipr', '', v.at, 'Ann', 'ann@example.com', '2024-04-01 00:00+00',
                  'Ann', 'ann@example.com' FROM (VALUES
            ('deploy', 'id-users', 'users', '2024-05-01 12:00+00'::timestamptz),
            ('deploy', 'id-widgets', 'widgets', '2024-05-02 12:00+00'),
            ('revert', 'id-widgets', 'widgets', '2024-05-03 12:00+00'),
            ('deploy', 'id-widgets', 'widgets', '2024-05-04 12:00+00'),
            ('deploy', 'id-flips', 'flips', '2024-05-05 12:00+00'),
            ('revert', 'id-flips', 'flips', '2024-05-06 12:00+00'),
            ('fail', 'id-lists', 'lists', '2024-05-07 12:00+00')) AS v(event, change_id, change, at)""",
    )  # fmt: skip


class WatchingCursor(psycopg.Cursor):
    """A real cursor that records every statement and, before each history statement, tries a write.

    The write runs inside a savepoint of the same transaction, so the read goes on; what it
    raised is kept in `write_errors` (the read-only transaction must refuse it).
    """

    statements: list[str] = []
    write_errors: list[str] = []

    def execute(self, query, params=None, **kwargs):
        text = query if isinstance(query, str) else query.as_string(self.connection)
        if is_marked(text):
            self._try_write()
        WatchingCursor.statements.append(text)
        return super().execute(query, params, **kwargs)

    def _try_write(self):
        super().execute("SAVEPOINT write_probe")
        try:
            super().execute("CREATE TABLE write_probe (id int)")
            WatchingCursor.write_errors.append("none: the write succeeded")
        except psycopg.Error as exc:
            WatchingCursor.write_errors.append(type(exc).__name__)
        super().execute("ROLLBACK TO SAVEPOINT write_probe")

    @classmethod
    def reset(cls):
        cls.statements = []
        cls.write_errors = []


@pytest.fixture
def reader_role(target_db):
    """A login role with no privileges on anything but what the test grants; dropped afterwards."""
    name = f"reader_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    run_sql(
        "postgres",
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)),
    )
    yield name, password
    run_sql(target_db, sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    run_sql("postgres", sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def dev_db():
    """A second fresh database (another branch, or a reference), dropped afterwards."""
    name = pg.create_database("dev")
    yield name
    pg.drop_database(name)
