#!/usr/bin/env python
"""Schema pages with 5,000 tables: page time as a ratio to the bare catalog query for the same rows.

Builds (once; reused on later runs, --rebuild to start over) a target database of 5,000
tables with 10 columns, 2 indexes and a foreign key each, takes a schema snapshot through
the real introspection, then times in the same run:

  overview   GET /projects/<slug>/schema/            vs the catalog query returning that page of
                                                     relations (kind, rows, size, counts) and the total
  table      GET /projects/<slug>/schema/public/t_02500/  vs the catalog queries returning that
                                                     table's facts and statistics, triggers, columns,
                                                     constraints (both directions) and indexes

Each figure is the median of --repeat runs after a warm-up; a page and its reference are timed
alternately so both see the same machine load. Target: page / reference <= 3.

Run from the repository root with the local services up (make services):
    LOCAL_PG_PORT=... .venv/bin/python perf/schema_bench.py [--tables 5000] [--repeat 30] [--rebuild]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_DB = "schema_bench_target"
DASHBOARD_DB = "schema_bench_dashboard"
TARGET_RATIO = 3.0
STORE_TARGET_RATIO = 2.0

# The same rows the overview shows for its first page: kind, estimated rows, total size and counts.
# The page of relations is chosen first, so sizes and counts are computed for those 50 rows only:
# the fastest way we know to get these rows from the catalog.
OVERVIEW_REFERENCE_SQL = """
WITH page AS (
    SELECT c.oid, n.nspname, c.relname, c.relkind, c.relispartition, c.reltuples
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%'
    ORDER BY n.nspname, c.relname
    LIMIT 50
)
SELECT p.nspname, p.relname, p.relkind, p.relispartition, p.reltuples::bigint, pg_total_relation_size(p.oid),
       (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = p.oid AND a.attnum > 0 AND NOT a.attisdropped),
       (SELECT count(*) FROM pg_index i WHERE i.indrelid = p.oid),
       (SELECT count(*) FROM pg_constraint k WHERE k.conrelid = p.oid AND k.contype <> 'n'),
       (SELECT count(*) FROM pg_constraint k WHERE k.conrelid = p.oid AND k.contype = 'f'),
       coalesce(incoming.n, 0)
FROM page p
-- pg_constraint has no index on confrelid: one pass over it beats a lookup per row
LEFT JOIN (SELECT confrelid, count(*) AS n FROM pg_constraint WHERE contype = 'f' GROUP BY confrelid) incoming
       ON incoming.confrelid = p.oid
