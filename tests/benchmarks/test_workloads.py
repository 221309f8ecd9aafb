"""pgbench's built-in workloads on a real server: the rows `pgbench -i` makes and what each changes."""

import pytest

from dashboard.benchmarks.engine.runner import run
from dashboard.benchmarks.engine.script import ScriptError
from dashboard.benchmarks.engine.workloads import (
    BUILTINS,
    builtin_script,
    detect_scale,
    drop_schema,
    initialise,
)
from tests.benchmarks.conftest import config_for, query
from tests.support import pg

SCHEMA = "neon_ops_bench"


def counts(dbname: str) -> dict[str, int]:
    tables = ("pgbench_branches", "pgbench_tellers", "pgbench_accounts", "pgbench_history")
    return {t: query(dbname, f"SELECT count(*) FROM {SCHEMA}.{t}")[0][0] for t in tables}  # noqa: S608


def balances(dbname: str) -> dict[str, int]:
    row = query(
        dbname,
        "SELECT (SELECT coalesce(sum(abalance), 0) FROM neon_ops_bench.pgbench_accounts),"
        " (SELECT coalesce(sum(tbalance), 0) FROM neon_ops_bench.pgbench_tellers),"
        " (SELECT coalesce(sum(bbalance), 0) FROM neon_ops_bench.pgbench_branches),"
        " (SELECT coalesce(sum(delta), 0) FROM neon_ops_bench.pgbench_history)",
    )[0]
    return dict(zip(("accounts", "tellers", "branches", "history"), row, strict=True))


def test_initialise_creates_pgbench_rows_for_the_scale_in_its_own_schema(target_db):
    with pg.admin_connect(target_db) as conn:
        conn.execute("CREATE TABLE public.pgbench_accounts (mine text)")
        initialise(conn, scale=2)
        assert detect_scale(conn) == 2
    assert counts(target_db) == {
        "pgbench_branches": 2,
        "pgbench_tellers": 20,
        "pgbench_accounts": 200_000,
        "pgbench_history": 0,
    }
    keys = query(
        target_db,
        "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'p' AND connamespace = %s::regnamespace"
        " ORDER BY 1",
        (SCHEMA,),
    )
    assert [k for (k,) in keys] == [
        f"{SCHEMA}.pgbench_accounts",
        f"{SCHEMA}.pgbench_branches",
        f"{SCHEMA}.pgbench_tellers",
    ]
    assert balances(target_db) == {"accounts": 0, "tellers": 0, "branches": 0, "history": 0}
    assert query(target_db, "SELECT max(bid), count(DISTINCT bid) FROM neon_ops_bench.pgbench_accounts")[
        0
    ] == (2, 2)
    with pg.admin_connect(target_db) as conn:
        drop_schema(conn)
    assert query(target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (SCHEMA,))[0][0] == 0
    assert (
        query(target_db, "SELECT count(*) FROM public.pgbench_accounts")[0][0] == 0
    )  # the user's table stays


def test_initialise_refuses_a_bad_scale_and_changes_nothing(target_db):
    with pg.admin_connect(target_db) as conn:
        for bad in (0, -1, 2.5, "3", 10**6):
            with pytest.raises(ValueError, match="scale must be a whole number from 1"):
                initialise(conn, scale=bad)
    assert query(target_db, "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (SCHEMA,))[0][0] == 0


def test_the_builtin_scripts_are_pgbench_s_texts():
    assert [s.text.split()[0] for s in builtin_script("tpcb-like").statements] == [
        "BEGIN",
        "UPDATE",
        "SELECT",
        "UPDATE",
        "UPDATE",
        "INSERT",
        "END",
    ]
    assert len(builtin_script("simple-update").statements) == 5
    (select,) = builtin_script("select-only").statements
    assert select.text == "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
    assert builtin_script("tpcb-like@4").weight == 4
    assert not BUILTINS["select-only"].writes and BUILTINS["tpcb-like"].writes
    with pytest.raises(ScriptError, match="unknown built-in workload 'tpcc'"):
        builtin_script("tpcc")


def test_select_only_reads_and_changes_nothing(bench_db):
    result = run(config_for(bench_db, [builtin_script("select-only")], clients=2))
    assert result.transactions > 100 and result.failed_transactions == 0
    assert result.tps > 0 and result.latency.count == result.transactions
    assert balances(bench_db) == {"accounts": 0, "tellers": 0, "branches": 0, "history": 0}


def test_simple_update_moves_account_balances_only(bench_db):
    result = run(config_for(bench_db, [builtin_script("simple-update")], clients=2))
    assert result.transactions > 20 and result.failed_transactions == 0
    after = balances(bench_db)
    assert counts(bench_db)["pgbench_history"] == result.transactions
    assert after["accounts"] == after["history"] != 0
    assert after["tellers"] == 0 and after["branches"] == 0


def test_tpcb_like_over_several_processes_counts_every_transaction_exactly(bench_db):
    result = run(
        config_for(bench_db, [builtin_script("tpcb-like")], clients=4, processes=2, duration_seconds=2)
    )
    assert result.processes == 2 and result.failed_transactions == 0
    assert counts(bench_db)["pgbench_history"] == result.transactions > 50
    after = balances(bench_db)
    assert after["accounts"] == after["tellers"] == after["branches"] == after["history"]
    assert sum(p.transactions for p in result.timeline) == result.transactions


def test_weighted_scripts_are_drawn_by_weight(bench_db):
    scripts = [builtin_script("select-only@3"), builtin_script("simple-update@1")]
    result = run(config_for(bench_db, scripts, clients=2))
    done = {s["name"]: s["transactions"] for s in result.scripts}
    assert done["simple-update"] == counts(bench_db)["pgbench_history"]
    assert 1.8 < done["select-only"] / done["simple-update"] < 4.5
    assert done["select-only"] + done["simple-update"] == result.transactions
