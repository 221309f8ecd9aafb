"""Which stored statement texts may be explained, and analyzed, decided by pglast's real parser."""

import psycopg
import pytest

from dashboard.introspection.explain import ExplainRefused, analyze_refusal, explain, inspect_statement


@pytest.mark.parametrize(
    "text,params,is_select",
    [
        ("SELECT * FROM items WHERE id = $1 AND name <> $3", 3, True),
        ("WITH recent AS (SELECT * FROM items) SELECT count(*) FROM recent WHERE id > $1", 1, True),
        ("UPDATE items SET name = $1 WHERE id = $2", 2, False),
        ("WITH gone AS (DELETE FROM items RETURNING *) SELECT * FROM gone", 0, False),
        (
            "WITH a AS (WITH b AS (INSERT INTO items VALUES ($1) RETURNING *) SELECT * FROM b) SELECT * FROM a",
            1,
            False,
        ),
        ("SELECT * FROM items WHERE id = $1 FOR UPDATE", 1, False),
        ("INSERT INTO items VALUES ($1, $2)", 2, False),
    ],
)
def test_explainable_statements(text, params, is_select):
    info = inspect_statement(text)
    assert (info.param_count, info.is_select) == (params, is_select)


@pytest.mark.parametrize(
    "text,message",
    [
        ("SELECT 1; DROP TABLE items", "Only a single statement"),
        ("VACUUM items", "VacuumStmt statements cannot be explained"),
        ("CREATE TABLE copy AS SELECT * FROM items", "cannot be explained"),
        ("SELEC * FROM items", "cannot be parsed"),
        ("", "Only a single statement"),
    ],
)
def test_other_texts_are_refused(text, message):
    with pytest.raises(ExplainRefused, match=message):
        inspect_statement(text)


# One statement per class of side-effect function on the deny-list (as pg_stat_statements stores them).
SIDE_EFFECTS = [
    ("SELECT pg_terminate_backend($1)", "pg_terminate_backend"),
    ("SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1", "pg_cancel_backend"),
    ("SELECT pg_advisory_lock($1)", "pg_advisory_lock"),
    ("SELECT count(*) FROM items WHERE pg_try_advisory_xact_lock(id)", "pg_try_advisory_xact_lock"),
    ("SELECT set_config($1, $2, false)", "set_config"),
    ("SELECT pg_reload_conf()", "pg_reload_conf"),
    ("SELECT pg_rotate_logfile()", "pg_rotate_logfile"),
    ("SELECT pg_switch_wal()", "pg_switch_wal"),
    ("SELECT pg_create_restore_point($1)", "pg_create_restore_point"),
    ("SELECT pg_stat_reset()", "pg_stat_reset"),
    ("SELECT * FROM dblink($1, $2) AS t(x int)", "dblink"),
    ("SELECT pg_notify($1, $2)", "pg_notify"),
    ("SELECT lo_import($1)", "lo_import"),
    ("SELECT txid_current()", "txid_current"),
    ("SELECT pg_current_xact_id()", "pg_current_xact_id"),
    ("SELECT pg_create_logical_replication_slot($1, $2)", "pg_create_logical_replication_slot"),
    ("SELECT pg_logical_emit_message(true, $1, $2)", "pg_logical_emit_message"),
    ("SELECT query_to_xml($1, true, true, $2)", "query_to_xml"),
    ("SELECT name FROM items WHERE id IN (SELECT pg_terminate_backend($1)::int)", "pg_terminate_backend"),
    ("WITH t AS (SELECT set_config($1, $2, true)) SELECT * FROM t", "set_config"),
]


@pytest.mark.parametrize("text,function", SIDE_EFFECTS, ids=[f for _, f in SIDE_EFFECTS])
def test_analyze_is_refused_for_side_effect_functions(target_url, text, function):
    info = inspect_statement(text)
    assert info.is_select and function in info.side_effect_functions
    assert f"calls {function}()" in analyze_refusal(info)
    with psycopg.connect(target_url, autocommit=True) as conn:
        with pytest.raises(ExplainRefused, match=rf"calls {function}\(\).*Use a plain EXPLAIN"):
            explain(conn, text, ["1"] * info.param_count, analyze=True)


def test_analyze_cannot_terminate_a_session_but_plain_explain_still_works(target_url):
    with psycopg.connect(target_url, autocommit=True) as victim, psycopg.connect(target_url) as conn:
        pid = str(victim.info.backend_pid)
        with pytest.raises(ExplainRefused, match="pg_terminate_backend"):
            explain(conn, "SELECT pg_terminate_backend($1::int)", [pid], analyze=True)
        assert "Result" in explain(conn, "SELECT pg_terminate_backend($1::int)", [pid])
        assert victim.execute("SELECT 1").fetchone() == (1,)  # still connected


@pytest.mark.parametrize(
    "text", ["SELECT lower($1)", "SELECT pg_sleep($1)", "SELECT now(), count(*) FROM items"]
)
def test_ordinary_functions_may_be_analyzed(text):
    info = inspect_statement(text)
    assert info.side_effect_functions == () and analyze_refusal(info) == ""
