"""Timeouts on every transaction the dashboard opens, even through a pooler that refuses startup options."""

import psycopg
import pytest

from dashboard.connections import target_settings
from dashboard.introspection.explain import explain
from dashboard.introspection.statements import is_own_statement
from dashboard.targets.connect import apply_local_timeouts, connect, read_only

pytestmark = pytest.mark.django_db


def pooled_settings(url, **overrides):
    """As through Neon's pooler: no startup options, so only SET LOCAL can set the timeouts."""
    return target_settings(url, pooled=True, **overrides)


def test_pooled_connection_gets_no_startup_timeouts_but_transactions_do(target_url):
    cfg = pooled_settings(target_url, lock_timeout_ms=1234, statement_timeout_ms=4321)
    with connect(target_url, cfg).conn as conn:
        assert (
            conn.execute("SHOW lock_timeout").fetchone()[0] == "0"
        )  # the server default: nothing at startup
        with read_only(conn, cfg) as cur:
            cur.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
            assert cur.fetchone() == ("1234ms", "4321ms")
        with conn.transaction():
            cur = conn.cursor()
            apply_local_timeouts(cur, cfg, statement_timeout_ms=999)
            cur.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
            assert cur.fetchone() == ("1234ms", "999ms")


def test_explain_through_the_pooler_gives_up_on_a_lock_quickly(target_url):
    """A table locked by someone else: lock_timeout ends the wait, not the (long) statement timeout."""
    cfg = pooled_settings(target_url, lock_timeout_ms=200, statement_timeout_ms=60_000)
    holder = psycopg.connect(target_url)
    holder.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")  # transaction stays open
    try:
        with connect(target_url, cfg).conn as conn:
            with pytest.raises(psycopg.errors.LockNotAvailable):
                explain(
                    conn,
                    "SELECT name FROM items WHERE id = $1",
                    ["1"],
                    analyze=True,
                    timeout_ms=60_000,
                    cfg=cfg,
                )
    finally:
        holder.close()


def test_the_timeout_statements_count_as_the_dashboards_own(target_url):
    cfg = pooled_settings(target_url)
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
        )
    with connect(target_url, cfg).conn as conn, read_only(conn, cfg) as cur:
        cur.execute("SELECT 1")
    with psycopg.connect(target_url, autocommit=True) as conn:
        own_role = conn.execute("SELECT oid FROM pg_roles WHERE rolname = current_user").fetchone()[0]
        rows = conn.execute(
            "SELECT query, userid FROM pg_stat_statements WHERE query ILIKE '%timeout%' AND query NOT ILIKE 'show%'"
            " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
    texts = [text for text, _ in rows]
    assert any("lock_timeout" in t for t in texts) and any("statement_timeout" in t for t in texts)
    assert all(is_own_statement(t, userid=u, own_userid=own_role) for t, u in rows), texts
