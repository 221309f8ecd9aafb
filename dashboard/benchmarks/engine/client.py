"""One benchmark client: its connection, its variables and its loop of transactions.

`Client.run()` is a generator over the whole run. It yields only when it has to wait:
`(WAIT_UNTIL, ns)` for a `\\sleep` or an open-loop schedule, `(WAIT_READ, fd)` /
`(WAIT_WRITE, fd)` for the server in non-blocking mode. A process with one client drives
it blocking (libpq waits inside `exec_prepared`, the generator yields only for sleeps);
a process with several multiplexes their generators over one selector (see worker.py).

The hot path avoids Python work it can: steps are tuples, constant expressions are
folded, latencies go into a plain dict per second, results are never decoded.
"""

import bisect
import random
import time
from dataclasses import dataclass

import psycopg
from psycopg import pq

from .connection import ConnectFailed, connect_blocking
from .script import EVALUATION_ERRORS, STEP_SET, STEP_SQL, Script, ScriptError, compile_script

WAIT_UNTIL, WAIT_READ, WAIT_WRITE = 0, 1, 2
RETRYABLE = frozenset({"40001", "40P01"})  # serialization failure, deadlock (pgbench --max-tries)
CONNECTION_LOST = "08006"
CONNECT_FAILED = "08001"
OK_STATUSES = frozenset(
    int(s) for s in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK, pq.ExecStatus.EMPTY_QUERY)
)
FATAL = pq.ExecStatus.FATAL_ERROR
SQLSTATE = pq.DiagnosticField.SQLSTATE
MESSAGE = pq.DiagnosticField.MESSAGE_PRIMARY
IN_TRANSACTION = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)


@dataclass
class ClientPlan:
    """What every client of a run shares (pickled to the worker processes)."""

    scripts: list[Script]
    conninfo: bytes
    session_statements: list[bytes]
    prepared: bool
    reconnect: bool
    max_tries: int
    variables: dict
    start_ns: int = 0
    deadline_ns: int = 0


def sqlstate_of(result: pq.PGresult) -> str:
    return (result.error_field(SQLSTATE) or b"").decode() or CONNECTION_LOST


class Schedule:
    """pgbench's -R: a Poisson process per worker; a free client takes the next slot."""

    def __init__(self, rate_per_second: float, start_ns: int, rng: random.Random):
        self.mean_gap_ns = 1e9 / rate_per_second
        self.next_ns = float(start_ns)
        self.expovariate = rng.expovariate

    def take(self) -> int:
        self.next_ns += self.mean_gap_ns * self.expovariate(1.0)
        return int(self.next_ns)


