"""A real Celery worker process for integration tests.

It runs with the test settings against the test database (tests using it need
`transactional_db` so the worker sees committed rows) and the test Redis database.
"""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def worker_env() -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", "DATABASE_URL": url}


def wait_for_worker(proc: subprocess.Popen, timeout: float = 30.0, node: str | None = None) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited with code {proc.returncode}")
        if app.control.ping(timeout=0.5, destination=[node] if node else None):
            return
    raise RuntimeError(f"Celery worker did not answer a ping within {timeout:.0f} s")


def flush_broker() -> None:
    """Drop whatever earlier tests left queued in the test Redis database."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


def start_worker(concurrency: int = 1, *, name: str = "test", flush: bool = True) -> subprocess.Popen:
    """One worker; with concurrency > 1 it runs that many tasks at once (thread pool). A second worker
    needs its own `name`; flush=False keeps what is queued (tasks sent before it started)."""
    if flush:
        flush_broker()
    pool = ["--pool=solo"] if concurrency == 1 else ["--pool=threads", f"--concurrency={concurrency}"]
    node = f"{name}-{os.getpid()}@{socket.gethostname()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            *pool,
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-n",
            node,
        ],
        cwd=ROOT,
        env=worker_env(),
    )
    try:
        wait_for_worker(proc, node=node)
    except Exception:
        proc.kill()
        raise
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def closed_port() -> int:
    """A local TCP port where nothing listens (bound once to get a free number, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def broker_pointed_at_closed_port():
    """Within the block, this process sends tasks to a Redis URL whose port refuses connections."""
    from config.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    _drop_connection_pools(app)
    try:
        yield
    finally:
        app.conf.broker_url = original
        _drop_connection_pools(app)


def _drop_connection_pools(app) -> None:
    # The app keeps its broker connections in pools made from the URL at first use.
    app._pool = None
    app.amqp._producer_pool = None
