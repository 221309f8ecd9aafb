"""Real Postgres servers of other majors (14 to 18) next to the local server of scripts/services.sh.

Introspection and pg_stat_statements code differs between majors (columns come and go), so tests
start a throwaway server of the major they need:

    server = start_server(17)          # initdb + start on a free port, about 1 s
    name = server.create_database("t")  # with pg_stat_statements
    psycopg.connect(server.url_for(name))
    server.stop()                       # stops it and removes its data directory

Binaries come from scripts/embedded_pg.sh (`make embedded-pg` prefetches them). `LocalServer` gives
the local server of scripts/services.sh (Postgres 15, or 18 from pip) the same interface, so one test
can run on both.
"""

import atexit
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = ROOT / "scripts" / "embedded_pg.sh"
BASE_DIR = ROOT / "var" / "embedded-pg"
START_ATTEMPTS = 3

# Appended to postgresql.conf: like scripts/services.sh, tuned for throwaway test clusters.
SERVER_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{data_dir}'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = 'top'
track_io_timing = on
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
"""


class PgServer:
    """What tests need from a server: where it is and throwaway databases with pg_stat_statements."""

    host: str
    port: int
    user: str
    password: str

    def conninfo(self, dbname: str = "postgres") -> dict:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": dbname,
        }

    def url_for(self, dbname: str) -> str:
        return f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(**self.conninfo(dbname), autocommit=True)

    @property
    def server_version_num(self) -> int:
        with self.connect() as conn:
            return int(conn.execute("SHOW server_version_num").fetchone()[0])

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with self.connect(name) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        raise NotImplementedError


class LocalServer(PgServer):
    """The local server of scripts/services.sh (tests.support.pg); stop() leaves it running."""

    def __init__(self):
        from tests.support import pg  # reads Django settings, so only when a local server is wanted

        s = pg.server()
        self.host, self.port, self.user, self.password = s["host"], s["port"], s["user"], s["password"]
        # Asked once: 15 from the machine, 18 from pip, or whatever DATABASE_URL points at.
        self.major = self.server_version_num // 10000

    def stop(self) -> None:
        pass


@dataclass(eq=False)
class EmbeddedServer(PgServer):
    major: int
    bin_dir: Path
    data_dir: Path
    port: int
    password: str
    host: str = "127.0.0.1"
    user: str = "postgres"
    running: bool = field(default=False, init=False)

    def stop(self) -> None:
        """Stop the server and delete its data directory (safe to call twice)."""
        if self.running:
            # The cluster is thrown away, so no shutdown checkpoint is needed.
            _as_postgres(
                [self.bin_dir / "pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop"], check=False
            )
            self.running = False
        shutil.rmtree(self.data_dir, ignore_errors=True)


def ensure_binaries(major: int) -> Path:
    """The bin directory (initdb, pg_ctl, postgres) of `major`, downloaded first if missing."""
    bin_dir = BASE_DIR / str(major) / "native" / "bin"
    if not (bin_dir / "postgres").exists():
        done = subprocess.run(["bash", str(FETCH_SCRIPT), str(major)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"could not fetch Postgres {major} binaries: {done.stderr.strip()}")
    return bin_dir


def start_server(major: int) -> EmbeddedServer:
    """initdb and start a fresh server of `major` on a free 127.0.0.1 port with scram password auth."""
    bin_dir = ensure_binaries(major)
    password = secrets.token_urlsafe(16)
    data_dir = _new_data_dir(major)
    _initdb(bin_dir, data_dir, password)
    server = EmbeddedServer(major=major, bin_dir=bin_dir, data_dir=data_dir, port=0, password=password)
    atexit.register(server.stop)  # no orphaned postmaster if the test session dies early
    for attempt in range(1, START_ATTEMPTS + 1):
        # The port is free when chosen but could be taken before the server binds it: then retry.
        server.port = _free_port()
        _write_settings(data_dir, server.port)
        done = _as_postgres(
            [bin_dir / "pg_ctl", "-D", data_dir, "-l", data_dir / "server.log", "-w", "-t", "60", "start"],
            check=False,
        )
        if done.returncode == 0:
            server.running = True
            return server
        if attempt == START_ATTEMPTS:
            log = (data_dir / "server.log").read_text(errors="replace")[-2000:]
            server.stop()
            raise RuntimeError(f"Postgres {major} did not start: {done.stderr.strip()}\n{log}")
    raise AssertionError("unreachable")


def _new_data_dir(major: int) -> Path:
    BASE_DIR.mkdir(parents=True, exist_ok=True)
    data_dir = BASE_DIR / f"data-{major}-{secrets.token_hex(4)}"
    data_dir.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres", "postgres")
    return data_dir


def _initdb(bin_dir: Path, data_dir: Path, password: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=data_dir.parent, prefix=".pw-", delete=False) as pwfile:
        pwfile.write(password + "\n")
    try:
        if os.geteuid() == 0:
            shutil.chown(pwfile.name, "postgres", "postgres")
        _as_postgres(
            [
                bin_dir / "initdb",
                "-D",
                data_dir,
                "-U",
                "postgres",
                f"--pwfile={pwfile.name}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
    finally:
        os.unlink(pwfile.name)
    with open(data_dir / "postgresql.conf", "a") as conf:
        conf.write("\ninclude_if_exists = 'test_settings.conf'\n")


def _write_settings(data_dir: Path, port: int) -> None:
    # A separate included file, so a retry on another port replaces the settings instead of stacking them.
    (data_dir / "test_settings.conf").write_text(SERVER_SETTINGS.format(port=port, data_dir=data_dir))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list, *, check: bool = True) -> subprocess.CompletedProcess:
    """Run a server binary; Postgres refuses root, so as root it runs as the `postgres` user."""
    args = [str(a) for a in args]
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    done = subprocess.run(args, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done
