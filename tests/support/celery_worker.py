"""A real Celery worker process for integration tests.

It runs with the test settings against the test database (tests using it need
`transactional_db` so the worker sees committed rows) and the test Redis database.
"""

import os
import socket
import subprocess
import sys
import time
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


def start_worker(name: str = "test", *, flush: bool = True) -> subprocess.Popen:
    """A worker named `name`; flush=False keeps what is queued (a second worker, or tasks sent before)."""
    if flush:
        flush_broker()
    node = f"{name}-{os.getpid()}@{socket.gethostname()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
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
