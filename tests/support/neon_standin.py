"""A local stand-in for the Neon API v2, acting on a real local Postgres server.

Neon cannot be reached from here, so tests and the demo talk to this server.
It implements the endpoints the dashboard uses (see docs/neon.md) with
real effects:

- a stand-in project maps to a base database on the local server; each branch
  is a database, the default branch being the base database itself;
- creating a branch runs `CREATE DATABASE <new> TEMPLATE <parent>`. Postgres
  needs the template to have no other sessions, so the parent's connections are
  refused for that instant and its sessions terminated (clients see Neon's
  "terminating connection due to administrator command" and reconnect);
- deleting drops the database; restoring recreates it from the source branch;
- an endpoint (compute) is the right to connect to its branch database:
  suspending it runs `ALTER DATABASE ... ALLOW_CONNECTIONS false` and terminates
  its sessions, so an idle compute really is unreachable until started again;
- mutating calls return operations that go from `running` to `finished` in a
  background thread; while one runs, other mutating calls get 423 like Neon;
- `compare_schema` is a unified diff of `pg_dump --schema-only` outputs;
- every call needs `Authorization: Bearer <key>`;
- tests can make it answer 429/423/5xx or be slow (`fail_next`, `slow`, or
  POST /_standin/faults).

Limits: `parent_timestamp` and `source_timestamp` are validated and recorded
but the copy is of the current data (no point-in-time history locally);
pooled and direct URIs point at the same local server (no PgBouncer).

Run: NEON_STANDIN_DB_URL=postgresql://postgres:postgres@127.0.0.1:54320/postgres \
        python -m tests.support.neon_standin --port 8791 \
        --project pagila-neon=pagila_neon --api-key-file var/neon-standin.key
"""

import argparse
import difflib
import json
import os
import re
import secrets
import socket
import struct
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import psycopg
from psycopg import sql

from dashboard.demo.local_pg import pg_tool
from tests.support.tcp_peers import GSSENC_REQUEST, SSL_REQUEST, error_response, pipe, recv_exact

API_PREFIX = "/api/v2"
DEFAULT_SUSPEND_TIMEOUT = 300


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs a time zone")
    return parsed


