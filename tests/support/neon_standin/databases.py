"""Admin access to the local Postgres server that holds the branch databases."""

import os
import subprocess
import time
from urllib.parse import quote, unquote, urlsplit

import psycopg
from psycopg import sql

from dashboard.demo.local_pg import pg_tool

from .common import APIError


class LocalServer:
    """Admin access to the local Postgres server that holds the branch databases."""

    def __init__(self, db_url: str):
        parts = urlsplit(db_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 5432
        self.user = unquote(parts.username or "postgres")
        self.password = unquote(parts.password or "")
        self.admin_db = unquote(parts.path.lstrip("/")) or "postgres"

    def connect(self, dbname: str | None = None) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname or self.admin_db,
            autocommit=True,
            connect_timeout=10,
            application_name="neon-standin",
        )

    def uri_for(self, dbname: str, port: int | None = None) -> str:
        auth = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{auth}@{self.host}:{port or self.port}/{quote(dbname, safe='')}"

    def allows_connections(self, conn, dbname: str) -> bool:
        row = conn.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        return bool(row and row[0])

    def set_allow_connections(self, conn, dbname: str, allowed: bool) -> None:
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(dbname), sql.SQL("true" if allowed else "false")
            )
        )

    def terminate_sessions(self, conn, dbname: str) -> None:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )

    def session_counts(self) -> dict[str, int]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT datname, count(*) FROM pg_stat_activity "
                "WHERE datname IS NOT NULL AND backend_type = 'client backend' GROUP BY datname"
            ).fetchall()
        return {name: count for name, count in rows}

    def database_sizes(self, names: list[str]) -> dict[str, int]:
        """Sizes of several databases in one query (Neon's logical_size)."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname = ANY(%s)", (names,)
            ).fetchall()
        return dict(rows)

    def clone(self, source: str, target: str) -> None:
        """CREATE DATABASE target TEMPLATE source, holding off the source's sessions meanwhile."""
        with self.connect() as conn:
            was_allowed = self.allows_connections(conn, source)
            try:
                if was_allowed:
                    self.set_allow_connections(conn, source, False)
                for attempt in range(20):
                    self.terminate_sessions(conn, source)
                    try:
                        conn.execute(
                            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                                sql.Identifier(target), sql.Identifier(source)
                            )
                        )
                        return
                    except psycopg.errors.ObjectInUse:
                        time.sleep(0.05 * (attempt + 1))
                raise APIError(500, "the parent branch stayed busy; could not copy it")
            finally:
                if was_allowed:
                    self.set_allow_connections(conn, source, True)

    def current_lsn(self) -> str:
        with self.connect() as conn:
            return conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]

    def copy_schema(self, source: str, target: str) -> None:
        """A new database with the source's schema and no data (Neon's init_source=schema-only)."""
        schema = self.schema_dump(source)
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(target)))
        done = subprocess.run(
            [pg_tool("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", target],
            input=schema,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise APIError(500, "could not copy the schema on the stand-in")

    def _env(self) -> dict:
        return {
            **os.environ,
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
        }

    def drop(self, dbname: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))

    def rename(self, old: str, new: str) -> None:
        with self.connect() as conn:
            self.terminate_sessions(conn, old)
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
            )

    def schema_dump(self, dbname: str) -> str:
        """pg_dump --schema-only, letting pg_dump in briefly if the compute is suspended."""
        with self.connect() as conn:
            was_allowed = self.allows_connections(conn, dbname)
            if not was_allowed:
                self.set_allow_connections(conn, dbname, True)
            try:
                env = {
                    **os.environ,
                    "PGHOST": self.host,
                    "PGPORT": str(self.port),
                    "PGUSER": self.user,
                    "PGPASSWORD": self.password,
                }
                done = subprocess.run(
                    [pg_tool("pg_dump"), "--schema-only", "--no-owner", "--no-privileges", "-d", dbname],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
            finally:
                if not was_allowed:
                    self.set_allow_connections(conn, dbname, False)
        if done.returncode != 0:
            raise APIError(500, "pg_dump failed on the stand-in")
        # Version banners and pg_dump's random \restrict keys would show up as noise in diffs.
        lines = [
            line
            for line in done.stdout.splitlines(keepends=True)
            if not line.startswith(("-- Dumped ", "\\restrict", "\\unrestrict"))
        ]
        return "".join(lines)
