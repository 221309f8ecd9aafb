"""What each mutating Neon API call does to the stand-in's state and databases."""

import difflib
from datetime import UTC, datetime

from .common import DEFAULT_SUSPEND_TIMEOUT, APIError, lsn_number, now_iso, parse_timestamp
from .state import StandInState


class StandIn(StandInState):
    """The stand-in: its state (StandInState) and what each mutating API call does."""

    # --- point-in-time history (a test control) ---------------------------------------------

    def record_history_point(self, project_id: str, branch_id: str) -> dict:
        """Keep a copy of the branch as it is now, at the server's current LSN and time.

        The local server keeps no history per database, so a restore to an earlier LSN or time
        goes back to the latest point recorded at or before it; tests record the points they need.
        """
        branch = self.branch(project_id, branch_id)
        with self.lock:
            copy = f"{branch['standin_database']}__h{self._next_seq()}"
        self.server.clone(branch["standin_database"], copy)
        point = {
            "branch_id": branch_id,
            "database": copy,
            "lsn": self.server.current_lsn(),
            "time": now_iso(),
        }
        with self.lock:
            self.state.setdefault("history", []).append(point)
            self._save()
        return point

    def _history_point(self, branch_id: str, lsn: str | None, timestamp: str | None) -> dict | None:
        """The latest point of the branch at or before the LSN (or time) asked for."""
        points = [p for p in self.state.get("history", []) if p["branch_id"] == branch_id]
        if lsn:
            wanted = lsn_number(lsn)
            points = [p for p in points if lsn_number(p["lsn"]) <= wanted]
        elif timestamp:
            wanted_time = parse_timestamp(timestamp)
            points = [p for p in points if parse_timestamp(p["time"]) <= wanted_time]
        else:
            return None
        return max(points, key=lambda p: lsn_number(p["lsn"]), default=None)

    def _drop_history(self, branch_id: str) -> None:
        with self.lock:
            points = [p for p in self.state.get("history", []) if p["branch_id"] == branch_id]
            self.state["history"] = [p for p in self.state.get("history", []) if p["branch_id"] != branch_id]
        for point in points:
            self.server.drop(point["database"])

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
            self._drop_history(branch_id)
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
        if body.get("source_lsn"):
            try:
                lsn_number(body["source_lsn"])
            except ValueError:
                raise APIError(400, "source_lsn must be an LSN such as 0/16B3748") from None
        self._check_no_running_operation(project_id)
        point = (
            self._history_point(branch_id, body.get("source_lsn"), body.get("source_timestamp"))
            if source_id == branch_id
            else None
        )
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
                    source_database = point["database"] if point else backup["standin_database"]
            elif point is not None:
                self.server.drop(database)
                source_database = point["database"]
            elif source_id == branch_id:
                # No history point recorded at or before that LSN/time: the current data stays.
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
