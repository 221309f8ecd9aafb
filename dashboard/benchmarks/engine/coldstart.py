"""Cold starts: suspend a compute, wait until it is idle, time the first connect and query.

The caller gives a small `Compute` object (Neon: the API's suspend and the endpoint's
`current_state == "idle"`) and a `connect()` that returns an open psycopg connection the
way Neon's proxy would be reached (on Neon connecting is what wakes the compute; build it
with `connector()` for the project's timeouts and cold-start retries). Each repetition:
suspend, poll `is_idle()` (bounded), then time connect and the first query. Optionally,
after the last wake, the query runs for `warmup_curve_seconds` to show how latency
settles (caches warming) second by second.

This wakes the compute on purpose, N times: only run it when a person asked for it.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

import psycopg

from dashboard.targets.connect import TargetSettings
from dashboard.targets.connect import connect as target_connect
from dashboard.targets.policy import HostPolicy

from .connection import ConnectionSettings
from .results import LatencySummary, histogram_of
from .runner import is_cancelled

MAX_REPEATS = 50


class Compute(Protocol):
    def suspend(self) -> None: ...

    def is_idle(self) -> bool: ...


class ColdStartError(Exception):
    """The measurement could not go on; the message is safe to show."""


@dataclass
class ColdStartSample:
    repetition: int
    idle_after_seconds: float  # from asking to suspend until the compute reported idle
    connect_ms: float
    first_query_ms: float
    total_ms: float


@dataclass
class WarmupPoint:
    second: int
    queries: int
    p50_ms: float
    max_ms: float


@dataclass
class ColdStartResult:
    samples: list[ColdStartSample]
    connect: LatencySummary
    first_query: LatencySummary
    total: LatencySummary
    warmup_curve: list[WarmupPoint] = field(default_factory=list)
    cancelled: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ColdStartResult":
        return cls(
            samples=[ColdStartSample(**s) for s in data["samples"]],
            connect=LatencySummary(**data["connect"]),
            first_query=LatencySummary(**data["first_query"]),
            total=LatencySummary(**data["total"]),
            warmup_curve=[WarmupPoint(**p) for p in data.get("warmup_curve", [])],
            cancelled=data.get("cancelled", False),
        )


def connector(
    settings: ConnectionSettings, retries: int = 8, policy: HostPolicy | None = None
) -> Callable[[], psycopg.Connection]:
    """connect() with the benchmark's application_name and timeouts and Neon's wake-up retries.

    With `policy`, every connect resolves the host, checks each address against the policy and
    connects to exactly those (targets.connect), like the dashboard's own connections.
    """
    target = TargetSettings(
        connect_timeout=settings.connect_timeout,
        statement_timeout_ms=settings.statement_timeout_ms,
        lock_timeout_ms=settings.lock_timeout_ms,
        application_name=settings.application_name,
        retries=retries,
        pooled=settings.pooled,
        policy=policy,
    )
    return lambda: target_connect(settings.url, target).conn


def _summary(values_ms: list[float]) -> LatencySummary:
    counts: dict[int, int] = {}
    for value in values_ms:
        us = int(value * 1000)
        counts[us] = counts.get(us, 0) + 1
    return LatencySummary.of(histogram_of(counts))


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000.0, 3)


def wait_until_idle(compute: Compute, timeout: float, poll: float, sleep, clock) -> None:
    started = clock()
    while not compute.is_idle():
        if clock() - started > timeout:
            raise ColdStartError(f"The compute did not report idle within {timeout:.0f} s after suspending.")
        sleep(poll)


def warmup_curve(conn: psycopg.Connection, query: str, seconds: int, clock) -> list[WarmupPoint]:
    points = []
    for second in range(seconds):
        timings, end = [], clock() + 1.0
        while clock() < end:
            before = clock()
            conn.execute(query).fetchall()
            timings.append(_ms(before, clock()))
        timings.sort()
        points.append(WarmupPoint(second, len(timings), timings[len(timings) // 2], timings[-1]))
    return points


def measure_cold_starts(
    compute: Compute,
    connect: Callable[[], psycopg.Connection],
    *,
    repeats: int = 5,
    query: str = "SELECT 1",
    idle_timeout_seconds: float = 60.0,
    poll_seconds: float = 0.5,
    warmup_curve_seconds: int = 0,
    cancel=None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.perf_counter,
) -> ColdStartResult:
    if not 1 <= repeats <= MAX_REPEATS:
        raise ColdStartError(f"Repetitions must be from 1 to {MAX_REPEATS}.")
    samples, curve, cancelled = [], [], False
    for repetition in range(repeats):
        if is_cancelled(cancel):
            cancelled = True
            break
        asked = clock()
        compute.suspend()
        wait_until_idle(compute, idle_timeout_seconds, poll_seconds, sleep, clock)
        idle_after = clock() - asked
        before = clock()
        conn = connect()
        try:
            connected = clock()
            conn.execute(query).fetchall()
            answered = clock()
            if repetition == repeats - 1 and warmup_curve_seconds:
                curve = warmup_curve(conn, query, warmup_curve_seconds, clock)
        finally:
            conn.close()
        samples.append(
            ColdStartSample(
                repetition=repetition,
                idle_after_seconds=round(idle_after, 3),
                connect_ms=_ms(before, connected),
                first_query_ms=_ms(connected, answered),
                total_ms=_ms(before, answered),
            )
        )
    return ColdStartResult(
        samples=samples,
        connect=_summary([s.connect_ms for s in samples]),
        first_query=_summary([s.first_query_ms for s in samples]),
        total=_summary([s.total_ms for s in samples]),
        warmup_curve=curve,
        cancelled=cancelled,
    )
