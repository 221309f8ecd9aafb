"""The runner on a real server: open-loop latency, cancel, errors, retries, protocols, connections."""

import json
import threading

import pytest

from dashboard.benchmarks.engine.connection import APPLICATION_NAME, ConnectionSettings
from dashboard.benchmarks.engine.results import RunResult
from dashboard.benchmarks.engine.runner import RunConfig, RunError, run
from dashboard.benchmarks.engine.script import parse_script
from tests.benchmarks.conftest import config_for, query, settings_for
from tests.support import pg


def script(text: str, name: str = "custom", weight: int = 1):
    return parse_script(text, name=name, weight=weight)


def make_table(dbname: str, ddl: str) -> None:
    with pg.admin_connect(dbname) as conn:
        conn.execute(ddl)


def test_open_loop_latency_counts_from_the_schedule_so_a_slow_server_shows_growing_latency(target_db):
    # 20 ms per transaction but scheduled every 10 ms: the client falls further behind each
    # second, and latency measured from the schedule (not the actual start) shows it.
    slow = script("\\sleep 20 ms\nSELECT 1;")
    open_loop = run(config_for(target_db, [slow], rate=100, duration_seconds=3))
    closed_loop = run(config_for(target_db, [slow], duration_seconds=1))
    assert closed_loop.latency.p99_ms < 60
    assert open_loop.latency.p50_ms > 5 * closed_loop.latency.p50_ms
    first, *_, last = [p for p in open_loop.timeline if p.transactions]
    assert last.p50_ms > first.p50_ms + 300
    assert open_loop.schedule_lag_max_ms > 500
    assert open_loop.latency.max_ms >= open_loop.schedule_lag_max_ms
    # The server's pace, not the rate of 100 a second: one connection finishes at most one
    # transaction per 20 ms, and it kept the pace the closed loop measured (a loaded machine
    # slows both runs alike, so no fixed count is asked for).
    assert open_loop.transactions <= 3 * 50 + 1
    assert open_loop.tps > 0.5 * closed_loop.tps


def test_an_open_loop_run_below_capacity_keeps_the_rate(target_db):
    select = [script("SELECT 1;")]
    limited = run(config_for(target_db, select, rate=200, clients=2, duration_seconds=2))
    unlimited = run(config_for(target_db, select, clients=2, duration_seconds=1))
    # About 400 (a Poisson count: 500 is 5 standard deviations above) where the same clients
    # manage far more without the limit; and the schedule was kept, not fallen behind.
    assert limited.transactions < 500 < unlimited.transactions
    assert limited.transactions > 0.6 * 200 * limited.measured_seconds
    assert limited.latency.p50_ms < 20


def test_cancel_stops_a_long_run_early_with_what_it_measured(target_db):
    cancel = threading.Event()
    seen = []

    def progress(snapshot):
        seen.append(snapshot)
        if snapshot.elapsed_seconds >= 1:
            cancel.set()

    result = run(
        config_for(target_db, [script("SELECT 1;")], duration_seconds=60, clients=2),
        progress=progress,
        cancel=cancel,
    )
    assert result.cancelled
    assert len(result.timeline) <= 4 and result.measured_seconds < 5
    assert result.transactions > 0 and seen[0].point.second == 0


def test_cancel_also_interrupts_clients_sleeping_in_a_script(target_db):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 5  # after about half a second

    sleepy = script("SELECT 1;\n\\sleep 30 s\nSELECT 2;")
    for clients in (1, 3):  # the blocking driver and the event loop
        result = run(config_for(target_db, [sleepy], duration_seconds=60, clients=clients), cancel=cancel)
        assert result.cancelled and result.transactions == 0 and len(result.timeline) <= 3
        calls.clear()


def test_errors_are_counted_by_sqlstate(target_db):
    failing = script("SELECT 1 / 0;", name="divide")
    working = script("SELECT 1;", name="fine")
    result = run(config_for(target_db, [failing, working], clients=2))
    assert set(result.errors_by_sqlstate) == {"22012"}  # division_by_zero
    assert result.failed_transactions == result.errors_by_sqlstate["22012"] > 10
    assert result.transactions == {s["name"]: s["transactions"] for s in result.scripts}["fine"] > 10
    assert sum(p.errors for p in result.timeline) == result.failed_transactions