class APIError(Exception):
    def __init__(self, status: int, message: str, code: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


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


class StandIn:
    """The API state (projects, branches, endpoints, operations) and what each call does."""

    def __init__(
        self,
        db_url: str,
        api_key: str,
        *,
        op_seconds: float = 0.2,
        state_file: str | None = None,
        cold_start_failures: int = 0,
    ):
        self.server = LocalServer(db_url)
        self.api_key = api_key
        self.op_seconds = op_seconds
        self.state_file = Path(state_file) if state_file else None
        self.lock = threading.RLock()
        self.state = {"projects": {}, "branches": {}, "endpoints": {}, "operations": {}}
        self.faults: list[dict] = []
        self.delay_seconds = 0.0
        self.request_log: list[tuple[str, str, int]] = []
        # Set by RunningStandIn: the port of the compute proxy that connection URIs point at.
        self.proxy_port: int | None = None
        # Connection attempts seen by the proxy: {endpoint_id, database, state}.
        self.connection_attempts: list[dict] = []
        # After a start, this many connections fail like Neon's proxy during a cold start.
        self.cold_start_failures = cold_start_failures
        self._cold_failures_left: dict[str, int] = {}
        self._load()

    # --- test controls ---------------------------------------------------------------------

    def fail_next(
        self, status: int, times: int = 1, path_contains: str = "", method: str = "", code: str = ""
    ) -> None:
        with self.lock:
            self.faults.append(
                {
                    "status": status,
                    "code": code,
                    "remaining": times,
                    "path_contains": path_contains,
                    "method": method.upper(),
                }
            )

    def delay_next(self, seconds: float, times: int = 1, path_contains: str = "", method: str = "") -> None:
        """Answer the next matching calls only after `seconds` (to make one call time out)."""
        with self.lock:
            self.faults.append(
                {
                    "delay": seconds,
                    "remaining": times,
                    "path_contains": path_contains,
                    "method": method.upper(),
                }
            )

    def slow(self, seconds: float) -> None:
        self.delay_seconds = seconds

    def calls(self, method: str, path_contains: str = "") -> int:
        return sum(1 for m, p, _ in self.request_log if m == method and path_contains in p)

    def attempts_on(self, endpoint_id: str, state: str | None = None) -> int:
        """Connections the proxy saw for an endpoint (optionally only while it was in `state`)."""
        return sum(
            1
            for a in self.connection_attempts
            if a["endpoint_id"] == endpoint_id and (state is None or a["state"] == state)
        )

    def uri_for_database(self, dbname: str) -> str:
        return self.server.uri_for(dbname, self.proxy_port)

    def endpoint_for_database(self, dbname: str) -> dict | None:
        with self.lock:
            for endpoint in self.state["endpoints"].values():
                branch = self.state["branches"].get(endpoint["branch_id"])
                if branch and branch["standin_database"] == dbname and endpoint["type"] == "read_write":
                    return endpoint
        return None

    def record_attempt(self, dbname: str) -> bool:
        """Note a connection attempt; True if it must fail because the compute is still starting."""
        endpoint = self.endpoint_for_database(dbname)
        with self.lock:
            self.connection_attempts.append(
                {
                    "endpoint_id": endpoint["id"] if endpoint else None,
                    "database": dbname,
                    "state": endpoint["current_state"] if endpoint else None,
                }
            )
            if endpoint is None or self._cold_failures_left.get(endpoint["id"], 0) <= 0:
                return False
            self._cold_failures_left[endpoint["id"]] -= 1
            return True

    def take_fault(self, method: str, path: str) -> dict | None:
        with self.lock:
            for fault in self.faults:
                if (
                    fault["remaining"] > 0
                    and fault["path_contains"] in path
                    and fault["method"] in ("", method)
                ):
                    fault["remaining"] -= 1
                    return fault
        return None

    # --- persistence -----------------------------------------------------------------------

    def _load(self) -> None:
        if self.state_file and self.state_file.exists():
            self.state = json.loads(self.state_file.read_text())
            for op in self.state["operations"].values():
                if op["status"] == "running":
                    op["status"] = "cancelled"

    def _save(self) -> None:
        if self.state_file:
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state))
            tmp.replace(self.state_file)

    # --- setup -----------------------------------------------------------------------------

    def add_project(self, project_id: str, database: str, *, name: str | None = None) -> dict:
        """Register a stand-in project whose default branch `main` is the existing `database`."""
        with self.lock:
            if project_id in self.state["projects"]:
                return self.state["projects"][project_id]
            with self.server.connect() as conn:
                version = conn.execute("SHOW server_version_num").fetchone()[0]
            project = {
                "id": project_id,
                "name": name or project_id,
                "region_id": "local-standin",
                "pg_version": int(version) // 10000,
                "platform_id": "local",
                "settings": {},
                "created_at": now_iso(),
                "updated_at": now_iso(),
                "compute_last_active_at": None,
                "database_name": database,
                "proxy_host": "standin.localhost",
            }
            self.state["projects"][project_id] = project
            branch = self._new_branch(project_id, name="main", parent=None, database=database)
            branch.update(default=True, current_state="ready", pending_state=None)
            endpoint = self._new_endpoint(project_id, branch["id"])
            endpoint.update(current_state="active", pending_state=None, last_active=now_iso())
            self._save()
            return project

    def _new_branch(
        self,
        project_id: str,
        *,
        name: str | None,
        parent: dict | None,
        database: str | None = None,
        parent_timestamp: str | None = None,
    ) -> dict:
        branch_id = f"br-{secrets.token_hex(4)}-{secrets.token_hex(2)}"
        project = self.state["projects"][project_id]
        branch = {
            "id": branch_id,
            "project_id": project_id,
            "parent_id": parent["id"] if parent else None,
            "parent_lsn": "0/1A2B3C4" if parent else None,
            "parent_timestamp": parent_timestamp or (now_iso() if parent else None),
            "name": name or branch_id,
            "current_state": "init",
            "pending_state": "ready",
            "state_changed_at": now_iso(),
            "logical_size": 0,
            "creation_source": "console",
            "default": False,
            "protected": False,
            "cpu_used_sec": 0,
            "compute_time_seconds": 0,
            "active_time_seconds": 0,
            "written_data_bytes": 0,
            "data_transfer_bytes": 0,
            "created_at": now_iso(),
            "updated_at": now_iso(),
            # Stand-in bookkeeping (Neon has no such field; clients ignore unknown fields).
            "standin_seq": self._next_seq(),
            "standin_database": database or f"{project['database_name']}__{branch_id.replace('-', '_')}",
        }
        self.state["branches"][branch_id] = branch
        return branch

    def _next_seq(self) -> int:
        self.state["seq"] = self.state.get("seq", 0) + 1
        return self.state["seq"]

    def _new_endpoint(self, project_id: str, branch_id: str, kind: str = "read_write") -> dict:
        endpoint_id = f"ep-{secrets.token_hex(4)}-{secrets.token_hex(2)}"
        endpoint = {
            "id": endpoint_id,
            "host": f"{endpoint_id}.standin.localhost",
            "project_id": project_id,
            "branch_id": branch_id,
            "type": kind,
            "current_state": "init",
            "pending_state": "active",
            "region_id": "local-standin",
            "autoscaling_limit_min_cu": 0.25,
            "autoscaling_limit_max_cu": 0.25,
            "settings": {},
            "pooler_enabled": True,
            "pooler_mode": "transaction",
            "disabled": False,
            "passwordless_access": False,
            "last_active": None,
            "creation_source": "console",
            "created_at": now_iso(),
            "updated_at": now_iso(),
            "proxy_host": "standin.localhost",
            "suspend_timeout_seconds": 0,
            "provisioner": "k8s-neonvm",
        }
        self.state["endpoints"][endpoint_id] = endpoint
        return endpoint

    # --- lookups ---------------------------------------------------------------------------

    def project(self, project_id: str) -> dict:
        try:
            return self.state["projects"][project_id]
        except KeyError:
            raise APIError(404, f"project {project_id} not found") from None

    def branch(self, project_id: str, branch_id: str) -> dict:
        self.project(project_id)
        branch = self.state["branches"].get(branch_id)
        if branch is None or branch["project_id"] != project_id:
            raise APIError(404, f"branch {branch_id} not found")
        return branch

    def endpoint(self, project_id: str, endpoint_id: str) -> dict:
        self.project(project_id)
        endpoint = self.state["endpoints"].get(endpoint_id)
        if endpoint is None or endpoint["project_id"] != project_id:
            raise APIError(404, f"endpoint {endpoint_id} not found")
        return endpoint

    def branches_of(self, project_id: str) -> list[dict]:
        return sorted(
            (b for b in self.state["branches"].values() if b["project_id"] == project_id),
            key=lambda b: b["standin_seq"],
        )

    def endpoints_of(self, project_id: str, branch_id: str | None = None) -> list[dict]:
        return [
            e
            for e in self.state["endpoints"].values()
            if e["project_id"] == project_id and (branch_id is None or e["branch_id"] == branch_id)
        ]

    def default_branch(self, project_id: str) -> dict:
        return next(b for b in self.branches_of(project_id) if b["default"])

    def public_branch(self, branch: dict) -> dict:
        return self.public_branches([branch])[0]

    def public_branches(self, branches: list[dict]) -> list[dict]:
        """Branches as the API shows them: no stand-in bookkeeping, current logical sizes."""
        ready = [b["standin_database"] for b in branches if b["current_state"] == "ready"]
        try:
            sizes = self.server.database_sizes(ready) if ready else {}
        except psycopg.Error:
            sizes = {}
        public = []
        for branch in branches:
            shown = {k: v for k, v in branch.items() if not k.startswith("standin_")}
            if branch["standin_database"] in sizes:
                shown["logical_size"] = sizes[branch["standin_database"]]
            public.append(shown)
        return public

    # --- operations ------------------------------------------------------------------------

    def _check_no_running_operation(self, project_id: str) -> None:
        running = [
            op
            for op in self.state["operations"].values()
            if op["project_id"] == project_id and op["status"] == "running"
        ]
        if running:
            raise APIError(
                423,
                "project already has running conflicting operations, scheduling of new ones is prohibited",
                code="",
            )

    def _new_operation(self, project_id: str, action: str, *, branch_id=None, endpoint_id=None) -> dict:
        op = {
            "id": str(uuid.uuid4()),
            "project_id": project_id,
            "branch_id": branch_id,
            "endpoint_id": endpoint_id,
            "action": action,
            "status": "running",
            "failures_count": 0,
            "created_at": now_iso(),
            "updated_at": now_iso(),
            "total_duration_ms": 0,
        }
        self.state["operations"][op["id"]] = op
        return op

    def _run(self, operations: list[dict], work) -> None:
        """Do `work` in the background; the operations finish (or fail) when it is done."""

        def runner():
            started = time.monotonic()
            time.sleep(self.op_seconds)
            error = None
            try:
                work()  # outside the lock: copying a database can take seconds
            except Exception as exc:  # the operation records the failure, as Neon's would
                error = str(exc)[:300]
            with self.lock:
                for op in operations:
                    op.update(
                        status="failed" if error else "finished",
                        updated_at=now_iso(),
                        total_duration_ms=int((time.monotonic() - started) * 1000),
                    )
                    if error:
                        op.update(error=error, failures_count=op["failures_count"] + 1)
                self._save()

        threading.Thread(target=runner, daemon=True, name="standin-operation").start()

    # --- API calls -------------------------------------------------------------------------

    def create_branch(self, project_id: str, body: dict) -> dict:
        self.project(project_id)
        spec = body.get("branch") or {}
        if not isinstance(spec, dict):
            raise APIError(400, "branch must be an object")
        self._check_no_running_operation(project_id)
        parent = (
            self.branch(project_id, spec["parent_id"])
            if spec.get("parent_id")
            else self.default_branch(project_id)
        )
        timestamp = spec.get("parent_timestamp")
        if timestamp:
            try:
                when = parse_timestamp(str(timestamp))
            except ValueError:
                raise APIError(400, "parent_timestamp must be an RFC 3339 timestamp") from None
            if when > datetime.now(UTC):
                raise APIError(400, "parent_timestamp is in the future")
        init_source = spec.get("init_source") or "parent-data"
        if init_source not in ("parent-data", "schema-only"):
            raise APIError(400, f"unknown init_source {init_source!r}")
        name = str(spec.get("name") or "").strip() or None
        if name and any(b["name"] == name for b in self.branches_of(project_id)):
            raise APIError(409, f"branch with name {name!r} already exists")
        branch = self._new_branch(project_id, name=name, parent=parent, parent_timestamp=timestamp)
        operations = [self._new_operation(project_id, "create_branch", branch_id=branch["id"])]
        endpoints = []
        for requested in body.get("endpoints") or []:
            endpoint = self._new_endpoint(project_id, branch["id"], requested.get("type", "read_write"))
            endpoints.append(endpoint)
            operations.append(
                self._new_operation(
                    project_id, "start_compute", branch_id=branch["id"], endpoint_id=endpoint["id"]
                )
            )

        def work():
            if init_source == "schema-only":
                self.server.copy_schema(parent["standin_database"], branch["standin_database"])
            else:
                self.server.clone(parent["standin_database"], branch["standin_database"])
            branch.update(current_state="ready", pending_state=None, state_changed_at=now_iso())
            for endpoint in endpoints:
                endpoint.update(current_state="active", pending_state=None, last_active=now_iso())

        self._run(operations, work)
        self._save()
        return {"branch": self.public_branch(branch), "endpoints": endpoints, "operations": operations}

    def delete_branch(self, project_id: str, branch_id: str) -> dict:
        branch = self.branch(project_id, branch_id)
        if branch["default"]:
            raise APIError(400, "cannot delete the default branch")
        if branch["protected"]:
            raise APIError(400, "cannot delete a protected branch")
        if any(b["parent_id"] == branch_id for b in self.branches_of(project_id)):
            raise APIError(400, "cannot delete a branch that has child branches")
        self._check_no_running_operation(project_id)
        endpoints = self.endpoints_of(project_id, branch_id)
        operations = [
            self._new_operation(project_id, "suspend_compute", branch_id=branch_id, endpoint_id=e["id"])
            for e in endpoints
        ]
        operations.append(self._new_operation(project_id, "delete_timeline", branch_id=branch_id))
        branch["pending_state"] = "deleted"

        def work():
            self.server.drop(branch["standin_database"])
            with self.lock:
                for endpoint in endpoints:
                    self.state["endpoints"].pop(endpoint["id"], None)
                self.state["branches"].pop(branch_id, None)

        self._run(operations, work)
        return {"branch": self.public_branch(branch), "operations": operations}

    def restore_branch(self, project_id: str, branch_id: str, body: dict) -> dict:
        branch = self.branch(project_id, branch_id)
        source_id = body.get("source_branch_id")
        if not source_id:
            raise APIError(400, "source_branch_id is required")
        source = self.branch(project_id, source_id)
        if source_id == branch_id and not body.get("source_timestamp") and not body.get("source_lsn"):
            raise APIError(400, "restoring a branch onto itself needs source_timestamp or source_lsn")
        for key in ("source_timestamp",):
            if body.get(key):
                try:
                    parse_timestamp(str(body[key]))
                except ValueError:
                    raise APIError(400, f"{key} must be an RFC 3339 timestamp") from None
        self._check_no_running_operation(project_id)
        preserve = str(body.get("preserve_under_name") or "").strip()
        endpoints = self.endpoints_of(project_id, branch_id)
        operations = [self._new_operation(project_id, "restore_branch", branch_id=branch_id)]
        operations += [
            self._new_operation(project_id, "restart_compute", branch_id=branch_id, endpoint_id=e["id"])
            for e in endpoints
        ]

        def work():
            database = branch["standin_database"]
            source_database = source["standin_database"]
            if preserve:
                with self.lock:
                    backup = self._new_branch(project_id, name=preserve, parent=None)
                    backup.update(current_state="ready", pending_state=None, parent_id=branch["parent_id"])
                self.server.rename(database, backup["standin_database"])
                if source_id == branch_id:
                    source_database = backup["standin_database"]
            elif source_id == branch_id:
                # No history locally: restoring a branch to its own past keeps its current data.
                source_database = None
                with self.server.connect() as conn:
                    self.server.terminate_sessions(conn, database)
            else:
                self.server.drop(database)
            if source_database:
                self.server.clone(source_database, database)
            idle = any(e["current_state"] == "idle" for e in endpoints)
            if idle:
                with self.server.connect() as conn:
                    self.server.set_allow_connections(conn, database, False)
            branch.update(last_reset_at=now_iso(), updated_at=now_iso())

        self._run(operations, work)
        return {"branch": self.public_branch(branch), "operations": operations}

    def set_endpoint_state(
        self, project_id: str, endpoint_id: str, state: str, *, restart: bool = False
    ) -> dict:
        """Start (state active), suspend (idle) or restart (active, after ending every session)."""
        endpoint = self.endpoint(project_id, endpoint_id)
        self._check_no_running_operation(project_id)
        database = self.state["branches"][endpoint["branch_id"]]["standin_database"]
        action = (
            "restart_compute" if restart else ("start_compute" if state == "active" else "suspend_compute")
        )
        operations = [
            self._new_operation(project_id, action, branch_id=endpoint["branch_id"], endpoint_id=endpoint_id)
        ]
        endpoint["pending_state"] = state

        def work():
            with self.server.connect() as conn:
                self.server.set_allow_connections(conn, database, state == "active" and not restart)
                if state == "idle" or restart:
                    self.server.terminate_sessions(conn, database)
                if restart:
                    self.server.set_allow_connections(conn, database, True)
            stamp = now_iso()
            endpoint.update(current_state=state, pending_state=None, updated_at=stamp)
            if state == "active":
                endpoint["last_active"] = stamp
                self.state["projects"][project_id]["compute_last_active_at"] = stamp
                self._cold_failures_left[endpoint_id] = self.cold_start_failures

        self._run(operations, work)
        return {"endpoint": endpoint, "operations": operations}

    def connection_uri(self, project_id: str, query: dict) -> dict:
        project = self.project(project_id)
        branch_id = query.get("branch_id")
        branch = self.branch(project_id, branch_id) if branch_id else self.default_branch(project_id)
        if not query.get("database_name") or not query.get("role_name"):
            raise APIError(400, "database_name and role_name are required")
        if query["database_name"] != project["database_name"]:
            raise APIError(404, f"database {query['database_name']!r} not found")
        if query["role_name"] != self.server.user:
            raise APIError(404, f"role {query['role_name']!r} not found")
        return {"uri": self.uri_for_database(branch["standin_database"])}

    def compare_schema(self, project_id: str, branch_id: str, query: dict) -> dict:
        project = self.project(project_id)
        branch = self.branch(project_id, branch_id)
        base_id = query.get("base_branch_id") or branch["parent_id"]
        if not base_id:
            raise APIError(400, "base_branch_id is required for a branch without parent")
        base = self.branch(project_id, base_id)
        if query.get("db_name") and query["db_name"] != project["database_name"]:
            raise APIError(404, f"database {query['db_name']!r} not found")
        before = self.server.schema_dump(base["standin_database"]).splitlines(keepends=True)
        after = self.server.schema_dump(branch["standin_database"]).splitlines(keepends=True)
        return {"diff": "".join(difflib.unified_diff(before, after, fromfile=base_id, tofile=branch_id))}

    def branch_schema(self, project_id: str, branch_id: str, query: dict) -> dict:
        branch = self.branch(project_id, branch_id)
        return {"sql": self.server.schema_dump(branch["standin_database"])}

    # --- scale to zero ---------------------------------------------------------------------

    def suspend_inactive(self) -> list[str]:
        """Suspend active computes without sessions for longer than their suspend timeout, like Neon."""
        counts = self.server.session_counts()
        suspended = []
        with self.lock:
            for endpoint in list(self.state["endpoints"].values()):
                if endpoint["current_state"] != "active" or endpoint["suspend_timeout_seconds"] < 0:
                    continue
                database = self.state["branches"][endpoint["branch_id"]]["standin_database"]
                stamp = now_iso()
                if counts.get(database):
                    endpoint["last_active"] = stamp
                    self.state["projects"][endpoint["project_id"]]["compute_last_active_at"] = stamp
                    continue
                timeout = endpoint["suspend_timeout_seconds"] or DEFAULT_SUSPEND_TIMEOUT
                last = parse_timestamp(endpoint["last_active"] or endpoint["created_at"])
                if (datetime.now(UTC) - last).total_seconds() >= timeout:
                    with self.server.connect() as conn:
                        self.server.set_allow_connections(conn, database, False)
                        self.server.terminate_sessions(conn, database)
                    endpoint.update(current_state="idle", updated_at=stamp)
                    suspended.append(endpoint["id"])
            self._save()
        return suspended


