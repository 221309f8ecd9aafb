"""Benchmark of the migration engine, each figure against a reference measured in the same run.

- apply overhead: a one-statement migration (CREATE TABLE) through `apply_migration`, connect included as a
  worker does it (connect, parse, apply lock, history, pre-flight, statement + its history row), versus
  `psql -c` running the same statement against the same server                           target <= 1.5x
- split + lint of a 2,000-statement script (pglast split, classification, our findings, squawk, mapping)
  versus running the same squawk command alone on the same file                           target <= 1.5x

The target is a throwaway database `migrations_bench_target` on the local server (LOCAL_PG_PORT), recreated
per run. psql is the local server's own (dashboard/demo/local_pg.pg_tool). Each round times the engine and
its reference back to back (which goes first alternates), so both see the same machine load; times are
medians, and each RATIO is the median of the rounds' ratios, so a burst of load elsewhere that hits a
few rounds moves it little. The 1-minute load average before and after is printed beside the figures.

Run: LOCAL_PG_PORT=... perf/migrations_bench [--repeat 31] [--statements 2000]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local_server import recreate_database, server  # noqa: E402

from dashboard.demo.local_pg import pg_tool  # noqa: E402
from dashboard.targets.connect import TargetSettings, connect  # noqa: E402
from migrations_app.engine.apply import apply_migration  # noqa: E402
from migrations_app.engine.lint import DEFAULT_DISABLED, lint_sql  # noqa: E402
from migrations_app.engine.plan import build_plan  # noqa: E402
from migrations_app.engine.squawk import squawk_command  # noqa: E402

TARGET_DB = "migrations_bench_target"


def recreate_target() -> str:
    return recreate_database(TARGET_DB)


def psql_path() -> str:
    return pg_tool("psql")


def timed_ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def paired_rounds(engine, reference, repeat: int) -> tuple[float, float, float]:
    """(median engine ms, median reference ms, median of the rounds' engine/reference ratios).

    `engine` and `reference` take the round number; each round runs both back to back, the engine first
    in even rounds and the reference first in odd ones.
    """
    engine_ms, reference_ms = [], []
    for n in range(repeat):
        pair = ((engine, engine_ms), (reference, reference_ms))
        for fn, samples in pair if n % 2 == 0 else reversed(pair):
            samples.append(timed_ms(lambda fn=fn, n=n: fn(n)))
    ratios = [e / r for e, r in zip(engine_ms, reference_ms, strict=True)]
    return statistics.median(engine_ms), statistics.median(reference_ms), statistics.median(ratios)


def load_average() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def create_statement(n: int, who: str) -> str:
    return f"CREATE TABLE bench_{who}_{n} (id bigint PRIMARY KEY, note text)"


def bench_apply(url: str, repeat: int) -> tuple[float, float, float]:
    s = server()
    env = {**os.environ, "PGPASSWORD": s["password"]}
    psql = [psql_path(), "-X", "-q", "-h", s["host"], "-p", str(s["port"]), "-U", s["user"], "-d", TARGET_DB]
    cfg = TargetSettings(application_name="neon-ops-dashboard migrations")

    def engine(n: int) -> None:
        plan = build_plan(create_statement(n, "engine"))
        conn = connect(url, cfg).conn
        try:
            result = apply_migration(conn, plan, migration_id=f"bench-{n}", checksum=plan.checksum)
            if not result.ok:
                raise SystemExit(f"apply failed: {result.message}")
        finally:
            conn.close()

    def reference(n: int) -> None:
        subprocess.run([*psql, "-c", create_statement(n, "psql")], env=env, check=True, capture_output=True)

    engine(repeat)  # warm-up: creates the history tables once, as on any target after its first migration
    reference(repeat)
    return paired_rounds(engine, reference, repeat)


def generate_script(count: int) -> str:
    """A realistic mix: tables, columns, indexes (plain and concurrent), constraints, data changes."""
    shapes = [
        "CREATE TABLE IF NOT EXISTS app.t_{i} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)",
        "ALTER TABLE app.t_{p} ADD COLUMN c_{i} integer DEFAULT 0",
        "CREATE INDEX t_{p}_c_{i} ON app.t_{p} (name)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_{p}_n_{i} ON app.t_{p} (name)",
        "ALTER TABLE app.t_{p} ADD CONSTRAINT t_{p}_fk_{i} FOREIGN KEY (id) REFERENCES app.t_0 (id) NOT VALID",
        "UPDATE app.t_{p} SET name = 'x{i}' WHERE id = {i}",
        "INSERT INTO app.t_{p} (name) VALUES ('row {i}'), ('it''s {i}')",
        "ALTER TABLE app.t_{p} ALTER COLUMN name SET NOT NULL",
        "COMMENT ON TABLE app.t_{p} IS 'table {i}; with a semicolon'",
        "ALTER TABLE app.t_{p} DROP COLUMN IF EXISTS c_{i}",
    ]
    lines = []
    for i in range(count):
        shape = shapes[i % len(shapes)] if i >= 10 else shapes[0]
        lines.append(shape.format(i=i, p=i // 10) + ";")
    return "\n".join(lines) + "\n"


def bench_lint(statements: int, repeat: int) -> tuple[float, float, float, int]:
    script = generate_script(statements)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "migration.sql"
        path.write_text(script, encoding="utf-8")
        command = squawk_command(str(path), pg_major=15, excluded=DEFAULT_DISABLED)

        def squawk_alone(_n: int = 0) -> None:
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode not in (0, 1) or not done.stdout.startswith("["):
                raise SystemExit(f"squawk failed: {done.stderr.strip()}")

        findings = len(lint_sql(script).findings)  # warm-up
        squawk_alone()
        return (*paired_rounds(lambda _n: lint_sql(script), squawk_alone, repeat), findings)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--statements", type=int, default=2000)
    args = parser.parse_args()

    url = recreate_target()
    load_before = load_average()
    apply_ms, psql_ms, apply_ratio = bench_apply(url, args.repeat)
    print(f"psql -c CREATE TABLE (reference)                 {psql_ms:8.1f} ms (median of {args.repeat})")
    print(f"apply_migration, connect included                {apply_ms:8.1f} ms (median of {args.repeat})")
    lint_ms, squawk_ms, lint_ratio, findings = bench_lint(args.statements, args.repeat)
    print(
        f"squawk alone, {args.statements} statements (reference)       {squawk_ms:8.1f} ms (median of {args.repeat})"
    )
    print(
        f"split + lint, {args.statements} statements, {findings} findings  {lint_ms:8.1f} ms (median of {args.repeat})"
    )
    print(f"1-minute load average: {load_before} before, {load_average()} after (this bench adds about 1)")
    print(f"RATIO apply vs psql -c: {apply_ratio:.2f}x (target <= 1.5x)")
    print(
        f"RATIO split+lint {args.statements} statements vs squawk alone: {lint_ratio:.2f}x (target <= 1.5x)"
    )
    return 0 if apply_ratio <= 1.5 and lint_ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
