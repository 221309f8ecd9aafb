"""Running a benchmark: worker processes over the clients, merged into one RunResult.

`run(config, progress=..., cancel=...)` starts `processes` worker subprocesses (default:
one per CPU, at most one per client), hands each its clients, waits until every client
is connected (connection times are reported apart, like pgbench's "initial connection
time"), starts them all at one instant, merges their per-second frames while they run
and returns when the duration is over or `cancel` says stop (within about a second).
"""

import os
import pickle
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .client import ClientPlan
from .connection import ConnectionSettings
from .results import Aggregator, LatencySummary, Progress, RunResult, encode, histogram_of
from .script import Script, ScriptError
from .worker import STOP_GRACE_NS, WorkerPlan, write_frame

MAX_CLIENTS = 1000
PROTOCOLS = ("simple", "prepared")
READY_TIMEOUT_EXTRA_SECONDS = 30
PROJECT_ROOT = Path(__file__).resolve().parents[3]


class RunError(Exception):
    """A run that could not start or finish; the message is safe to show (no secrets)."""


@dataclass(frozen=True)
class RunConfig:
    """What to run. Scripts come from workloads.builtin_script() or script.parse_script().

    `rate` is the total target in transactions per second (open loop; None: as fast as
    possible). `protocol` "prepared" prepares each statement once per connection (pgbench
    -M prepared); "simple" sends each statement with its parameters unprepared (the
    extended protocol with an unnamed statement, like pgbench -M extended: values are
    always bind parameters, never pasted into the SQL). `max_tries` > 1 retries
    serialization failures and deadlocks like pgbench --max-tries.
    """

    connection: ConnectionSettings
    scripts: tuple[Script, ...]
    clients: int = 1
    duration_seconds: float = 10.0
    warmup_seconds: int = 0
    rate: float | None = None
    protocol: str = "prepared"
    reconnect: bool = False
    max_tries: int = 1
    processes: int | None = None
    scale: int = 1
    variables: dict = field(default_factory=dict)
    seed: int | None = None

    def validate(self) -> None:
        problems = []
        if not self.scripts:
            problems.append("choose at least one script")
        elif sum(s.weight for s in self.scripts) <= 0:
            problems.append("at least one script needs a weight above 0")
        if not isinstance(self.clients, int) or not 1 <= self.clients <= MAX_CLIENTS:
            problems.append(f"clients must be from 1 to {MAX_CLIENTS}")
        if not self.duration_seconds or self.duration_seconds <= 0:
            problems.append("duration must be above 0 seconds")
        if not isinstance(self.warmup_seconds, int) or self.warmup_seconds < 0:
            problems.append("warm-up must be a whole number of seconds >= 0")
        if self.rate is not None and self.rate <= 0:
            problems.append("the target rate must be above 0 transactions per second")
        if self.protocol not in PROTOCOLS:
            problems.append("protocol must be simple or prepared")
        if not isinstance(self.max_tries, int) or self.max_tries < 1:
            problems.append("max tries must be 1 or more")
        if self.processes is not None and not 1 <= self.processes <= max(self.clients, 1):
            problems.append("processes must be from 1 to the number of clients")
        if problems:
            raise RunError("; ".join(problems).capitalize() + ".")

    def process_count(self) -> int:
        return self.processes or max(1, min(self.clients, os.cpu_count() or 1))


def is_cancelled(cancel) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):  # threading or multiprocessing Event
        return cancel.is_set()
    return bool(cancel())