ROUTES = [
    ("GET", r"/projects", "list_projects"),
    ("GET", r"/projects/(?P<project_id>[^/]+)", "get_project"),
    ("GET", r"/projects/(?P<project_id>[^/]+)/branches", "list_branches"),
    ("POST", r"/projects/(?P<project_id>[^/]+)/branches", "create_branch"),
    ("GET", r"/projects/(?P<project_id>[^/]+)/branches/(?P<branch_id>[^/]+)", "get_branch"),
    ("DELETE", r"/projects/(?P<project_id>[^/]+)/branches/(?P<branch_id>[^/]+)", "delete_branch"),
    ("POST", r"/projects/(?P<project_id>[^/]+)/branches/(?P<branch_id>[^/]+)/restore", "restore_branch"),
    (
        "GET",
        r"/projects/(?P<project_id>[^/]+)/branches/(?P<branch_id>[^/]+)/compare_schema",
        "compare_schema",
    ),
    ("GET", r"/projects/(?P<project_id>[^/]+)/branches/(?P<branch_id>[^/]+)/schema", "branch_schema"),
    ("GET", r"/projects/(?P<project_id>[^/]+)/endpoints", "list_endpoints"),
    ("GET", r"/projects/(?P<project_id>[^/]+)/endpoints/(?P<endpoint_id>[^/]+)", "get_endpoint"),
    (
        "POST",
        r"/projects/(?P<project_id>[^/]+)/endpoints/(?P<endpoint_id>[^/]+)/(?P<verb>start|suspend|restart)",
        "endpoint_action",
    ),
    ("GET", r"/projects/(?P<project_id>[^/]+)/connection_uri", "connection_uri"),
    ("GET", r"/projects/(?P<project_id>[^/]+)/operations/(?P<operation_id>[^/]+)", "get_operation"),
]
COMPILED_ROUTES = [(method, re.compile(pattern + "$"), name) for method, pattern, name in ROUTES]


