"""Lock contention, pre-flight and the one-apply-per-database lock, with real competing sessions."""

import threading
import time

from migrations_app.engine.apply import ApplySettings
from migrations_app.engine.apply.lock_retry import backoff_seconds
from migrations_app.engine.history import read_history
from migrations_app.engine.locking import apply_lock_keys
from tests.migrations_app.conftest import FAST, tables
from tests.support import pg

LOGGED_SLEEP = """INSERT INTO log VALUES ('WHO-start', clock_timestamp());
SELECT pg_sleep(0.7);
INSERT INTO log VALUES ('WHO-end', clock_timestamp())"""
GO_AHEAD = ApplySettings(**{**FAST.__dict__, "stop_on_blockers": False})


def events_of(events, kind):
    return [e for e in events if e.event == kind]


def test_a_held_access_exclusive_lock_makes_the_apply_retry_then_fail_with_nothing_applied(
    apply, target, target_sql, hold_lock
):
    target_sql("CREATE TABLE busy (id bigint)")
    holder = hold_lock("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
    events = []
    result = apply(
        "CREATE TABLE other (id bigint);\nALTER TABLE busy ADD COLUMN note text",
        migration_id="contended",
        settings=GO_AHEAD,
        events=events,
    )
    assert result.status == "failed"
    assert (result.error.statement_index, result.error.sqlstate) == (1, "55P03")
    assert "could not get its lock within 200 ms in 4 attempts" in result.error.message
    assert f"pid {holder.pid}" in result.error.message and "AccessExclusiveLock" in result.error.message
    retries = events_of(events, "lock_retry")
    assert [e.attempt for e in retries] == [1, 2, 3]
    delays = [e.delay_seconds for e in retries]
    assert delays[0] < 0.15 + 1e-9 and delays[2] > delays[0]  # 0.1 s doubling, jitter within [0.5, 1.5)
    assert tables(target_sql) == ["busy"]
    assert read_history(target, "contended", steps_total=1).describe() == "not applied"


def test_the_apply_succeeds_when_the_lock_is_released_during_the_retries(apply, target_sql, hold_lock):
    target_sql("CREATE TABLE busy (id bigint)")
    holder = hold_lock("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
    settings = ApplySettings(**{**GO_AHEAD.__dict__, "max_lock_retries": 20})
    holder.release_after(0.8)
    events = []
    result = apply("ALTER TABLE busy ADD COLUMN note text", settings=settings, events=events)
    assert result.status == "applied", result.message
    assert events_of(events, "lock_retry")
    assert result.statements[0].attempts > 1
    assert target_sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'busy'") == [
        ("id",),
        ("note",),
    ]


def test_preflight_stops_with_the_sessions_in_the_way(apply, target_sql, hold_lock):
    target_sql("CREATE TABLE busy (id bigint)")
    holder = hold_lock("SELECT * FROM busy WHERE 'secret-literal' <> ''")
    events = []
    result = apply("ALTER TABLE busy ADD COLUMN note text", events=events)
    assert result.status == "blocked"
    (blocker,) = result.blockers
    assert blocker.pid == holder.pid and blocker.state == "idle in transaction"
    assert blocker.locks == ("public.busy (AccessShareLock)",)
    assert "secret-literal" not in blocker.query and "?" in blocker.query
    assert f"pid {holder.pid}" in result.message and "Stopped before applying anything" in result.message
    assert events_of(events, "preflight_wait")
    assert target_sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'busy'") == [(1,)]


def test_preflight_waits_for_a_session_that_finishes(apply, target_sql, hold_lock):
    target_sql("CREATE TABLE busy (id bigint)")
    holder = hold_lock("SELECT * FROM busy")
    holder.release_after(0.4)
    settings = ApplySettings(**{**FAST.__dict__, "preflight_wait_seconds": 10})
    events = []
    result = apply("ALTER TABLE busy ADD COLUMN note text", settings=settings, events=events)
    assert result.status == "applied", result.message
    assert events_of(events, "preflight_wait")


def test_preflight_lists_long_running_transactions(apply, target_sql, hold_lock):
    hold_lock("SELECT 1")
    time.sleep(1.2)
    settings = ApplySettings(**{**FAST.__dict__, "long_transaction_seconds": 1})
    result = apply("CREATE TABLE fresh (id bigint)", settings=settings)
    assert result.status == "blocked"
    assert result.blockers[0].reason.startswith("transaction open for")


def test_two_applies_on_one_target_never_overlap(open_target, apply, target_sql):
    target_sql("CREATE TABLE log (who text, at timestamptz)")
    events = {"a": [], "b": []}
    results = {}

    def run(who):
        sql = LOGGED_SLEEP.replace("WHO", who)
        results[who] = apply(sql, migration_id=f"m-{who}", conn=open_target(), events=events[who])

    first = threading.Thread(target=run, args=("a",))
    first.start()
    time.sleep(0.3)
    second = threading.Thread(target=run, args=("b",))
    second.start()
    first.join()
    second.join()
    assert results["a"].ok and results["b"].ok
    rows = dict(target_sql("SELECT who, at FROM log"))
    assert rows["a-end"] <= rows["b-start"]
    waits = events_of(events["b"], "waiting_for_apply")
    assert len(waits) == 1 and "Waiting for another apply" in waits[0].message
    assert "neon-ops-dashboard migrations" in waits[0].message  # who holds it


def test_an_apply_gives_up_when_another_keeps_the_database_busy(apply, target_db, target_sql):
    with pg.admin_connect(target_db) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", apply_lock_keys(target_db))
        settings = ApplySettings(**{**FAST.__dict__, "apply_lock_wait_seconds": 0.5})
        result = apply("CREATE TABLE fresh (id bigint)", settings=settings)
    assert result.status == "busy"
    assert "kept this database busy" in result.message and "nothing was applied" in result.message
    assert tables(target_sql) == []


def test_the_wait_between_lock_retries_doubles_up_to_its_cap_with_jitter_around_it():
    settings = ApplySettings(retry_base_seconds=0.5, retry_max_seconds=3.0)
    for attempt, nominal in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)]:
        waits = [backoff_seconds(settings, attempt) for _ in range(200)]
        assert all(0.5 * nominal <= w <= 1.5 * nominal for w in waits)
        assert (
            max(waits) - min(waits) > 0.5 * nominal
        )  # spread out, so competing appliers do not retry in step