class Client:
    def __init__(self, plan: ClientPlan, client_id: int, seed: int, recorder, control, schedule):
        self.plan = plan
        self.client_id = client_id
        self.rng = random.Random(seed)
        constants = {"client_id": client_id, "random_seed": seed, **plan.variables}
        self.scripts = [compile_script(s, i, self.rng, constants) for i, s in enumerate(plan.scripts)]
        self.variables = dict(constants)
        weights = [s.weight for s in plan.scripts]
        self.cumulative = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.recorder = recorder
        self.control = control
        self.schedule = schedule
        self.conn: pq.PGconn | None = None
        self.blocking = True

    # --- connections ---------------------------------------------------------------------

    def connect(self) -> int:
        """Open (and prepare, in prepared mode) a connection; the nanoseconds it took."""
        conn, took = connect_blocking(self.plan.conninfo, self.plan.session_statements)
        started = time.perf_counter_ns()
        if self.plan.prepared:
            for script in self.scripts:
                for step in script.steps:
                    if step[0] == STEP_SQL:
                        result = conn.prepare(step[1], step[2])
                        if result.status != pq.ExecStatus.COMMAND_OK:
                            message = (result.error_field(MESSAGE) or b"").decode(errors="replace")
                            conn.finish()
                            raise ScriptError(
                                f"cannot prepare the statement: {message}", step[-1], script.name
                            )
        if not self.blocking:
            conn.nonblocking = 1
        self.conn = conn
        return took + time.perf_counter_ns() - started

    def close(self) -> None:
        if self.conn is not None:
            self.conn.finish()
            self.conn = None

    def _reconnect(self) -> bool:
        self.close()
        try:
            self.recorder.connected(self.connect())
            return True
        except ConnectFailed:
            return False

    def _rollback(self) -> None:
        conn = self.conn
        if conn is None or conn.status != pq.ConnStatus.OK:
            self.close()
        elif conn.transaction_status in IN_TRANSACTION:
            if self.blocking:
                conn.exec_(b"ROLLBACK")
            else:  # rare: close instead of driving a ROLLBACK through the event loop
                self.close()

    # --- the run -------------------------------------------------------------------------

    def pick_script(self):
        if len(self.scripts) == 1:
            return self.scripts[0]
        draw = self.rng.random() * self.cumulative[-1]
        return self.scripts[bisect.bisect_right(self.cumulative, draw)]

    def run(self):
        """The client's whole run; records into the recorder; see the module docstring.

        One loop for every mode, with the per-transaction work kept small: the clock is
        read once per transaction in a closed loop (a transaction starts where the last
        one ended), steps are tuples, a one-parameter statement binds without a list
        comprehension, and \\set errors are caught once around the transaction.
        """
        now = time.perf_counter_ns
        control, plan, schedule = self.control, self.plan, self.schedule
        succeeded, failed = self.recorder.succeeded, self.recorder.failed
        variables = self.variables
        prepared, blocking, reconnect = plan.prepared, self.blocking, plan.reconnect
        track = plan.max_tries > 1
        deadline = plan.deadline_ns
        single = self.scripts[0] if len(self.scripts) == 1 else None
        end = now()
        try:
            while True:
                script = single or self.pick_script()
                if schedule is None:
                    scheduled = started = end
                else:
                    scheduled = schedule.take()
                    if scheduled >= deadline:
                        return
                    if now() < scheduled:
                        yield (WAIT_UNTIL, scheduled)
                    started = now()
                if control.stopping or scheduled >= deadline:
                    return
                if (reconnect or self.conn is None) and not self._reconnect():
                    end = now()
                    failed(script.index, CONNECT_FAILED, end)
                    continue
                tries, trace, replay = 0, [] if track else None, None
                while True:
                    tries += 1
                    failure, position, conn = None, 0, self.conn
                    try:
                        for step in script.steps:
                            kind = step[0]
                            if kind == STEP_SQL:
                                one, names = step[4], step[3]
                                if one is not None:
                                    params = (str(variables[one]).encode(),)
                                elif names:
                                    params = [str(variables[name]).encode() for name in names]
                                else:
                                    params = None
                                if not blocking:
                                    result = yield from self._execute(conn, step, params, prepared)
                                elif prepared:
                                    result = conn.exec_prepared(step[1], params)
                                else:
                                    result = conn.exec_params(step[2], params)
                                if result is None:
                                    failure = CONNECTION_LOST
                                    break
                                if result.status not in OK_STATUSES:
                                    failure = sqlstate_of(result)
                                    break
                            elif kind == STEP_SET:
                                if replay is None:
                                    value = step[3](variables)
                                    if track:
                                        trace.append(value)
                                else:
                                    value = replay[position]
                                    position += 1
                                variables[step[1]] = value
                            else:
                                yield (WAIT_UNTIL, now() + step[2](variables))
                    except EVALUATION_ERRORS as exc:
                        raise ScriptError(str(exc), step[-1], script.name) from None
                    if failure is None:
                        break
                    self._rollback()
                    if failure not in RETRYABLE or tries >= plan.max_tries or control.stopping:
                        break
                    self.recorder.retried()
                    replay = trace
                    if self.conn is None and not self._reconnect():
                        failure = CONNECT_FAILED
                        break
                end = now()
                if failure is None:
                    succeeded(script.index, end, end - scheduled, started - scheduled)
                else:
                    failed(script.index, failure, end)
                if reconnect:
                    self.close()
                if end >= control.next_check_ns:
                    control.check(end)
                    # The check's own time (maybe a second's frame) is not the next transaction's.
                    end = now()
        finally:
            self.close()

    def _execute(self, conn: pq.PGconn, step, params, prepared: bool):
        """Send one statement without blocking; yields until its results are in. None if the link broke."""
        wait = (WAIT_READ, conn.socket)
        try:
            if prepared:
                conn.send_query_prepared(step[1], params)
            else:
                conn.send_query_params(step[2], params)
            while conn.flush():
                yield (WAIT_WRITE, wait[1])
            result = None
            while True:  # every result up to libpq's closing None; the first one, or an error, counts
                while conn.is_busy():
                    yield wait
                    conn.consume_input()
                current = conn.get_result()
                if current is None:
                    return result
                if result is None or current.status == FATAL:
                    result = current
        except psycopg.OperationalError:
            self.close()
            return None