class _Worker:
    def __init__(self, index: int, plan: WorkerPlan):
        self.index = index
        self.stderr = tempfile.TemporaryFile()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "dashboard.benchmarks.engine.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            cwd=PROJECT_ROOT,
        )
        write_frame(self.proc.stdin.fileno(), plan)
        self.buffer = b""
        self.done = False

    @property
    def fd(self) -> int:
        return self.proc.stdout.fileno()

    def stop(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()  # EOF is the stop signal
            except BrokenPipeError:
                pass

    def crash_text(self) -> str:
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit status {self.proc.poll()}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.stderr.close()


def _split_clients(clients: int, processes: int) -> list[list[int]]:
    return [list(range(p, clients, processes)) for p in range(processes)]


def _plans(config: RunConfig) -> list[WorkerPlan]:
    connection = config.connection
    variables = {"scale": config.scale, **config.variables}
    plan = ClientPlan(
        scripts=list(config.scripts),
        conninfo=connection.conninfo(),
        session_statements=connection.session_statements(),
        prepared=config.protocol == "prepared",
        reconnect=config.reconnect,
        max_tries=config.max_tries,
        variables=variables,
    )
    seed = config.seed if config.seed is not None else int.from_bytes(os.urandom(4), "big")
    groups = _split_clients(config.clients, config.process_count())
    return [
        WorkerPlan(
            worker=i,
            client_ids=ids,
            plan=plan,
            seed=seed + i,
            rate_per_second=config.rate * len(ids) / config.clients if config.rate else None,
        )
        for i, ids in enumerate(groups)
    ]


def run(
    config: RunConfig,
    *,
    progress: Callable[[Progress], None] | None = None,
    cancel=None,
) -> RunResult:
    """Run the benchmark; raises RunError (bad config, connection refused, script error)."""
    config.validate()
    try:
        plans = _plans(config)
    except (ScriptError, ValueError) as exc:
        raise RunError(str(exc)) from None
    workers = [_Worker(i, p) for i, p in enumerate(plans)]
    try:
        return _Session(config, workers, progress, cancel).run()
    finally:
        for worker in workers:
            worker.stop()
        for worker in workers:
            worker.kill()


class _Session:
    def __init__(self, config, workers, progress, cancel):
        self.config = config
        self.workers = workers
        self.progress = progress
        self.cancel = cancel
        self.cancelled = False
        self.selector = selectors.DefaultSelector()
        for worker in workers:
            self.selector.register(worker.fd, selectors.EVENT_READ, worker)
        self.aggregator = Aggregator(len(workers), len(config.scripts), config.warmup_seconds)
        self.initial_connects: list[int] = []
        self.ready = 0

    def run(self) -> RunResult:
        ready_timeout = (
            self.config.connection.connect_timeout * self.config.clients + READY_TIMEOUT_EXTRA_SECONDS
        )
        self._pump(until=lambda: self.ready == len(self.workers), timeout=ready_timeout, phase="connecting")
        if self.cancelled:
            return self._result(0.0)
        total_ns = int((self.config.warmup_seconds + self.config.duration_seconds) * 1e9)
        start_ns = time.perf_counter_ns() + 20_000_000
        for worker in self.workers:
            write_frame(worker.proc.stdin.fileno(), ("go", start_ns, start_ns + total_ns))
        self._pump(
            until=lambda: all(w.done for w in self.workers),
            timeout=total_ns / 1e9 + STOP_GRACE_NS / 1e9 + 30,
            phase="running",
        )
        self._report(self.aggregator.ready_points(final=True))
        ended = min(time.perf_counter_ns(), start_ns + total_ns)
        measured = max((ended - start_ns) / 1e9 - self.config.warmup_seconds, 0.0)
        return self._result(measured)

    def _pump(self, until, timeout: float, phase: str) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if not self.cancelled and is_cancelled(self.cancel):
                self.cancelled = True
                for worker in self.workers:
                    worker.stop()
                if phase == "connecting":
                    return
            if time.monotonic() > deadline:
                raise RunError(f"The benchmark workers did not finish {phase} in time.")
            for key, _ in self.selector.select(0.1):
                self._read(key.data)
            self._report(self.aggregator.ready_points())

    def _read(self, worker: _Worker) -> None:
        chunk = os.read(worker.fd, 1 << 16)
        if not chunk:
            self.selector.unregister(worker.fd)
            if not worker.done:
                worker.proc.wait(timeout=10)
                raise RunError(f"A benchmark worker stopped unexpectedly: {worker.crash_text()}")
            return
        worker.buffer += chunk
        while len(worker.buffer) >= 4:
            size = int.from_bytes(worker.buffer[:4], "big")
            if len(worker.buffer) < 4 + size:
                break
            frame, worker.buffer = worker.buffer[: 4 + size], worker.buffer[4 + size :]
            self._handle(worker, _unpickle(frame))

    def _handle(self, worker: _Worker, message) -> None:
        kind, body = message
        if kind == "second":
            self.aggregator.add(worker.index, body)
        elif kind == "ready":
            self.ready += 1
            self.initial_connects.extend(body)
        elif kind == "done":
            worker.done = True
            self.aggregator.finish(worker.index)
        elif kind == "fatal":
            cause, message = body
            if cause == "connect":  # libpq's text may name host and user: say it the dashboard's way
                message = self.config.connection.describe_error(message).message
            raise RunError(message)

    def _report(self, points) -> None:
        aggregator = self.aggregator
        for point in points:
            if self.progress is not None:
                measured = [p for p in aggregator.timeline if not p.warmup]
                self.progress(
                    Progress(
                        point=point,
                        elapsed_seconds=point.second + 1,
                        planned_seconds=int(self.config.warmup_seconds + self.config.duration_seconds),
                        transactions=sum(p.transactions for p in measured),
                        errors=sum(p.errors for p in measured),
                    )
                )

    def _result(self, measured: float) -> RunResult:
        config, aggregator = self.config, self.aggregator
        transactions = aggregator.latency.get_total_count()
        lag_count = max(transactions, 1)
        return RunResult(
            clients=config.clients,
            processes=len(self.workers),
            duration_seconds=config.duration_seconds,
            warmup_seconds=config.warmup_seconds,
            protocol=config.protocol,
            reconnect=config.reconnect,
            rate=config.rate,
            scripts=[
                {"name": s.name, "weight": s.weight, "transactions": n}
                for s, n in zip(config.scripts, aggregator.by_script, strict=True)
            ],
            measured_seconds=round(measured, 3),
            transactions=transactions,
            tps=round(transactions / measured, 3) if measured > 0 else 0.0,
            failed_transactions=sum(aggregator.failures.values()),
            retries=aggregator.retries,
            errors_by_sqlstate=dict(aggregator.failures),
            latency=LatencySummary.of(aggregator.latency),
            latency_histogram=encode(aggregator.latency),
            initial_connections=LatencySummary.of(histogram_of(_us_counts(self.initial_connects))),
            reconnections=LatencySummary.of(aggregator.connects),
            schedule_lag_avg_ms=round(aggregator.lag_sum_us / lag_count / 1000, 3),
            schedule_lag_max_ms=round(aggregator.lag_max_us / 1000, 3),
            timeline=list(aggregator.timeline),
            cancelled=self.cancelled,
        )


def _us_counts(nanoseconds: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for ns in nanoseconds:
        counts[ns // 1000] = counts.get(ns // 1000, 0) + 1
    return counts


def _unpickle(frame: bytes):
    return pickle.loads(frame[4:])  # noqa: S301 - frames from our own worker processes
