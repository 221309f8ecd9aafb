"""A small client for the Neon API v2 (see docs/neon.md).

Every call has a timeout. 429 (rate limited) and 423 (locked by a running
operation) are retried with exponential backoff and jitter for every method;
5xx answers and network errors only for reads, because repeating a write whose
answer was lost could create a second branch. Errors keep the HTTP status and
Neon's `code`, `message` and `request_id`. Responses are plain dicts so fields
and enum values Neon adds later pass through untouched.
"""

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

ALWAYS_RETRIED = (429, 423)
TERMINAL_OPERATION_STATUSES = ("finished", "skipped", "cancelled")
DEFAULT_BASE_URL = "https://console.neon.tech/api/v2/"


class NeonAPIError(Exception):
    """A failed API call. `message` is Neon's text (safe to show; it never holds the key)."""

    def __init__(self, status: int | None, message: str, *, code: str = "", request_id: str = ""):
        super().__init__(f"Neon API error {status or 'network'}: {message}")
        self.status = status
        self.message = message
        self.code = code
        self.request_id = request_id

    @property
    def is_not_found(self) -> bool:
        return self.status == 404


class OperationsTimeout(NeonAPIError):
    """Operations did not reach a terminal status in time."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_seconds: float = 0.5

    def delays(self) -> Iterator[float]:
        """base, 2*base, 4*base ... each scaled by a random factor in [0.5, 1.5) (jitter)."""
        for attempt in range(self.attempts - 1):
            yield self.base_seconds * (2**attempt) * (0.5 + random.random())


def _error_from_response(response: httpx.Response) -> NeonAPIError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or response.reason_phrase or "request failed")
    return NeonAPIError(
        response.status_code,
        message[:500],
        code=str(body.get("code") or ""),
        request_id=str(body.get("request_id") or response.headers.get("x-neon-request-id", "")),
    )


class NeonClient:
    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not api_key:
            raise NeonAPIError(None, "No Neon API key is configured for this project.", code="no_api_key")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            timeout=httpx.Timeout(timeout),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
        )
        self.requests_sent = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- transport -------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, params: dict | None = None, json: dict | None = None
    ) -> dict:
        is_read = method == "GET"
        delays = self.retry.delays()
        while True:
            self.requests_sent += 1
            try:
                response = self._http.request(method, path.lstrip("/"), params=_clean(params), json=json)
            except httpx.TransportError as exc:
                delay = next(delays, None) if is_read else None
                if delay is None:
                    raise NeonAPIError(
                        None, f"Could not reach the Neon API ({type(exc).__name__})."
                    ) from None
                self._sleep(delay)
                continue
            if response.is_success:
                return response.json() if response.content else {}
            retryable = response.status_code in ALWAYS_RETRIED or (is_read and response.status_code >= 500)
            delay = next(delays, None) if retryable else None
            if delay is None:
                raise _error_from_response(response)
            self._sleep(max(delay, _retry_after(response)))

    def _paginate(
        self, path: str, key: str, *, params: dict | None = None, limit: int = 100
    ) -> Iterator[dict]:
        """Follow Neon's cursor pagination (`pagination.next` or `pagination.cursor`)."""
        params = dict(params or {}, limit=limit)
        seen_cursors = set()
        while True:
            body = self._request("GET", path, params=params)
            items = body.get(key) or []
            yield from items
            pagination = body.get("pagination") or {}
            cursor = pagination.get("next") or pagination.get("cursor")
            if not items or not cursor or len(items) < limit or cursor in seen_cursors:
                return
            seen_cursors.add(cursor)
            params["cursor"] = cursor

    # --- projects --------------------------------------------------------------------------

    def list_projects(self, *, org_id: str | None = None, limit: int = 100) -> list[dict]:
        return list(self._paginate("projects", "projects", params={"org_id": org_id}, limit=limit))

    def get_project(self, project_id: str) -> dict:
        return self._request("GET", f"projects/{project_id}")["project"]

    # --- branches --------------------------------------------------------------------------

    def list_branches(self, project_id: str, *, limit: int = 100) -> list[dict]:
        return list(self._paginate(f"projects/{project_id}/branches", "branches", limit=limit))

    def get_branch(self, project_id: str, branch_id: str) -> dict:
        return self._request("GET", f"projects/{project_id}/branches/{branch_id}")["branch"]

    def create_branch(
        self,
        project_id: str,
        *,
        parent_id: str | None = None,
        name: str | None = None,
        parent_timestamp: str | None = None,
        parent_lsn: str | None = None,
        init_source: str | None = None,
        with_compute: bool = True,
    ) -> dict:
        """Returns {branch, endpoints, operations}. init_source="schema-only" copies no data."""
        branch = _clean(
            {
                "parent_id": parent_id,
                "name": name,
                "parent_timestamp": parent_timestamp,
                "parent_lsn": parent_lsn,
                "init_source": init_source,
            }
        )
        body: dict = {"branch": branch}
        if with_compute:
            body["endpoints"] = [{"type": "read_write"}]
        return self._request("POST", f"projects/{project_id}/branches", json=body)

    def delete_branch(self, project_id: str, branch_id: str) -> dict:
        return self._request("DELETE", f"projects/{project_id}/branches/{branch_id}")

    def restore_branch(
        self,
        project_id: str,
        branch_id: str,
        *,
        source_branch_id: str,
        source_timestamp: str | None = None,
        source_lsn: str | None = None,
        preserve_under_name: str | None = None,
    ) -> dict:
        body = _clean(
            {
                "source_branch_id": source_branch_id,
                "source_timestamp": source_timestamp,
                "source_lsn": source_lsn,
                "preserve_under_name": preserve_under_name,
            }
        )
        return self._request("POST", f"projects/{project_id}/branches/{branch_id}/restore", json=body)

    def compare_schema(self, project_id: str, branch_id: str, *, base_branch_id: str, db_name: str) -> str:
        body = self._request(
            "GET",
            f"projects/{project_id}/branches/{branch_id}/compare_schema",
            params={"base_branch_id": base_branch_id, "db_name": db_name},
        )
        return body.get("diff") or ""

    def branch_schema(self, project_id: str, branch_id: str, *, db_name: str) -> str:
        """The branch's schema as SQL (Neon: GET .../schema, {"sql": ...})."""
        body = self._request(
            "GET", f"projects/{project_id}/branches/{branch_id}/schema", params={"db_name": db_name}
        )
        return body.get("sql") or ""

    # --- endpoints (computes) --------------------------------------------------------------

    def list_endpoints(self, project_id: str) -> list[dict]:
        return self._request("GET", f"projects/{project_id}/endpoints").get("endpoints") or []

    def get_endpoint(self, project_id: str, endpoint_id: str) -> dict:
        return self._request("GET", f"projects/{project_id}/endpoints/{endpoint_id}")["endpoint"]

    def start_endpoint(self, project_id: str, endpoint_id: str) -> dict:
        return self._request("POST", f"projects/{project_id}/endpoints/{endpoint_id}/start")

    def suspend_endpoint(self, project_id: str, endpoint_id: str) -> dict:
        return self._request("POST", f"projects/{project_id}/endpoints/{endpoint_id}/suspend")

    def restart_endpoint(self, project_id: str, endpoint_id: str) -> dict:
        return self._request("POST", f"projects/{project_id}/endpoints/{endpoint_id}/restart")

    def connection_uri(
        self, project_id: str, *, branch_id: str, database_name: str, role_name: str, pooled: bool
    ) -> str:
        params = {
            "branch_id": branch_id,
            "database_name": database_name,
            "role_name": role_name,
            "pooled": "true" if pooled else "false",
        }
        return self._request("GET", f"projects/{project_id}/connection_uri", params=params)["uri"]

    # --- operations ------------------------------------------------------------------------

    def get_operation(self, project_id: str, operation_id: str) -> dict:
        return self._request("GET", f"projects/{project_id}/operations/{operation_id}")["operation"]

    def wait_for_operations(
        self,
        project_id: str,
        operations: list[dict],
        *,
        timeout: float = 120.0,
        poll_seconds: float = 0.25,
        max_poll_seconds: float = 5.0,
        on_progress: Callable[[list[dict]], None] | None = None,
    ) -> list[dict]:
        """Poll until every operation is finished, skipped or cancelled.

        `failed` is not terminal: Neon may retry a failed operation, so it is
        polled like `running` until the timeout; unknown statuses likewise.
        The pause between polls starts at `poll_seconds` and doubles up to
        `max_poll_seconds`: quick operations finish fast, slow ones do not eat
        into Neon's request budget (about 700 requests a minute).
        """
        current = {op["id"]: op for op in operations}
        deadline = time.monotonic() + timeout
        while True:
            pending = [op for op in current.values() if op.get("status") not in TERMINAL_OPERATION_STATUSES]
            if on_progress is not None:
                on_progress(list(current.values()))
            if not pending:
                return list(current.values())
            if time.monotonic() >= deadline:
                states = ", ".join(f"{op.get('action', '?')}: {op.get('status', '?')}" for op in pending)
                raise OperationsTimeout(
                    None,
                    f"Neon operations did not finish in {timeout:.0f} s ({states}).",
                    code="operations_timeout",
                )
            self._sleep(min(poll_seconds, max(deadline - time.monotonic(), 0.0)))
            poll_seconds = min(poll_seconds * 2, max_poll_seconds)
            for op in pending:
                current[op["id"]] = self.get_operation(project_id, op["id"])


def _clean(values: dict | None) -> dict | None:
    if values is None:
        return None
    return {key: value for key, value in values.items() if value not in (None, "")}


def _retry_after(response: httpx.Response) -> float:
    """Honour a short Retry-After header (seconds); ignore dates and long waits."""
    try:
        return min(float(response.headers.get("retry-after", 0)), 30.0)
    except ValueError:
        return 0.0
