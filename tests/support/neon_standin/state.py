"""The stand-in's state: projects, branches, endpoints and operations, with test controls."""

import json
import secrets
import threading
import time
import uuid
from pathlib import Path

import psycopg

from .common import APIError, now_iso
from .databases import LocalServer


class StandInState:
    """The API state: projects, branches, endpoints, operations, test controls and persistence."""

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
