"""Which stored statement texts may be explained, and analyzed, decided by pglast's real parser."""

import pytest

from dashboard.introspection.explain import ExplainRefused, inspect_statement


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