ORDER BY p.nspname, p.relname
"""
OVERVIEW_COUNT_SQL = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%'
"""
TABLE_REFERENCE_SQL = (
    """SELECT c.relname, c.relkind, c.reltuples::bigint, pg_relation_size(c.oid),
              CASE WHEN c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) END,
              obj_description(c.oid, 'pg_class'), s.n_live_tup, s.n_dead_tup, s.seq_scan, s.idx_scan,
              s.last_analyze, s.last_vacuum
       FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = %(oid)s""",
    """SELECT tgname, pg_get_triggerdef(oid, true) FROM pg_trigger WHERE tgrelid = %(oid)s AND NOT tgisinternal""",
    """SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = %(oid)s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
    """SELECT conname, contype, pg_get_constraintdef(oid, true) FROM pg_constraint
       WHERE conrelid = %(oid)s OR confrelid = %(oid)s ORDER BY conname""",
    """SELECT c.relname, pg_get_indexdef(i.indexrelid), pg_relation_size(i.indexrelid), s.idx_scan
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
       WHERE i.indrelid = %(oid)s ORDER BY c.relname""",
)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tables", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--store-repeat", type=int, default=3, help="rounds of introspection and storing")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the target database")
    return parser.parse_args()


def bench_key(kind: str) -> str:
    from cryptography.fernet import Fernet

    path = ROOT / "var" / f"bench-{kind}.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
    return path.read_text().strip()


def setup_django():
    port = os.environ.get("LOCAL_PG_PORT", "54320")
    password = os.environ.get("LOCAL_PG_PASSWORD", "postgres")
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres:{password}@127.0.0.1:{port}/{DASHBOARD_DB}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Production-like: DEBUG off (cached templates, no query log). That needs real keys; the
    # bench keeps its own encryption key under var/ so its project row stays readable across runs.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-" + bench_key("secret"))
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", bench_key("fernet"))
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    # The target lives on the same local server as the bench's dashboard database.
    os.environ.setdefault("TARGET_ALLOW_DASHBOARD_SERVER", "1")
    import django

    _ensure_database(DASHBOARD_DB)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _admin(dbname="postgres"):
    import psycopg

    port = int(os.environ.get("LOCAL_PG_PORT", "54320"))
    password = os.environ.get("LOCAL_PG_PASSWORD", "postgres")
    return psycopg.connect(host="127.0.0.1", port=port, user="postgres", password=password, dbname=dbname,
                           autocommit=True)  # fmt: skip


def _ensure_database(name: str, *, drop: bool = False) -> bool:
    """True when the database was (re)created."""
    from psycopg import sql

    with _admin() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    return False


def build_target(tables: int, rebuild: bool) -> None:
    from psycopg import sql

    created = _ensure_database(TARGET_DB, drop=rebuild)
    with _admin(TARGET_DB) as conn:
        have = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        )
        if not created and have.fetchone()[0] == tables:
            print(f"Reusing {TARGET_DB} with {tables} tables (--rebuild to start over).")
            return
    _ensure_database(TARGET_DB, drop=True)
    started = time.monotonic()
    with _admin(TARGET_DB) as conn:
        # Each table: 10 columns, a primary key, one secondary index, a foreign key to the previous table.
        conn.execute(
            sql.SQL(
                """
            DO $$
            DECLARE i int;
            BEGIN
              FOR i IN 0 .. {} - 1 LOOP
                EXECUTE format('CREATE TABLE %I (id bigint PRIMARY KEY, parent_id bigint %s, name text NOT NULL,
                  email text, created_at timestamptz DEFAULT now(), amount numeric(12,2), flags int DEFAULT 0,
                  payload jsonb, note text, updated_at timestamptz)',
                  format('t_%s', lpad(i::text, 5, '0')),
                  CASE WHEN i = 0 THEN '' ELSE format('REFERENCES %I (id)', format('t_%s', lpad((i - 1)::text, 5, '0'))) END);
                EXECUTE format('CREATE INDEX %I ON %I (parent_id)', format('t_%s_parent', lpad(i::text, 5, '0')),
                  format('t_%s', lpad(i::text, 5, '0')));
                IF i % 500 = 499 THEN COMMIT; END IF;
              END LOOP;
            END $$
            """
            ).format(sql.Literal(int(tables)))
        )
        conn.execute("ANALYZE")
    print(f"Built {TARGET_DB}: {tables} tables in {time.monotonic() - started:.1f} s.")


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up: caches, connections, template loading
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def paired_medians(page, reference, repeat: int) -> tuple[float, float]:
    """Median times of page and reference, measured alternately so both see the same machine load."""
    page(), reference()  # warm-up
    page_ms, ref_ms = [], []
    for _ in range(repeat):
        for fn, samples in ((page, page_ms), (reference, ref_ms)):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(page_ms), statistics.median(ref_ms)


def store_and_introspection_ms(project, repeat: int) -> tuple[float, float]:
    """Median times of storing a 5,000-table snapshot from scratch and of reading it, taken alternately.

    Before each round the project's snapshots and the structures only they used are deleted, so every
    store writes all relations (the worst case: a later version stores only the structures that changed).
    """
    from dashboard.schema.snapshots import delete_unused_structures, read_project_catalog, store_catalog

    read_ms, store_ms = [], []
    for _ in range(repeat):
        project.schema_snapshots.all().delete()
        delete_unused_structures()
        started = time.perf_counter()
        catalog, _ = read_project_catalog(project)
        read_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        store_catalog(project, catalog)
        store_ms.append((time.perf_counter() - started) * 1000)
    return statistics.median(store_ms), statistics.median(read_ms)


def main() -> int:
    args = parse_args()
    setup_django()
    build_target(args.tables, args.rebuild)

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    from dashboard.models import Membership, Project, Role, Team
    from dashboard.schema.snapshots import capture_snapshot
    from tests.support import pg

    setup_test_environment()  # lets the test Client run against the bench database
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    user = get_user_model().objects.filter(username="bench").first() or get_user_model().objects.create_user(
        "bench"
    )
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.VIEWER})
    project, _ = Project.objects.update_or_create(
        slug="bench", defaults={"team": team, "name": "Bench", "pooled_url": pg.url_for(TARGET_DB)}
    )
    store_ms, introspection_ms = store_and_introspection_ms(project, args.store_repeat)
    print(f"Storing a {args.tables}-table snapshot: {store_ms:.0f} ms; its introspection: {introspection_ms:.0f} ms "
          f"(medians of {args.store_repeat}).")  # fmt: skip
    started = time.monotonic()
    snapshot = capture_snapshot(project)
    print(f"Snapshot v{snapshot.version}: {snapshot.counts['relations']} relations, introspection "
          f"{snapshot.capture_ms} ms, capture and store {time.monotonic() - started:.1f} s.")  # fmt: skip

    client = Client()
    client.force_login(user)
    table_name = f"t_{args.tables // 2:05d}"

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    overview_page = get("/projects/bench/schema/").content.decode()
    assert "t_00000" in overview_page and f"{args.tables} relations" in overview_page
    table_page = get(f"/projects/bench/schema/public/{table_name}/").content.decode()
    assert "parent_id" in table_page

    with _admin(TARGET_DB) as conn:
        oid = conn.execute("SELECT %s::regclass::oid", [f"public.{table_name}"]).fetchone()[0]

        def overview_reference():
            rows = conn.execute(OVERVIEW_REFERENCE_SQL).fetchall()
            conn.execute(OVERVIEW_COUNT_SQL).fetchone()
            assert len(rows) == 50

        def table_reference():
            for query in TABLE_REFERENCE_SQL:
                conn.execute(query, {"oid": oid}).fetchall()

        overview_url, table_url = "/projects/bench/schema/", f"/projects/bench/schema/public/{table_name}/"
        search_url = "/projects/bench/schema/?q=t_049&sort=-size"
        results = [
            ("overview", *paired_medians(lambda: get(overview_url), overview_reference, args.repeat)),
            ("table", *paired_medians(lambda: get(table_url), table_reference, args.repeat)),
            ("overview search", *paired_medians(lambda: get(search_url), overview_reference, args.repeat)),
        ]
        floor_ms = median_ms(lambda: get("/projects/"), args.repeat)

    print(f"\n{'page':<16}{'page ms':>10}{'catalog ms':>12}{'ratio':>8}   target <= {TARGET_RATIO:.0f}x")
    worst = 0.0
    for name, page_ms, ref_ms in results:
        ratio = page_ms / ref_ms
        worst = max(worst, ratio)
        print(f"{name:<16}{page_ms:>10.2f}{ref_ms:>12.2f}{ratio:>7.2f}x")
    print(
        f"\nFor context: the project list (a logged-in page reading no snapshot) takes {floor_ms:.2f} ms here,"
    )
    print("the cost of Django's session, auth and template layers that every page pays.")
    print(f"\n{'OK' if worst <= TARGET_RATIO else 'SLOWER THAN TARGET'}: worst ratio {worst:.2f}x")
    for name, page_ms, ref_ms in results:
        print(
            f"RATIO schema {name} page / catalog queries: {page_ms / ref_ms:.2f}x (target <= {TARGET_RATIO:g}x)"
        )
    print(f"RATIO store {args.tables}-table snapshot / introspection: {store_ms / introspection_ms:.2f}x "
          f"(target <= {STORE_TARGET_RATIO:g}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
