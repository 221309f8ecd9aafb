"""Where a benchmark runs, safely, and the clean-up afterwards.

- Neon project, by default: a temporary branch created from the chosen branch, with a
  compute of its own, deleted afterwards (also after a failure, a cancel or the soft time
  limit). The chosen branch's compute is never connected to, so an idle one stays idle.
- Neon project, on the chosen branch itself: only when the person unticked the temporary
  branch (write workloads and cold starts on the default branch need an admin's explicit
  confirmation, which the form checks). An idle compute is then woken only when the person
  ticked "wake"; cold starts suspend and wake it by design, and say so.
- Plain Postgres, and a Neon branch used directly: pgbench's tables in their own schema
  (`neon_ops_bench`), dropped afterwards.
"""

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings

from dashboard.benchmarks.engine import DEFAULT_SCHEMA, ConnectionSettings, connector, drop_schema, initialise
from dashboard.benchmarks.models import BenchmarkRun
from dashboard.connections import direct_url, host_policy, open_target, read_url
from dashboard.models import NeonBranch
from dashboard.neon.client import NeonAPIError, NeonClient
from dashboard.neon.state import compute_for, compute_is_idle, resolve_branch
from dashboard.neon.sync import client_for, sync_project
from dashboard.neon.temporary import delete_branch
from dashboard.targets.connect import TargetError
from dashboard.targets.policy import allowed_addresses
from dashboard.targets.urls import InvalidURL, parse_url

log = logging.getLogger(__name__)

TEMPORARY_PREFIX = "bench-"


class TargetRefused(Exception):
    """The run may not go ahead on this target; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def chosen_branch(benchmark: BenchmarkRun) -> NeonBranch | None:
    """The branch the person chose (the default branch when none), or None on plain Postgres."""
    return resolve_branch(benchmark.project, benchmark.branch_id or None)


def parent_branch(project, branch: NeonBranch | None) -> NeonBranch | None:
    if branch is None or not branch.parent_id:
        return None
    return NeonBranch.objects.filter(project=project, branch_id=branch.parent_id).first()


class NeonCompute:
    """The engine's Compute protocol (suspend, is_idle) over the Neon API, for cold starts."""

    def __init__(self, client: NeonClient, project, endpoint_id: str, phase: Callable[[str], None]):
        self.client, self.project_id, self.endpoint_id = client, project.neon_project_id, endpoint_id
        self.phase = phase
        self.suspends = 0

    def _wait(self, answer: dict) -> None:
        self.client.wait_for_operations(
            self.project_id, answer.get("operations") or [], timeout=settings.NEON_OPERATION_TIMEOUT
        )

    def suspend(self) -> None:
        self.suspends += 1
        self.phase(f"Cold start {self.suspends}: suspending the compute")
        self._wait(self.client.suspend_endpoint(self.project_id, self.endpoint_id))

    def is_idle(self) -> bool:
        return self.client.get_endpoint(self.project_id, self.endpoint_id).get("current_state") == "idle"

    def start(self) -> None:
        self._wait(self.client.start_endpoint(self.project_id, self.endpoint_id))

    def waking(self, connect: Callable):
        """connect() preceded by asking Neon to start the compute (what Neon's proxy does on connect)."""

        def start_then_connect():
            self.phase(f"Cold start {self.suspends}: waking the compute and connecting")
            self.start()
            return connect()

        return start_then_connect


@dataclass
class Target:
    """What the run connects to: the engine's connection settings (and, for cold starts, the compute)."""

    settings: ConnectionSettings
    compute: NeonCompute | None = None

    def connect(self):
        return connector(self.settings, policy=host_policy())()


@contextmanager
def prepared_target(benchmark: BenchmarkRun, phase: Callable[[str], None], cancelled: Callable[[], bool]):
    """Yield the Target for the benchmark, cleaning up after the block however it ends."""
    project = benchmark.project
    if not project.is_neon:
        with _own_tables(benchmark, None, phase, cancelled):
            yield Target(_connection(benchmark, None))
        return
    branch = chosen_branch(benchmark)
    if branch is None:
        raise TargetRefused("The chosen branch is no longer known to the dashboard; sync the branches first.")
    with client_for(project) as client:
        if benchmark.use_temporary_branch:
            with _temporary_branch(client, benchmark, branch, phase) as temporary:
                yield from _on_branch(client, benchmark, temporary, phase, cancelled, keep_tables=True)
        else:
            _wake_if_asked(client, benchmark, branch, phase)
            yield from _on_branch(client, benchmark, branch, phase, cancelled, keep_tables=False)


def _on_branch(client, benchmark, branch, phase, cancelled, *, keep_tables: bool) -> Iterator[Target]:
    """The Target on `branch`: cold starts get its compute; other workloads pgbench's tables."""
    if benchmark.is_cold_start:
        compute = compute_for(benchmark.project, branch)
        if compute is None:
            raise TargetRefused(f"Branch {branch.name} has no compute to measure.")
        yield Target(
            _connection(benchmark, branch), NeonCompute(client, benchmark.project, compute.endpoint_id, phase)
        )
        return
    with _own_tables(benchmark, branch, phase, cancelled, drop=not keep_tables):
        yield Target(_connection(benchmark, branch))


