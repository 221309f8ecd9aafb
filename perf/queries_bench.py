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

Run: LOCAL_PG_PORT=... perf/queries_bench [--statements 5000] [--snapshots 288] [--repeat 15] [--profile]
"""

import argparse
import os
import statistics
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DASHBOARD_DB = "queries_bench_dashboard"
warnings.filterwarnings(
    "ignore", message="No directory at"
)  # whitenoise: static files are not collected here


def bench_key(kind: str) -> str:
    from cryptography.fernet import Fernet

    path = ROOT / "var" / f"bench-{kind}.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
    return path.read_text().strip()


def setup_django() -> None:
    """A dashboard database of its own, recreated per run, and production-like settings (DEBUG off)."""
    port = os.environ.get("LOCAL_PG_PORT", "54320")
    password = os.environ.get("LOCAL_PG_PASSWORD", "postgres")
    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", password=password, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DASHBOARD_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DASHBOARD_DB)))
    os.environ["DATABASE_URL"] = f"postgres://postgres:{password}@127.0.0.1:{port}/{DASHBOARD_DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-" + bench_key("secret"))
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", bench_key("fernet"))
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


HOT = 500  # statements that run in every interval; the others run in every tenth


def start_target(statements: int):
    from tests.support import embedded_pg

    server = embedded_pg.start_server(17)
    with server.connect() as conn:
        conn.execute(f"ALTER SYSTEM SET pg_stat_statements.max = {max(2 * statements, 10000)}")
    embedded_pg._as_postgres(
        [
            server.bin_dir / "pg_ctl",
            "-D",
            server.data_dir,
            "-w",
            "-m",
            "fast",
            "restart",
            "-l",
            server.data_dir / "server.log",
        ]
    )
    name = server.create_database("bench")
    return server, name


def create_tables(url: str, count: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for start in range(1, count + 1, 500):  # batches keep the lock table small
            end = min(start + 499, count)
            conn.execute(
                sql.SQL(
                    "DO $$ BEGIN FOR i IN {}..{} LOOP EXECUTE format('CREATE TABLE b_%s (id int)', i); END LOOP; END $$"
                ).format(sql.Literal(start), sql.Literal(end))
            )


def statement(i: int, value: int) -> str:
    return f"SELECT count(*) FROM b_{int(i)} WHERE id = {int(value)}"  # noqa: S608 - integers only


def run_interval(conn, ids: list[int], interval: int) -> None:
    """One simple-query round trip with one statement per id (each is its own pg_stat_statements entry)."""
    conn.execute("; ".join(statement(i, interval) for i in ids).encode())


def moving_ids(interval: int, total: int) -> list[int]:
    cold = [i for i in range(HOT + 1, total + 1) if i % 10 == interval % 10]
    return list(range(1, HOT + 1)) + cold


def profile(fn, label: str) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(fn)
    print(f"--- profile: {label}")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


def timed_ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--snapshots", type=int, default=288)
    parser.add_argument("--repeat", type=int, default=15, help="page/reference measurements (alternating)")
    parser.add_argument(
        "--profile", action="store_true", help="print where the page and collector spend time"
    )
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from dashboard.models import Membership, Project, Role, StatsSample, Team
    from dashboard.queries.collector import collect_project

    setup_test_environment()  # lets the test Client run against the bench database
    server, dbname = start_target(args.statements)
    url = server.url_for(dbname)
    try:
        team = Team.objects.create(name="Bench", slug="bench")
        project = Project.objects.create(team=team, name="Bench", slug="bench", pooled_url=url)
        user = get_user_model().objects.create_user("bench")
        Membership.objects.create(team=team, user=user, role=Role.VIEWER)

        started = time.perf_counter()
        create_tables(url, args.statements)
        with psycopg.connect(url, autocommit=True) as conn:
            for chunk in range(0, args.statements, 1000):
                run_interval(conn, list(range(chunk + 1, min(chunk + 1000, args.statements) + 1)), 0)
            entries = conn.execute(
                "SELECT count(*) FROM pg_stat_statements WHERE dbid = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()[0]
        print(
            f"setup: {args.statements} tables, {entries} pg_stat_statements entries "
            f"({time.perf_counter() - started:.1f} s)"
        )

        def read_pgss(conn):
            conn.execute("SELECT * FROM pg_stat_statements").fetchall()

        def read_pgss_fresh_connection():
            with psycopg.connect(url) as conn:
                read_pgss(conn)

        # 24 hours of 5-minute snapshots; after each, the reference on a fresh connection (same load).
        now = timezone.now()
        first = now - timedelta(minutes=5 * args.snapshots)
        collect_project(project, now=first)  # the baseline
        collect_ms, reference_ms = [], []
        with psycopg.connect(url, autocommit=True) as conn:
            for n in range(1, args.snapshots + 1):
                run_interval(conn, moving_ids(n, args.statements), n)
                t0 = time.perf_counter()
                state = collect_project(project, now=first + timedelta(minutes=5 * n))
                collect_ms.append((time.perf_counter() - t0) * 1000)
                assert state.status == "ok", state.message
                reference_ms.append(timed_ms(read_pgss_fresh_connection))
        samples = StatsSample.objects.filter(project=project).count()
        print(f"history: {args.snapshots} snapshots, {samples} samples stored")

        client = Client()
        client.force_login(user)
        page_url = "/projects/bench/queries/?window=24h"
        response = client.get(page_url)  # warm-up (connections, caches)
        assert response.status_code == 200 and b"FROM b_" in response.content
        page_ms, read_ms = [], []
        with psycopg.connect(url) as conn:
            for _ in range(args.repeat):  # alternating, so both see the same machine load
                read_ms.append(timed_ms(lambda conn=conn: read_pgss(conn)))
                page_ms.append(timed_ms(lambda: client.get(page_url)))

        if args.profile:
            profile(lambda: client.get(page_url), "page")
            with psycopg.connect(url, autocommit=True) as conn:
                run_interval(conn, moving_ids(args.snapshots + 1, args.statements), args.snapshots + 1)
            profile(lambda: collect_project(project, now=now + timedelta(minutes=1)), "collector")

        page, read = statistics.median(page_ms), statistics.median(read_ms)
        collector, reference = statistics.median(collect_ms), statistics.median(reference_ms)
        print(
            f"reference: one read of pg_stat_statements (all rows)     {read:8.1f} ms (median of {args.repeat})"
        )
        print(
            f"top-statements page, 24-hour window                     {page:8.1f} ms (median of {args.repeat})"
        )
        print(
            f"reference: connect + plain pg_stat_statements read       {reference:8.1f} ms "
            f"(median of {len(reference_ms)})"
        )
        print(
            f"collector per snapshot (connect, read, deltas, store)    {collector:8.1f} ms "
            f"(median of {len(collect_ms)})"
        )
        print(f"RATIO queries page / one pg_stat_statements read: {page / read:.2f}x (target <= 5x)")
        print(f"RATIO collector / plain pg_stat_statements read: {collector / reference:.2f}x (target <= 3x)")
    finally:
        server.stop()  # the target server is thrown away with its data; the bench dashboard DB stays


if __name__ == "__main__":
    main()
