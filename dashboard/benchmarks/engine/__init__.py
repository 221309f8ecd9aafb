"""The benchmark engine: pgbench's workloads with real percentiles, cold starts, sound comparisons.

Plain Python, no Django (it imports only `dashboard.targets` for URL parsing and
connection error messages). The Django area builds on these calls:

Workloads (workloads.py, script/)
    builtin_script("tpcb-like@2") / parse_script(text, name=, weight=)  -> Script
        pgbench's built-ins with their exact texts, or a custom script in pgbench's
        language subset (\\set with random, random_gaussian, random_exponential,
        random_zipfian and arithmetic; \\sleep; several statements per transaction).
        Bad scripts raise ScriptError("<name> line N: ...") before anything runs.
    initialise(conn, scale, schema="neon_ops_bench") / drop_schema(conn, schema)
        pgbench -i's tables and rows (branches = scale, tellers = 10x, accounts = 100,000x)
        in one schema; on plain Postgres run write workloads there and drop it afterwards.
    BUILTINS[name].writes tells whether a built-in writes (select-only does not).

Running (runner.py, connection.py)
    settings = ConnectionSettings(url, pooled=False, search_path="neon_ops_bench",
                                  connect_timeout=10, statement_timeout_ms=30000, lock_timeout_ms=5000,
                                  hostaddr=("203.0.113.7",))
        pooled vs direct is the URL the caller picks; every connection sets
        application_name "neon-ops-dashboard-bench" and the timeouts. `hostaddr`: the
        addresses the caller's host policy accepted; every worker connection goes to exactly
        these and never resolves the name again.
    config = RunConfig(settings, scripts=(...), clients=8, duration_seconds=60, warmup_seconds=5,
                       rate=None | tps, protocol="prepared" | "simple", reconnect=False,
                       max_tries=1, processes=None, scale=1, seed=None)
    result = run(config, progress=callable(Progress), cancel=Event | callable) -> RunResult
        Raises RunError (safe message) for bad settings, refused connections and script
        errors. `progress` gets one Progress per second (the TimelinePoint plus cumulative
        counts) from the calling thread; `cancel` is polled ~10 times a second and stops
        the run within about a second (result.cancelled). Worker processes are plain
        subprocesses, so run() also works inside a Celery prefork worker.

Results (results.py)
    RunResult: tps, transactions, failed_transactions, errors_by_sqlstate, retries,
    latency (LatencySummary: mean, stddev, min, p50, p90, p95, p99, p99.9, max in ms),
    latency_histogram (encoded HDR: decode() + histogram_buckets() for a chart),
    initial_connections / reconnections (LatencySummary), schedule lag, timeline
    (TimelinePoint per second: tps, p50, p99, errors, retries, warmup flag).
    result.to_dict() is JSON; RunResult.from_dict() reads it back.

Comparing (compare.py)
    compare_runs(a, b, metric="tps" | "p50" | "p99", threshold=0.05) -> Comparison
        bootstrap interval of the relative change over per-second samples (block bootstrap);
    compare_repeats(a_runs, b_runs, metric) for N interleaved repetitions A, B, A, B...
        Comparison.significant only when the interval excludes 0 and |change| >= threshold;
        verdict "better" / "worse" / "no significant change".

Cold starts (coldstart.py)
    measure_cold_starts(compute, connect, repeats=5, query="SELECT 1",
                        idle_timeout_seconds=60, warmup_curve_seconds=0, cancel=None)
        -> ColdStartResult (samples, connect / first_query / total summaries, warm-up curve).
        `compute` has suspend() and is_idle() (the Neon API); `connect()` returns a psycopg
        connection (connector(settings, policy=HostPolicy) gives one with the benchmark's
        settings and Neon's wake-up retries, the host checked and pinned at every connect).
        This wakes the compute on purpose: only when a person asked.
"""

from .coldstart import ColdStartError, ColdStartResult, connector, measure_cold_starts
from .compare import Comparison, compare_repeats, compare_runs, compare_samples
from .connection import APPLICATION_NAME, ConnectionSettings
from .results import LatencySummary, Progress, RunResult, TimelinePoint, decode, histogram_buckets
from .runner import RunConfig, RunError, run
from .script import Script, ScriptError, parse_script
from .workloads import BUILTINS, DEFAULT_SCHEMA, builtin_script, detect_scale, drop_schema, initialise

__all__ = [
    "APPLICATION_NAME",
    "BUILTINS",
    "DEFAULT_SCHEMA",
    "ColdStartError",
    "ColdStartResult",
    "Comparison",
    "ConnectionSettings",
    "LatencySummary",
    "Progress",
    "RunConfig",
    "RunError",
    "RunResult",
    "Script",
    "ScriptError",
    "TimelinePoint",
    "builtin_script",
    "compare_repeats",
    "compare_runs",
    "compare_samples",
    "connector",
    "decode",
    "detect_scale",
    "drop_schema",
    "histogram_buckets",
    "initialise",
    "measure_cold_starts",
    "parse_script",
    "run",
]
