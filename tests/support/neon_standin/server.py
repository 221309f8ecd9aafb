"""Serving the stand-in (a thread in tests, the main thread from the command line)."""

import argparse
import os
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import psycopg

from .calls import StandIn
from .common import API_PREFIX
from .handler import Handler
from .proxy import ComputeProxy


class RunningStandIn:
    """A stand-in served from a thread on 127.0.0.1 (tests) or the main thread (CLI)."""

    def __init__(self, standin: StandIn, port: int = 0, *, suspend_check_seconds: float | None = None):
        handler = type("BoundHandler", (Handler,), {"standin": standin})
        self.standin = standin
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}{API_PREFIX}/"
        self.proxy = ComputeProxy(standin)
        standin.proxy_port = self.proxy.port
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = [
            threading.Thread(target=self.proxy.serve, daemon=True, name="standin-proxy")
        ]
        if suspend_check_seconds:
            self._threads.append(
                threading.Thread(target=self._reaper, args=(suspend_check_seconds,), daemon=True)
            )

    def _reaper(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.standin.suspend_inactive()
            except psycopg.Error:
                pass

    def start(self) -> "RunningStandIn":
        self._threads.append(
            threading.Thread(target=self.httpd.serve_forever, daemon=True, name="standin-http")
        )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.proxy.close()
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Neon API stand-in backed by a local Postgres server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--db-url",
        default=os.environ.get("NEON_STANDIN_DB_URL"),
        help="admin URL of the local Postgres server (default: $NEON_STANDIN_DB_URL)",
    )
    parser.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="ID=DATABASE",
        help="stand-in project whose default branch is the existing DATABASE",
    )
    parser.add_argument("--api-key-file", required=True, help="file holding the API key clients must send")
    parser.add_argument("--state-file", help="keep branches and computes across restarts")
    parser.add_argument(
        "--cold-start-failures",
        type=int,
        default=1,
        help="connections refused with Neon's cold-start error after a compute starts",
    )
    parser.add_argument("--op-seconds", type=float, default=0.5, help="how long operations stay running")
    parser.add_argument(
        "--suspend-check-seconds",
        type=float,
        default=10.0,
        help="how often idle computes are suspended after their suspend timeout",
    )
    args = parser.parse_args(argv)
    if not args.db_url:
        parser.error("give --db-url or set NEON_STANDIN_DB_URL")
    api_key = Path(args.api_key_file).read_text().strip()
    standin = StandIn(
        args.db_url,
        api_key,
        op_seconds=args.op_seconds,
        state_file=args.state_file,
        cold_start_failures=args.cold_start_failures,
    )
    for spec in args.project:
        project_id, _, database = spec.partition("=")
        standin.add_project(project_id, database or project_id, name=f"{project_id} (local stand-in)")
    running = RunningStandIn(standin, args.port, suspend_check_seconds=args.suspend_check_seconds)
    print(f"Neon API stand-in listening on {running.base_url}", flush=True)
    try:
        for thread in running._threads:
            thread.start()
        running.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