def paginate(items: list[dict], query: dict, key: str, cursor_field: str) -> dict:
    """Cursor pagination: the cursor is the id of the last item of the previous page."""
    try:
        limit = int(query.get("limit") or 100)
    except ValueError:
        raise APIError(400, "limit must be an integer") from None
    if not 1 <= limit <= 400:
        raise APIError(400, "limit must be between 1 and 400")
    cursor = query.get("cursor")
    if cursor:
        ids = [item["id"] for item in items]
        items = items[ids.index(cursor) + 1 :] if cursor in ids else []
    page = items[:limit]
    return {key: page, "pagination": {cursor_field: page[-1]["id"] if page else cursor}}


class Handler(BaseHTTPRequestHandler):
    standin: StandIn  # set on the subclass made by `serve`
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - quiet unless debugging
        if os.environ.get("NEON_STANDIN_VERBOSE"):
            super().log_message(format, *args)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    def _send(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        path = urlsplit(self.path).path
        self.standin.request_log.append((self.command, path, status))

    def _error(self, status: int, message: str, code: str = "") -> None:
        self._send(status, {"request_id": str(uuid.uuid4()), "code": code, "message": message})

    def _read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise APIError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise APIError(400, "request body must be a JSON object")
        return body

    def _handle(self, method: str) -> None:
        standin = self.standin
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        try:
            body = self._read_json() if method == "POST" else {}
            if parts.path == "/_standin/faults" and method == "POST":
                self._check_auth()
                self._configure_faults(body)
                return self._send(200, {"ok": True})
            if not parts.path.startswith(API_PREFIX):
                raise APIError(404, "not found")
            path = parts.path[len(API_PREFIX) :].rstrip("/") or "/"
            self._check_auth()
            if standin.delay_seconds:
                time.sleep(standin.delay_seconds)
            fault = standin.take_fault(method, path)
            if fault and fault.get("delay"):
                time.sleep(fault["delay"])  # a slow answer; the call then proceeds normally
            elif fault:
                raise APIError(
                    fault["status"], f"injected {fault['status']} from the stand-in", fault["code"]
                )
            for route_method, pattern, name in COMPILED_ROUTES:
                match = pattern.match(path)
                if match and route_method == method:
                    status, result = self._dispatch(name, match.groupdict(), query, body)
                    return self._send(status, result)
            raise APIError(404, "not found")
        except APIError as exc:
            self._error(exc.status, exc.message, exc.code)
        except psycopg.Error as exc:
            self._error(500, f"stand-in database error: {type(exc).__name__}")

    def _check_auth(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.standin.api_key}":
            raise APIError(401, "authentication required")

    def _configure_faults(self, body: dict) -> None:
        if "delay_seconds" in body:
            self.standin.slow(float(body["delay_seconds"]))
        if body.get("status"):
            self.standin.fail_next(
                int(body["status"]), int(body.get("times", 1)), str(body.get("path_contains", ""))
            )

    def _dispatch(self, name: str, args: dict, query: dict, body: dict) -> tuple[int, dict]:
        s = self.standin
        with s.lock:
            pid = args.get("project_id")
            if name == "list_projects":
                return 200, paginate(list(s.state["projects"].values()), query, "projects", "cursor")
            if name == "get_project":
                return 200, {"project": s.project(pid)}
            if name == "list_branches":
                s.project(pid)
                result = paginate(s.branches_of(pid), query, "branches", "next")
                result["branches"] = s.public_branches(result["branches"])
                return 200, result
            if name == "get_branch":
                return 200, {"branch": s.public_branch(s.branch(pid, args["branch_id"]))}
            if name == "create_branch":
                return 201, s.create_branch(pid, body)
            if name == "delete_branch":
                return 200, s.delete_branch(pid, args["branch_id"])
            if name == "restore_branch":
                return 200, s.restore_branch(pid, args["branch_id"], body)
            if name == "list_endpoints":
                s.project(pid)
                return 200, {"endpoints": s.endpoints_of(pid)}
            if name == "get_endpoint":
                return 200, {"endpoint": s.endpoint(pid, args["endpoint_id"])}
            if name == "endpoint_action":
                state = "idle" if args["verb"] == "suspend" else "active"
                restart = args["verb"] == "restart"
                return 200, s.set_endpoint_state(pid, args["endpoint_id"], state, restart=restart)
            if name == "connection_uri":
                return 200, s.connection_uri(pid, query)
            if name == "get_operation":
                s.project(pid)
                op = s.state["operations"].get(args["operation_id"])
                if op is None or op["project_id"] != pid:
                    raise APIError(404, "operation not found")
                return 200, {"operation": op}
        # Slow calls (pg_dump) run outside the state lock.
        if name == "compare_schema":
            return 200, s.compare_schema(pid, args["branch_id"], query)
        if name == "branch_schema":
            return 200, s.branch_schema(pid, args["branch_id"], query)
        raise APIError(404, "not found")


CANCEL_REQUEST = 80877102


def _startup_database(packet: bytes) -> str:
    """The `database` (or else `user`) parameter of a Postgres startup packet."""
    parts = packet[8:].split(b"\0")
    params = dict(zip(parts[0::2], parts[1::2], strict=False))
    return (params.get(b"database") or params.get(b"user") or b"").decode(errors="replace")


class ComputeProxy:
    """Neon's proxy in front of the computes, on one local port for all endpoints.

    It reads the startup packet to learn the database (the branch), records the
    attempt with the compute's state at that moment, fails the first connections
    after a start with Neon's cold-start error, and otherwise forwards to the
    local server, which refuses the databases of suspended computes.
    """

    def __init__(self, standin: StandIn):
        self.standin = standin
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _handle(self, conn: socket.socket) -> None:
        try:
            while True:
                header = recv_exact(conn, 8)
                length, code = struct.unpack("!ii", header)
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    conn.sendall(b"N")  # no TLS locally; the client goes on in plain text
                    continue
                packet = header + recv_exact(conn, length - 8)
                break
            if code != CANCEL_REQUEST and self.standin.record_attempt(_startup_database(packet)):
                conn.sendall(error_response("Couldn't connect to compute node"))
                conn.close()
                return
            server = self.standin.server
            upstream = socket.create_connection((server.host, server.port), timeout=10)
            upstream.settimeout(None)
            upstream.sendall(packet)
        except (OSError, ConnectionError, struct.error):
            conn.close()
            return
        threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
        pipe(upstream, conn)


class RunningStandIn:
    """A stand-in served from a thread on 127.0.0.1 (tests) or the main thread (CLI)."""

    def __init__(self, standin: StandIn, port: int = 0, *, suspend_check_seconds: float | None = None):
        handler = type("BoundHandler", (Handler,), {"standin": standin})
        self.standin = standin
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}{API_PREFIX}/"
        self.proxy = ComputeProxy(standin)
        standin.proxy_port = self.proxy.port
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = [
            threading.Thread(target=self.proxy.serve, daemon=True, name="standin-proxy")
        ]
        if suspend_check_seconds:
            self._threads.append(
                threading.Thread(target=self._reaper, args=(suspend_check_seconds,), daemon=True)
            )

    def _reaper(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.standin.suspend_inactive()
            except psycopg.Error:
                pass

    def start(self) -> "RunningStandIn":
        self._threads.append(
            threading.Thread(target=self.httpd.serve_forever, daemon=True, name="standin-http")
        )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.proxy.close()
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Neon API stand-in backed by a local Postgres server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--db-url",
        default=os.environ.get("NEON_STANDIN_DB_URL"),
        help="admin URL of the local Postgres server (default: $NEON_STANDIN_DB_URL)",
    )
    parser.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="ID=DATABASE",
        help="stand-in project whose default branch is the existing DATABASE",
    )
    parser.add_argument("--api-key-file", required=True, help="file holding the API key clients must send")
    parser.add_argument("--state-file", help="keep branches and computes across restarts")
    parser.add_argument(
        "--cold-start-failures",
        type=int,
        default=1,
        help="connections refused with Neon's cold-start error after a compute starts",
    )
    parser.add_argument("--op-seconds", type=float, default=0.5, help="how long operations stay running")
    parser.add_argument(
        "--suspend-check-seconds",
        type=float,
        default=10.0,
        help="how often idle computes are suspended after their suspend timeout",
    )
    args = parser.parse_args(argv)
    if not args.db_url:
        parser.error("give --db-url or set NEON_STANDIN_DB_URL")
    api_key = Path(args.api_key_file).read_text().strip()
    standin = StandIn(
        args.db_url,
        api_key,
        op_seconds=args.op_seconds,
        state_file=args.state_file,
        cold_start_failures=args.cold_start_failures,
    )
    for spec in args.project:
        project_id, _, database = spec.partition("=")
        standin.add_project(project_id, database or project_id, name=f"{project_id} (local stand-in)")
    running = RunningStandIn(standin, args.port, suspend_check_seconds=args.suspend_check_seconds)
    print(f"Neon API stand-in listening on {running.base_url}", flush=True)
    try:
        for thread in running._threads:
            thread.start()
        running.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


if __name__ == "__main__":
    main()
