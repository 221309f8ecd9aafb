"""Benchmark of statement history: 5,000 distinct statements, 24 hours of 5-minute snapshots.

Prints two ratios against references measured in the same run on the same server:
- top-statements page (24-hour window, rendered by Django) / one read of pg_stat_statements
  (`SELECT * FROM pg_stat_statements`, all rows fetched)                          target <= 5x
- collector time per snapshot (connect, read, deltas, store) / a plain
  `SELECT * FROM pg_stat_statements` on a fresh connection                        target <= 3x

The target is a throwaway Postgres 17 server (tests/support/embedded_pg.py) with
pg_stat_statements.max = 10000, so 5,000 statements fit without eviction. The
dashboard database is the local one (LOCAL_PG_PORT). Each 5-minute interval runs
a hot set of 500 statements plus a rotating tenth of the others (about 950
statements move per interval); snapshot times are spread over the last 24 hours.

Run: LOCAL_PG_PORT=... .venv/bin/python bench/queries_bench.py [--statements 5000] [--snapshots 288]
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from psycopg import sql  # noqa: E402

from dashboard.models import Membership, Project, Role, Team  # noqa: E402
from dashboard.models.queries import StatsSample  # noqa: E402
from dashboard.queries.collector import collect_project  # noqa: E402
from tests.support import embedded_pg  # noqa: E402

HOT = 500


def start_target(statements: int):
    server = embedded_pg.start_server(17)
    with server.connect() as conn:
        conn.execute(f"ALTER SYSTEM SET pg_stat_statements.max = {max(2 * statements, 10000)}")
    embedded_pg._as_postgres([server.bin_dir / "pg_ctl", "-D", server.data_dir, "-w", "-m", "fast", "restart",
                              "-l", server.data_dir / "server.log"])
    name = server.create_database("bench")
    return server, name


def create_tables(url: str, count: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for start in range(1, count + 1, 500):  # batches keep the lock table small
            end = min(start + 499, count)
            conn.execute(sql.SQL(
                "DO $$ BEGIN FOR i IN {}..{} LOOP EXECUTE format('CREATE TABLE b_%s (id int)', i); END LOOP; END $$"
            ).format(sql.Literal(start), sql.Literal(end)))


def statement(i: int, value: int) -> str:
    return f"SELECT count(*) FROM b_{int(i)} WHERE id = {int(value)}"  # noqa: S608 - integers only


def run_interval(conn, ids: list[int], interval: int) -> None:
    """One simple-query round trip with one statement per id (each is its own pg_stat_statements entry)."""
    conn.execute("; ".join(statement(i, interval) for i in ids).encode())


def moving_ids(interval: int, total: int) -> list[int]:
    cold = [i for i in range(HOT + 1, total + 1) if i % 10 == interval % 10]
    return list(range(1, HOT + 1)) + cold


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def profile(fn, label: str) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(fn)
    print(f"--- profile: {label}")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--snapshots", type=int, default=288)
    parser.add_argument("--profile", action="store_true", help="print where the page and collector spend time")
    args = parser.parse_args()

    server, dbname = start_target(args.statements)
    url = server.url_for(dbname)
    suffix = os.urandom(4).hex()
    team = Team.objects.create(name=f"bench-{suffix}", slug=f"bench-{suffix}")
    project = Project.objects.create(team=team, name="bench", slug=f"bench-{suffix}", pooled_url=url)
    user = get_user_model().objects.create_user(f"bench-{suffix}")
    Membership.objects.create(team=team, user=user, role=Role.VIEWER)
    try:
        started = time.perf_counter()
        create_tables(url, args.statements)
        with psycopg.connect(url, autocommit=True) as conn:
            for chunk in range(0, args.statements, 1000):
                run_interval(conn, list(range(chunk + 1, min(chunk + 1000, args.statements) + 1)), 0)
            entries = conn.execute(
                "SELECT count(*) FROM pg_stat_statements WHERE dbid = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()[0]
        print(f"setup: {args.statements} tables, {entries} pg_stat_statements entries "
              f"({time.perf_counter() - started:.1f} s)")

        now = timezone.now()
        first = now - timedelta(minutes=5 * args.snapshots)
        collect_project(project, now=first)  # the baseline
        collect_ms = []
        with psycopg.connect(url, autocommit=True) as conn:
            for n in range(1, args.snapshots + 1):
                run_interval(conn, moving_ids(n, args.statements), n)
                t0 = time.perf_counter()
                state = collect_project(project, now=first + timedelta(minutes=5 * n))
                collect_ms.append((time.perf_counter() - t0) * 1000)
                assert state.status == "ok", state.message
        samples = StatsSample.objects.filter(project=project).count()
        print(f"history: {args.snapshots} snapshots, {samples} samples stored")

        def read_pgss_fresh_connection():
            with psycopg.connect(url) as conn:
                conn.execute("SELECT * FROM pg_stat_statements").fetchall()

        with psycopg.connect(url) as conn:
            pgss_read_ms = median_ms(lambda: conn.execute("SELECT * FROM pg_stat_statements").fetchall(), 9)
        pgss_connect_read_ms = median_ms(read_pgss_fresh_connection, 9)

        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        page_url = f"/projects/{project.slug}/queries/?window=24h"
        assert client.get(page_url).status_code == 200  # warm-up (templates, connections)
        page_ms = median_ms(lambda: client.get(page_url), 9)
        collector_ms = statistics.median(collect_ms)
        if args.profile:
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as queries:
                client.get(page_url)
            for q in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:6]:
                print(f"{float(q['time']) * 1000:7.1f} ms  {q['sql'][:300]}")
            profile(lambda: client.get(page_url), "page")
            with psycopg.connect(url, autocommit=True) as conn:
                run_interval(conn, moving_ids(args.snapshots + 1, args.statements), args.snapshots + 1)
            profile(lambda: collect_project(project, now=now + timedelta(minutes=1)), "collector")

        print(f"reference: one read of pg_stat_statements (SELECT *)   {pgss_read_ms:8.1f} ms")
        print(f"reference: same on a fresh connection                  {pgss_connect_read_ms:8.1f} ms")
        print(f"top-statements page, 24 h window (median of 9)         {page_ms:8.1f} ms")
        print(f"collector per snapshot (median of {len(collect_ms)})              {collector_ms:8.1f} ms")
        page_ratio = page_ms / pgss_read_ms
        collect_ratio = collector_ms / pgss_connect_read_ms
        print(f"RATIO page / one pg_stat_statements read:      {page_ratio:5.2f}x (target <= 5x)")
        print(f"RATIO collector / plain SELECT * (connected):  {collect_ratio:5.2f}x (target <= 3x)")
        print(f"      collector / plain SELECT * (no connect): {collector_ms / pgss_read_ms:5.2f}x (for information)")
    finally:
        project.delete()
        team.delete()
        user.delete()
        server.stop()  # the target server is thrown away with its data


if __name__ == "__main__":
    main()
