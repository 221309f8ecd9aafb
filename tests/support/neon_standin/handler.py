"""The HTTP side: routes of the Neon API v2 and the request handler that serves them."""

import json
import os
import re
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import psycopg

from .calls import StandIn
from .common import API_PREFIX, APIError

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
        # Logged before answering: a test that counts calls right after its client got the answer
        # must find this one (logging after the write raced with the client).
        self.standin.request_log.append((self.command, urlsplit(self.path).path, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

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
