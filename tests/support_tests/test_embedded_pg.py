"""The embedded Postgres servers are real servers of the asked major, with pg_stat_statements."""

import psycopg
import pytest
from psycopg import errors

from tests.support import embedded_pg

GENERIC_PLAN = "EXPLAIN (GENERIC_PLAN) SELECT $1::int"  # new in Postgres 16


def test_pg17_is_a_postgres_17_server(pg17):
    assert 170000 <= pg17.server_version_num < 180000
    assert pg17.user == "postgres"
    assert pg17.host == "127.0.0.1"


def test_pg17_database_tracks_statements_with_the_17_columns(pg17):
    name = pg17.create_database("pgss")
    try:
        with psycopg.connect(pg17.url_for(name), autocommit=True) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")
            conn.execute("SELECT count(*) FROM pg_class WHERE relname = %s", ["pg_type"])
            columns = {
                row[0]
                for row in conn.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = 'pg_stat_statements'::regclass AND attnum > 0"
                )
            }
            tracked = conn.execute(
                "SELECT query, calls, stats_since IS NOT NULL FROM pg_stat_statements"
                " WHERE query LIKE 'SELECT count(*) FROM pg_class%'"
            ).fetchall()
            settings = conn.execute(
                "SELECT current_setting('pg_stat_statements.track'), current_setting('track_io_timing')"
            ).fetchone()
    finally:
        pg17.drop_database(name)
    assert {"stats_since", "shared_blk_read_time", "minmax_stats_since"} <= columns
    assert "blk_read_time" not in columns  # renamed in 17: code must not assume the 15 names
    assert tracked == [("SELECT count(*) FROM pg_class WHERE relname = $1", 1, True)]
    assert settings == ("top", "on")


@pytest.mark.parametrize("pg_major", [15, 17])
def test_generic_plan_exists_only_from_16(pg_major, pg_any_server):
    assert pg_any_server.server_version_num // 10000 == pg_major
    with psycopg.connect(**pg_any_server.conninfo("postgres"), autocommit=True) as conn:
        if pg_major >= 16:
            plan = conn.execute(GENERIC_PLAN).fetchall()
            assert plan[0][0].startswith("Result")
        else:
            # 15 analyses the query before looking at the options, so $1 fails first ...
            with pytest.raises(errors.UndefinedParameter, match=r"no parameter \$1"):
                conn.execute(GENERIC_PLAN)
            # ... and without a parameter the option itself is the syntax error.
            with pytest.raises(errors.SyntaxError, match='unrecognized EXPLAIN option "generic_plan"'):
                conn.execute("EXPLAIN (GENERIC_PLAN) SELECT 1")


def test_embedded_server_requires_its_password(pg17):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**{**pg17.conninfo("postgres"), "password": "wrong"})


def test_stop_shuts_the_server_down_and_removes_its_data():
    server = embedded_pg.start_server(17)
    assert server.data_dir.is_dir()
    with server.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    server.stop()
    assert not server.data_dir.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**server.conninfo("postgres"), connect_timeout=2)