def _wake_if_asked(client: NeonClient, benchmark: BenchmarkRun, branch: NeonBranch, phase) -> None:
    """Never wake an idle compute unless the person asked (cold starts wake it by design)."""
    if benchmark.is_cold_start or not compute_is_idle(benchmark.project, branch):
        return
    compute = compute_for(benchmark.project, branch)
    if not benchmark.wake_compute or compute is None:
        raise TargetRefused(
            f"The compute of branch {branch.name} is idle (suspended). A benchmark does not wake it unless "
            "you tick “Wake the compute” when starting it."
        )
    phase(f"Waking the compute of branch {branch.name} (asked for)")
    answer = client.start_endpoint(benchmark.project.neon_project_id, compute.endpoint_id)
    client.wait_for_operations(
        benchmark.project.neon_project_id,
        answer.get("operations") or [],
        timeout=settings.NEON_OPERATION_TIMEOUT,
    )
    sync_project(benchmark.project, client)


@contextmanager
def _temporary_branch(client: NeonClient, benchmark: BenchmarkRun, parent: NeonBranch, phase):
    """A branch of `parent` for this run only; deleted when the block ends, however it ends."""
    project = benchmark.project
    pid = project.neon_project_id
    name = f"{TEMPORARY_PREFIX}{benchmark.pk}-{secrets.token_hex(3)}"
    phase(f"Creating temporary branch {name} from {parent.name}")
    answer = client.create_branch(pid, parent_id=parent.branch_id, name=name)
    branch_id = answer["branch"]["id"]
    BenchmarkRun.objects.filter(pk=benchmark.pk).update(temporary_branch_id=branch_id)
    benchmark.temporary_branch_id = branch_id
    try:
        client.wait_for_operations(
            pid, answer.get("operations") or [], timeout=settings.NEON_OPERATION_TIMEOUT
        )
        sync_project(project, client)
        temporary = NeonBranch.objects.filter(project=project, branch_id=branch_id).first()
        if temporary is None:
            raise TargetRefused("The temporary branch did not appear in Neon's branch list.")
        yield temporary
    finally:
        phase(f"Deleting temporary branch {name}")
        delete_temporary_branch(client, benchmark, branch_id)


def delete_temporary_branch(client: NeonClient, benchmark: BenchmarkRun, branch_id: str) -> None:
    """Delete the run's temporary branch (gone already counts as deleted); a failure is noted on the run."""
    error = delete_branch(client, benchmark.project.neon_project_id, branch_id)
    if error:
        note_branch_left(benchmark, branch_id, error)
        return
    BenchmarkRun.objects.filter(pk=benchmark.pk).update(temporary_branch_deleted=True)
    try:
        sync_project(benchmark.project, client)
    except NeonAPIError as exc:  # deleted all the same; the next periodic sync drops it from the list
        log.warning(
            "Branch list not refreshed after deleting benchmark %s's branch: %s", benchmark.pk, exc.message
        )


def note_branch_left(benchmark: BenchmarkRun, branch_id: str, reason: str) -> None:
    _note_cleanup(benchmark, f"The temporary branch {branch_id} could not be deleted ({reason}); "
                             "delete it on the Branches page.")  # fmt: skip


@contextmanager
def _own_tables(benchmark: BenchmarkRun, branch, phase, cancelled, *, drop: bool = True):
    """pgbench's tables in schema neon_ops_bench for the block; dropped afterwards unless `drop` is False."""
    project = benchmark.project
    if not cancelled():
        phase(f"Creating pgbench's tables (scale {benchmark.scale}) in schema {DEFAULT_SCHEMA}")
        try:
            with _setup_connection(project, branch) as target:
                initialise(target.conn, benchmark.scale)
        except Exception:
            if drop:
                _drop_tables(benchmark, branch)
            raise
    try:
        yield
    finally:
        if drop:
            phase(f"Dropping schema {DEFAULT_SCHEMA}")
            _drop_tables(benchmark, branch)


def _setup_connection(project, branch):
    return open_target(project, branch, direct=True, statement_timeout_ms=settings.BENCHMARK_SETUP_TIMEOUT_MS)


def _drop_tables(benchmark: BenchmarkRun, branch) -> None:
    try:
        with _setup_connection(benchmark.project, branch) as target:
            drop_schema(target.conn)
    except TargetError as exc:
        _note_cleanup(
            benchmark, f"Schema {DEFAULT_SCHEMA} could not be dropped ({exc.message}); drop it by hand."
        )


def _note_cleanup(benchmark: BenchmarkRun, message: str) -> None:
    log.warning("Benchmark %s clean-up: %s", benchmark.pk, message)
    BenchmarkRun.objects.filter(pk=benchmark.pk).update(cleanup_error=message[:1000])


def _connection(benchmark: BenchmarkRun, branch) -> ConnectionSettings:
    """The engine's settings for the pooled or direct URL of `branch`, checked against the host policy.

    The engine's worker processes connect to exactly the addresses checked here (hostaddr).
    """
    pooled = benchmark.connection == "pooled"
    project = benchmark.project
    try:
        url = read_url(project, branch) if pooled else direct_url(project, branch)
        addresses = allowed_addresses(parse_url(url), host_policy())
    except InvalidURL as exc:
        raise TargetRefused(str(exc)) from None
    return ConnectionSettings(
        url,
        hostaddr=tuple(str(address) for address in addresses),
        pooled=pooled,
        search_path=DEFAULT_SCHEMA,
        connect_timeout=settings.TARGET_CONNECT_TIMEOUT,
        statement_timeout_ms=settings.BENCHMARK_STATEMENT_TIMEOUT_MS,
        lock_timeout_ms=settings.TARGET_LOCK_TIMEOUT_MS,
    )
