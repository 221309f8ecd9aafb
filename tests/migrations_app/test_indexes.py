"""Concurrent index builds: a failed build leaves no INVALID index; an old leftover is dropped first."""

import psycopg
import pytest

from migrations_app.engine.history import read_history

INVALID_SQL = """SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'people'::regclass ORDER BY 1"""


def test_a_failing_concurrent_build_leaves_no_invalid_index(apply, target, target_sql):
    target_sql("CREATE TABLE people (email text); INSERT INTO people VALUES ('a@x'), ('a@x')")
    events = []
    result = apply("CREATE UNIQUE INDEX CONCURRENTLY people_email ON people (email)", events=events)
    assert result.status == "failed" and result.error.sqlstate == "23505"
    assert "could not create unique index" in result.error.message
    assert target_sql(INVALID_SQL) == []
    assert "Dropped invalid index public.people_email (left by this failed build)." in result.notes
    assert [e.message for e in events if e.event == "invalid_index_dropped"] == list(result.notes)
    assert read_history(target, "m-1", steps_total=1).describe() == "not applied"


def test_an_unnamed_failing_build_is_cleaned_up_too(apply, target_sql):
    target_sql("CREATE TABLE people (email text); INSERT INTO people VALUES ('a@x'), ('a@x')")
    result = apply("CREATE UNIQUE INDEX CONCURRENTLY ON people (email)")
    assert result.status == "failed"
    assert target_sql(INVALID_SQL) == []


def test_an_invalid_index_left_earlier_is_reported_and_dropped_before_the_retry(
    apply, target_sql, open_target
):
    target_sql("CREATE TABLE people (email text); INSERT INTO people VALUES ('a@x'), ('a@x')")
    # A build that failed outside the dashboard leaves its invalid index behind.
    with pytest.raises(psycopg.errors.UniqueViolation):
        open_target().execute("CREATE UNIQUE INDEX CONCURRENTLY people_email ON people (email)")
    assert target_sql(INVALID_SQL) == [("people_email", False)]
    target_sql("DELETE FROM people WHERE ctid = (SELECT max(ctid) FROM people)")
    events = []
    # IF NOT EXISTS alone would accept the invalid index silently.
    result = apply(
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS people_email ON people (email)", events=events
    )
    assert result.status == "applied", result.message
    assert result.notes == ("Dropped invalid index public.people_email (left by an earlier failed build).",)
    assert [e.event for e in events].index("invalid_index_dropped") < [e.event for e in events].index(
        "statement_started"
    )
    assert target_sql(INVALID_SQL) == [("people_email", True)]


def test_an_invalid_index_of_another_name_is_left_alone(apply, target_sql, open_target):
    target_sql("CREATE TABLE people (email text, n int); INSERT INTO people VALUES ('a@x', 1), ('a@x', 1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        open_target().execute("CREATE UNIQUE INDEX CONCURRENTLY someone_elses ON people (email)")
    result = apply("CREATE INDEX CONCURRENTLY people_n ON people (n)")
    assert result.status == "applied" and result.notes == ()
    assert target_sql(INVALID_SQL) == [("people_n", True), ("someone_elses", False)]
