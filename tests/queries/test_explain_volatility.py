"""EXPLAIN ANALYZE runs only statements whose every reachable function is immutable or stable.

Functions are found in the catalog, not by their names in the text: user functions, functions
called by views (and views of views), the functions behind operators, and for INSERT the column
defaults. Real functions, views and operators on a real database.
"""

import psycopg
import pytest

from dashboard.introspection.explain import (
    ExplainRefused,
    PlanNames,
    explain,
    inspect_statement,
    volatile_functions,
)

SETUP = """
CREATE SCHEMA app;
CREATE SCHEMA ext;
CREATE FUNCTION app.take_job_lock(int) RETURNS boolean LANGUAGE plpgsql VOLATILE
  AS $$ BEGIN PERFORM pg_advisory_lock($1); RETURN true; END $$;
CREATE FUNCTION ext.http_get(text) RETURNS text LANGUAGE sql VOLATILE AS $$ SELECT $1 $$;
CREATE FUNCTION app.label(int) RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'item ' || $1 $$;
CREATE FUNCTION app.noisy_eq(int, int) RETURNS boolean LANGUAGE sql VOLATILE AS $$ SELECT $1 = $2 $$;
CREATE OPERATOR app.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = app.noisy_eq);
CREATE VIEW locking AS SELECT id, pg_try_advisory_lock(id) AS locked FROM items;
CREATE VIEW locking_again AS SELECT id FROM locking;
CREATE VIEW labelled AS SELECT id, app.label(id) AS label FROM items;
CREATE FUNCTION app.next_code() RETURNS text LANGUAGE sql VOLATILE AS $$ SELECT 'c' $$;
CREATE TABLE jobs (id serial PRIMARY KEY, code text DEFAULT app.next_code());
"""


@pytest.fixture
def conn(target_url):
    with psycopg.connect(target_url, autocommit=True) as setup:
        setup.execute(SETUP)
    with psycopg.connect(target_url) as connection:
        yield connection


def advisory_locks(conn) -> int:
    return conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0]


@pytest.mark.parametrize(
    "text,params,function",
    [
        ("SELECT app.take_job_lock($1)", ["1"], "app.take_job_lock"),
        ("SELECT ext.http_get($1)", ["http://example.invalid/"], "ext.http_get"),
        ("SELECT count(*) FROM locking WHERE id < $1", ["3"], "pg_catalog.pg_try_advisory_lock"),
        ("SELECT * FROM locking_again WHERE id = $1", ["3"], "pg_catalog.pg_try_advisory_lock"),
        ("SELECT name FROM items WHERE id OPERATOR(app.===) $1", ["3"], "app.noisy_eq"),
        ("SELECT name FROM items ORDER BY random() LIMIT $1", ["3"], "pg_catalog.random"),
    ],
)
def test_analyze_is_refused_when_the_statement_reaches_a_volatile_function(conn, text, params, function):
    info = inspect_statement(text)
    assert info.side_effect_functions == ()  # the name list alone would have let these run
    with pytest.raises(ExplainRefused, match=rf"reaches .*{function}\(\).*volatile"):
        explain(conn, text, params, analyze=True)
    assert advisory_locks(conn) == 0  # nothing ran
    assert "cost=" in explain(conn, text, params)  # a plain EXPLAIN still works


@pytest.mark.parametrize(
    "text,params",
    [
        ("SELECT app.label($1)", ["2"]),
        ("SELECT * FROM labelled WHERE id = $1", ["2"]),
        ("SELECT id FROM jobs WHERE id = $1", ["1"]),  # a volatile column default does not run on SELECT
        ("SELECT count(*), now() FROM items WHERE name LIKE $1", ["item%"]),
    ],
)
def test_analyze_runs_statements_of_stable_and_immutable_functions(conn, text, params):
    assert "actual time=" in explain(conn, text, params, analyze=True)


def test_column_defaults_of_an_insert_target_are_reached(conn):
    info = inspect_statement("INSERT INTO jobs (id) VALUES ($1)")
    assert "app.next_code" in volatile_functions(conn.cursor(), info, PlanNames())
    assert volatile_functions(conn.cursor(), inspect_statement("SELECT code FROM jobs"), PlanNames()) == []


@pytest.mark.django_db
def test_analyze_uses_the_direct_connection_never_the_pooler(client_for, team, target_url):
    """The pooled URL leads to a service that is not Postgres: only ANALYZE, on the direct URL, works."""
    from dashboard.models import Project, QueryText
    from tests.support.tcp_peers import http_service, serving

    with serving(http_service) as port:
        pooled = target_url.replace(target_url.split("@")[1].split("/")[0], f"127.0.0.1:{port}")
        project = Project.objects.create(team=team, name="Split", slug="split", pooled_url=pooled,
                                         direct_url=target_url)  # fmt: skip
        text = QueryText.objects.create(
            project=project, queryid=99, text="SELECT name FROM items WHERE id = $1"
        )
        url = f"/projects/split/queries/{text.queryid}/explain/"
        engineer = client_for("engineer")
        analyzed = engineer.post(url, {"mode": "analyze", "param1": "1"}, HTTP_HX_REQUEST="true")
        assert "actual time=" in analyzed.content.decode()
        plain = engineer.post(url, {"mode": "plain", "param1": "1"}, HTTP_HX_REQUEST="true").content.decode()
        assert "cost=" not in plain and 'role="alert"' in plain  # the pooled URL is not a Postgres server
