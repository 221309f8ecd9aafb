"""Cancelling a running apply, and a worker killed mid-apply: the recorded state stays consistent."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from migrations_app.engine.history import read_history
from tests.conftest import wait_until
from tests.migrations_app.conftest import tables

ROOT = Path(__file__).resolve().parents[2]
SLEEP_IN_STEP_3 = (
    "CREATE TABLE first (id bigint);\n"  # step 1
    "CREATE INDEX CONCURRENTLY first_id ON first (id);\n"  # step 2, alone
    "CREATE TABLE second (id bigint);\n"  # step 3 ...
    "SELECT pg_sleep(60)"  # ... still step 3 (statement index 3)
)
SLEEP_IN_STEP_1 = (
    "CREATE TABLE first (id bigint);\n"  # step 1 ...
    "SELECT pg_sleep(60);\n"  # ... still step 1 (statement index 1)
    "CREATE INDEX CONCURRENTLY first_id ON first (id)"  # step 2
)


def sleeping_backends(target_sql) -> int:
    return target_sql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")[0][0]


def test_cancel_during_a_long_statement_rolls_back_its_step_and_records_the_rest(apply, target, target_sql):
    cancel = threading.Event()

    def cancel_once_sleeping(progress):
        if progress.event == "statement_started" and progress.statement_index == 3:
            threading.Timer(0.3, cancel.set).start()

    started = time.monotonic()
    result = apply(
        SLEEP_IN_STEP_3,
        migration_id="cancelled",
        should_cancel=cancel.is_set,
        on_progress=cancel_once_sleeping,
    )
    assert time.monotonic() - started < 30  # the 60 s sleep was cancelled, not waited for
    assert result.status == "cancelled"
    assert result.steps_applied == (1, 2)
    assert result.message == (
        "Cancelled during step 3, which was rolled back. Steps applied and recorded before it: 1, 2 of 3."
    )
    assert tables(target_sql) == ["first"]
    assert read_history(target, "cancelled").describe() == "partly applied (steps 1-2 of 3)"
    assert sleeping_backends(target_sql) == 0


def test_cancel_during_a_concurrent_build_leaves_no_invalid_index(apply, target, target_sql):
    target_sql(
        "CREATE FUNCTION slow_id(bigint) RETURNS bigint IMMUTABLE LANGUAGE sql "
        "AS 'SELECT $1 FROM pg_sleep(0.05)';"
        "CREATE TABLE t (id bigint); INSERT INTO t SELECT generate_series(1, 200)"
    )
    cancel = threading.Event()

    def cancel_once_building(progress):
        if progress.event == "statement_started":
            threading.Timer(0.5, cancel.set).start()

    result = apply(
        "CREATE INDEX CONCURRENTLY t_slow ON t (slow_id(id))",
        should_cancel=cancel.is_set,
        on_progress=cancel_once_building,
    )
    assert result.status == "cancelled" and "Nothing was applied" in result.message
    assert result.notes == ("Dropped invalid index public.t_slow (left by this failed build).",)
    assert target_sql("SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass") == [(0,)]


def test_cancel_before_start_applies_nothing(apply, target_sql):
    result = apply(SLEEP_IN_STEP_3, migration_id="never", should_cancel=lambda: True)
    assert result.status == "cancelled" and "Nothing was applied" in result.message
    assert tables(target_sql) == []


def start_child(url: str, migration_id: str, sql: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.migrations_app.apply_child", url, migration_id],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    proc.stdin.write(sql)
    proc.stdin.close()
    return proc


def read_until(proc: subprocess.Popen, line: str) -> None:
    for got in proc.stdout:
        if got.strip() == line:
            return
    raise AssertionError(f"the child ended before printing {line!r}")


@pytest.mark.parametrize(
    ("sql", "steps", "kill_when", "expected", "tables_left"),
    [
        (SLEEP_IN_STEP_3, 3, "statement_started 3 3", "partly applied (steps 1-2 of 3)", ["first"]),
        (SLEEP_IN_STEP_1, 2, "statement_started 1 1", "not applied", []),
    ],
)
def test_a_worker_killed_mid_apply_leaves_history_the_reconciler_can_trust(
    target_url, target, target_sql, sql, steps, kill_when, expected, tables_left
):
    proc = start_child(target_url, "killed", sql)
    read_until(proc, kill_when)
    wait_until(lambda: sleeping_backends(target_sql) == 1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    history = read_history(target, "killed", steps_total=steps)
    assert history.describe() == expected
    assert tables(target_sql) == tables_left
    # The orphaned backend notices its client is gone (client_connection_check_interval) and rolls back:
    # its sleep, its locks and the apply lock do not outlive the worker by long.
    wait_until(lambda: sleeping_backends(target_sql) == 0, timeout=15)
    assert target_sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == [(0,)]
    assert read_history(target, "killed", steps_total=steps).step_numbers == history.step_numbers
    assert tables(target_sql) == tables_left