def test_a_failed_transaction_is_rolled_back_and_the_client_goes_on(target_db):
    make_table(target_db, "CREATE TABLE marks (n int)")
    text = "BEGIN;\nINSERT INTO marks VALUES (1);\nSELECT 1 / 0;\nEND;"
    for clients in (1, 2):
        result = run(config_for(target_db, [script(text)], clients=clients, duration_seconds=1))
        assert result.errors_by_sqlstate["22012"] > 10 and result.transactions == 0
    assert query(target_db, "SELECT count(*) FROM marks")[0][0] == 0


COUNTER = "BEGIN ISOLATION LEVEL REPEATABLE READ;\nUPDATE counter SET v = v + 1 WHERE id = 1;\nEND;"


def test_serialization_failures_are_retried_and_counted_like_pgbench_max_tries(target_db):
    make_table(
        target_db, "CREATE TABLE counter (id int PRIMARY KEY, v int); INSERT INTO counter VALUES (1, 0)"
    )
    result = run(
        config_for(target_db, [script(COUNTER)], clients=4, processes=2, max_tries=50, duration_seconds=2)
    )
    assert result.retries > 0
    assert query(target_db, "SELECT v FROM counter")[0][0] == result.transactions
    assert result.failed_transactions == sum(result.errors_by_sqlstate.values())
    assert set(result.errors_by_sqlstate) <= {"40001"}


def test_without_retries_serialization_failures_are_errors(target_db):
    make_table(
        target_db, "CREATE TABLE counter (id int PRIMARY KEY, v int); INSERT INTO counter VALUES (1, 0)"
    )
    result = run(config_for(target_db, [script(COUNTER)], clients=4, processes=2, duration_seconds=1.5))
    assert result.retries == 0 and result.errors_by_sqlstate.get("40001", 0) > 0
    assert query(target_db, "SELECT v FROM counter")[0][0] == result.transactions


SEEN = "CREATE TABLE seen (app text, statement_timeout text, lock_timeout text, prepared int)"
RECORD = (
    "INSERT INTO seen SELECT current_setting('application_name'), current_setting('statement_timeout'),"
    " current_setting('lock_timeout'), (SELECT count(*) FROM pg_prepared_statements);"
)


@pytest.mark.parametrize(("pooled", "protocol"), [(False, "prepared"), (False, "simple"), (True, "prepared")])
def test_every_connection_sets_application_name_and_timeouts(target_db, pooled, protocol):
    make_table(target_db, SEEN)
    settings = ConnectionSettings(
        pg.url_for(target_db), pooled=pooled, statement_timeout_ms=4321, lock_timeout_ms=1234
    )
    config = RunConfig(settings, (script(RECORD),), duration_seconds=0.5, protocol=protocol, clients=2)
    result = run(config)
    rows = set(query(target_db, "SELECT app, statement_timeout, lock_timeout, prepared > 0 FROM seen"))
    assert rows == {(APPLICATION_NAME, "4321ms", "1234ms", protocol == "prepared")}
    assert result.transactions == query(target_db, "SELECT count(*) FROM seen")[0][0]


def test_the_statement_timeout_stops_long_statements(target_db):
    settings = ConnectionSettings(pg.url_for(target_db), statement_timeout_ms=50)
    result = run(RunConfig(settings, (script("SELECT pg_sleep(1);"),), duration_seconds=1))
    assert result.errors_by_sqlstate.get("57014", 0) >= 5 and result.transactions == 0


def test_reconnect_per_transaction_opens_a_connection_each_time(target_db):
    make_table(target_db, "CREATE TABLE pids (pid int)")
    result = run(
        config_for(target_db, [script("INSERT INTO pids VALUES (pg_backend_pid());")], reconnect=True)
    )
    distinct, total = query(target_db, "SELECT count(DISTINCT pid), count(*) FROM pids")[0]
    assert total == result.transactions > 5 and distinct > total // 2
    assert result.reconnections.count == result.transactions
    assert result.reconnections.p50_ms > 0 and result.latency.p50_ms >= result.reconnections.p50_ms


