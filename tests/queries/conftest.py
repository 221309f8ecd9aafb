"""Fixtures of the queries area: real workloads on real databases, a second cluster to restart."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from dashboard.demo.local_pg import pg_tool
from dashboard.models import Project
from tests.conftest import wait_until
from tests.neon.conftest import (  # noqa: F401  (Neon stand-in)
    neon_project,
    neon_settings,
    neon_standin,
    neon_worker,
    standin_db,
)
from tests.neon.test_scale_to_zero import idle_default_compute  # noqa: F401
from tests.support import pg
from tests.support.browser import browser_type_launch_args, login  # noqa: F401  (Chromium for browser tests)


def run_workload(url_or_conninfo, statements: dict[str, int]) -> None:
    """Run each statement the given number of times in its own connection (a real client)."""
    conn = (
        psycopg.connect(url_or_conninfo, autocommit=True)
        if isinstance(url_or_conninfo, str)
        else psycopg.connect(**url_or_conninfo, autocommit=True)
    )
    with conn:
        for statement, times in statements.items():
            for i in range(times):
                conn.execute(statement, (i + 1,) if "%s" in statement else None)


def prepare_items(url: str, rows: int = 200) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text)")
        conn.execute(
            "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, %s) g ON CONFLICT DO NOTHING",
            (rows,),
        )


@pytest.fixture
def target_url(target_db):
    url = pg.url_for(target_db)
    prepare_items(url)
    return url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SecondCluster:
    """A throwaway cluster of our own (the local server's major), so restarting it disturbs no other test."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="queries-pg-", dir="/var/tmp"))
        self.data = self.dir / "data"
        self.port = _free_port()
        shutil.chown(self.dir, "postgres")
        pwfile = self.dir / "pw"
        pwfile.write_text("postgres\n")
        shutil.chown(pwfile, "postgres")
        self._as_postgres(
            pg_tool("initdb"),
            "-D",
            self.data,
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.data}'\n"
                "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = 'top'\n"
                "max_connections = 30\nfsync = off\n"
            )
        self.pg_ctl("start")
        with psycopg.connect(**self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE target")
        with psycopg.connect(**self.conninfo("target"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")

    def _as_postgres(self, *args) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], check=True, capture_output=True)

    def pg_ctl(self, action: str, *extra: str) -> None:
        self._as_postgres(
            pg_tool("pg_ctl"),
            "-D",
            self.data,
            "-l",
            self.data / "server.log",
            "-w",
            "-t",
            "60",
            action,
            *extra,
        )

    def restart_like_neon(self) -> None:
        """Stop, drop the saved statistics file, start: what a Neon compute restart looks like."""
        self.pg_ctl("stop", "-m", "fast")
        (self.data / "pg_stat" / "pg_stat_statements.stat").unlink(missing_ok=True)
        self.pg_ctl("start")

    def crash_a_backend(self) -> None:
        """SIGKILL one backend: the postmaster resets shared memory, losing pg_stat_statements."""
        victim = psycopg.connect(**self.conninfo("postgres"), autocommit=True)
        os.kill(victim.info.backend_pid, signal.SIGKILL)
        victim.close()
        wait_until(self._accepts_queries, timeout=30, interval=0.2)

    def _accepts_queries(self) -> bool:
        try:
            with psycopg.connect(**self.conninfo("postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return True
        except psycopg.OperationalError:
            return False  # still recovering from the crash

    def conninfo(self, dbname: str) -> dict:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": "postgres",
            "password": "postgres",
            "dbname": dbname,
        }

    def url(self, dbname: str = "target") -> str:
        return f"postgresql://postgres:postgres@127.0.0.1:{self.port}/{dbname}"

    def remove(self) -> None:
        try:
            self.pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def second_cluster():
    cluster = SecondCluster()
    yield cluster
    cluster.remove()


@pytest.fixture
def restartable_project(team, second_cluster):
    prepare_items(second_cluster.url())
    return Project.objects.create(
        team=team, name="Restartable", slug="restartable", pooled_url=second_cluster.url()
    )