def test_several_clients_reconnecting_in_one_process_keep_their_own_connections(target_db):
    """One event loop (one process) over three clients that reconnect every transaction: the loop
    follows each client's new socket, and every transaction is counted once."""
    make_table(target_db, "CREATE TABLE pids (pid int, client int)")
    insert = script("INSERT INTO pids VALUES (pg_backend_pid(), :client_id);")
    result = run(config_for(target_db, [insert], reconnect=True, clients=3, processes=1))
    assert result.failed_transactions == 0 and result.processes == 1
    rows = query(target_db, "SELECT count(*), count(DISTINCT pid), count(DISTINCT client) FROM pids")[0]
    assert rows[0] == result.transactions > 15 and rows[1] > rows[0] // 2 and rows[2] == 3
    assert result.reconnections.count == result.transactions


def test_warm_up_seconds_are_in_the_timeline_but_not_in_the_totals(target_db):
    snapshots = []
    result = run(
        config_for(target_db, [script("SELECT 1;")], warmup_seconds=1, duration_seconds=2),
        progress=snapshots.append,
    )
    assert [p.warmup for p in result.timeline] == [True, False, False]
    assert result.transactions == sum(p.transactions for p in result.timeline[1:])
    assert result.measured_seconds == pytest.approx(2.0, abs=0.1)
    assert [s.point.second for s in snapshots] == [0, 1, 2]
    assert snapshots[-1].transactions == result.transactions and snapshots[-1].planned_seconds == 3


def test_the_result_is_json_and_reads_back(target_db):
    result = run(config_for(target_db, [script("SELECT 1;")], duration_seconds=1))
    again = RunResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    assert result.initial_connections.count == 1 and result.initial_connections.max_ms > 0


def test_bad_settings_are_refused_before_anything_runs(target_db):
    good = script("SELECT 1;")
    cases = [
        ({"clients": 0}, "Clients must be from 1 to 1000"),
        ({"duration_seconds": 0}, "Duration must be above 0"),
        ({"rate": -5}, "The target rate must be above 0"),
        ({"protocol": "extended"}, "Protocol must be simple or prepared"),
        ({"warmup_seconds": 1.5}, "Warm-up must be a whole number"),
        ({"processes": 3, "clients": 2}, "Processes must be from 1 to the number of clients"),
    ]
    for options, message in cases:
        with pytest.raises(RunError, match=message):
            run(config_for(target_db, [good], **options))
    with pytest.raises(RunError, match="At least one script needs a weight above 0"):
        run(config_for(target_db, [script("SELECT 1;", weight=0)]))


def test_a_wrong_password_gives_a_clear_message_without_the_password(target_db):
    url = pg.url_for(target_db, password="s3cret-'<script>")
    with pytest.raises(RunError) as caught:
        run(RunConfig(ConnectionSettings(url), (script("SELECT 1;"),), duration_seconds=1))
    assert "Authentication failed" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_statement_on_a_missing_table_names_the_script_line(target_db):
    broken = script("\\set a 1\nSELECT 1;\nSELECT * FROM nowhere WHERE id = :a;", name="broken")
    with pytest.raises(
        RunError, match=r'broken line 3: cannot prepare the statement: relation "nowhere" does not exist'
    ):
        run(config_for(target_db, [broken]))


def test_a_bad_argument_found_while_running_stops_the_run_with_the_line(target_db):
    bad = script("\\set p random(0, 1)\n\\set x random_zipfian(1, 10, :p)\nSELECT :x;", name="zipf")
    for clients in (1, 2):
        with pytest.raises(RunError, match=r"zipf line 2: zipfian parameter must be in range"):
            run(config_for(target_db, [bad], clients=clients))


def test_benchmark_tables_in_their_schema_are_found_through_search_path(bench_db):
    settings = settings_for(bench_db)
    result = run(
        RunConfig(settings, (script("SELECT count(*) FROM pgbench_branches;"),), duration_seconds=0.5)
    )
    assert result.transactions > 0 and result.failed_transactions == 0
