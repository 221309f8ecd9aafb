"""A worker process: its share of the clients, driven blocking (one client) or by one selector.

Started by runner.py as `python -m dashboard.benchmarks.engine.worker` (a plain
subprocess, so it also works inside daemonic Celery pool processes, which may not fork
multiprocessing children). Frames on stdin/stdout are a 4-byte length and a pickle:

    parent -> worker: WorkerPlan, then ("go", start_ns, deadline_ns); later any byte
                      (or EOF: the parent is gone) means "stop now"
    worker -> parent: ("ready", [connect ns...]) | ("second", SecondFrame) |
                      ("fatal", ("connect" | "script", message)) | ("done", None)
"""

import heapq
import os
import pickle
import select
import struct
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass

from .client import WAIT_READ, WAIT_UNTIL, Client, ClientPlan, Schedule
from .connection import ConnectFailed
from .results import SecondFrame, encode, histogram_of
from .script import ScriptError

CHECK_EVERY_NS = 50_000_000  # how often a busy client looks at stdin (stop) and the clock
STOP_GRACE_NS = 1_000_000_000  # statements in flight when the run stops get this long to finish
HEADER = struct.Struct("!I")
POLLIN = select.POLLIN


@dataclass
class WorkerPlan:
    worker: int
    client_ids: list[int]
    plan: ClientPlan
    seed: int
    rate_per_second: float | None  # this worker's share of the target rate


# --- frames --------------------------------------------------------------------------------


def write_frame(fd: int, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int):
    (size,) = HEADER.unpack(read_exactly(fd, HEADER.size))
    return pickle.loads(read_exactly(fd, size))  # noqa: S301 - our own parent process


# --- per-second recording ------------------------------------------------------------------


class Recorder:
    """Counts of the current second; a SecondFrame goes out each time a second is over."""

    def __init__(self, script_count: int, emit):
        self.script_count = script_count
        self.emit = emit
        self.start(0, 0)

    def start(self, start_ns: int, last_second: int) -> None:
        self.start_ns = start_ns
        self.last_second = last_second
        self.second = 0
        self.boundary_ns = start_ns + 1_000_000_000
        self._reset()

    def _reset(self) -> None:
        self.latency: dict[int, int] = {}
        self.connects: dict[int, int] = {}
        self.transactions = [0] * self.script_count
        self.failures: dict[str, int] = {}
        self.retries = 0
        self.lag_sum_us = 0
        self.lag_max_us = 0

    def succeeded(self, script: int, end_ns: int, latency_ns: int, lag_ns: int) -> None:
        if end_ns >= self.boundary_ns:
            self.tick(end_ns)
        us = latency_ns // 1000
        latency = self.latency
        latency[us] = latency.get(us, 0) + 1
        self.transactions[script] += 1
        if lag_ns > 0:
            lag_us = lag_ns // 1000
            self.lag_sum_us += lag_us
            if lag_us > self.lag_max_us:
                self.lag_max_us = lag_us

    def failed(self, script: int, sqlstate: str, end_ns: int) -> None:
        if end_ns >= self.boundary_ns:
            self.tick(end_ns)
        self.failures[sqlstate] = self.failures.get(sqlstate, 0) + 1

    def retried(self) -> None:
        self.retries += 1

    def connected(self, took_ns: int) -> None:
        us = took_ns // 1000
        self.connects[us] = self.connects.get(us, 0) + 1

    def tick(self, now_ns: int) -> None:
        """Send the seconds that are over (the last second stays open until `close`)."""
        while now_ns >= self.boundary_ns and self.second < self.last_second:
            self._flush()
            self.second += 1
            self.boundary_ns += 1_000_000_000

    def close(self) -> None:
        """Send what is left: up to the last second of the run, or of the moment it stopped."""
        self.tick(time.perf_counter_ns())
        self._flush()

    def _flush(self) -> None:
        self.emit(
            SecondFrame(
                second=self.second,
                transactions=self.transactions,
                latency=encode(histogram_of(self.latency)),
                connects=encode(histogram_of(self.connects)),
                failures=self.failures,
                retries=self.retries,
                lag_sum_us=self.lag_sum_us,
                lag_max_us=self.lag_max_us,
            )
        )
        self._reset()


class Control:
    """Whether to stop: the deadline passed or the parent wrote to (or closed) our stdin."""

    def __init__(self, stop_fd: int, recorder: Recorder):
        self.stop_fd = stop_fd
        self.recorder = recorder
        self.stopping = False
        self.stopped_at_ns = 0
        self.next_check_ns = 0
        self.deadline_ns = 0

    def check(self, now_ns: int) -> None:
        """Also due at the next second boundary, so a client reads the clock again after a frame went out."""
        self.recorder.tick(now_ns)
        boundary = self.recorder.boundary_ns
        self.next_check_ns = now_ns + CHECK_EVERY_NS
        if now_ns < boundary < self.next_check_ns:
            self.next_check_ns = boundary
        if not self.stopping and select.select([self.stop_fd], [], [], 0)[0]:
            self.stop(now_ns)

    def stop(self, now_ns: int) -> None:
        self.stopping = True
        self.stopped_at_ns = now_ns

    def sleep_until(self, until_ns: int) -> bool:
        """Sleep (blocking driver) but wake for a stop; False if stopped."""
        while not self.stopping:
            current = time.perf_counter_ns()
            if current >= self.deadline_ns:
                self.stop(current)
                break
            left = until_ns - current
            if left <= 0:
                return True
            if select.select([self.stop_fd], [], [], min(left, CHECK_EVERY_NS) / 1e9)[0]:
                self.stop(time.perf_counter_ns())
            self.recorder.tick(time.perf_counter_ns())
        return False


# --- drivers -------------------------------------------------------------------------------


def drive_blocking(client: Client, control: Control) -> None:
    run = client.run()
    for kind, value in run:
        if kind != WAIT_UNTIL or not control.sleep_until(value):
            run.close()  # stopped while sleeping: the transaction in progress is not counted
            return


class EventLoop:
    """Several clients in one process: poll() over their sockets and a heap of timers.

    `select.poll` directly rather than `selectors`: its Python layer (keys, fd lookups)
    costs more per statement than the rest of the loop.
    """

    def __init__(self, clients: list[Client], control: Control, deadline_ns: int):
        self.control = control
        self.deadline_ns = deadline_ns
        self.poller = select.poll()
        self.ready = deque()
        self.timers: list[tuple[int, int, object]] = []
        self.runs = {}
        self.waiting_io = set()
        self.watched: dict[Client, tuple] = {}  # client -> (conn, fd, events)
        self.by_fd: dict[int, Client] = {}
        for client in clients:
            client.blocking = False
            if client.conn is not None:
                client.conn.nonblocking = 1
            self.runs[client] = client.run()
            self.ready.append(client)

    def run(self) -> None:
        now = time.perf_counter_ns
        control, runs, watched, by_fd = self.control, self.runs, self.watched, self.by_fd
        ready, timers, waiting_io = self.ready, self.timers, self.waiting_io
        while runs:
            while ready:  # the common case inline: a client waiting to read the socket it already watches
                client = ready.popleft()
                try:
                    kind, value = next(runs[client])
                except StopIteration:
                    self._forget(client)
                    continue
                known = watched.get(client)
                if kind == WAIT_READ and known is not None and known[0] is client.conn and known[2] == POLLIN:
                    waiting_io.add(client)
                else:
                    self._wait_for(client, kind, value)
            if not runs:
                break
            current = now()
            if current >= control.next_check_ns:
                control.check(current)
            if current >= self.deadline_ns and not control.stopping:
                control.stop(current)
            if control.stopping:
                self._abandon_waiting(current)
                ready, timers = self.ready, self.timers
                if not runs:
                    break
            timeout_ns = CHECK_EVERY_NS
            if timers:
                timeout_ns = min(timeout_ns, max(timers[0][0] - current, 0))
            for fd, events in self.poller.poll(timeout_ns / 1e6):
                client = by_fd.get(fd)
                if client in waiting_io:
                    waiting_io.discard(client)
                    ready.append(client)
                elif events & select.POLLNVAL:  # a connection its client closed (reconnect mode)
                    self._unwatch_fd(fd)
                else:
                    self._drain(client)
            if timers:
                current = now()
                while timers and timers[0][0] <= current:
                    ready.append(heapq.heappop(timers)[2])

    def _wait_for(self, client: Client, kind: int, value: int) -> None:
        if kind == WAIT_UNTIL:
            heapq.heappush(self.timers, (value, id(client), client))
            return
        self._watch(client, value, POLLIN if kind == WAIT_READ else select.POLLOUT)
        self.waiting_io.add(client)

    def _watch(self, client: Client, fd: int, events: int) -> None:
        conn = client.conn
        known = self.watched.get(client)
        if known is not None and known[0] is conn:
            if known[2] != events:
                self.poller.modify(fd, events)
                self.watched[client] = (conn, fd, events)
            return
        if known is not None and self.by_fd.get(known[1]) is client:
            self._unwatch_fd(known[1])
        previous = self.by_fd.get(fd)
        if previous is not None:  # that client's connection is closed and its fd number reused
            self.watched.pop(previous, None)
        self.poller.register(fd, events)
        self.by_fd[fd] = client
        self.watched[client] = (conn, fd, events)

    def _drain(self, client: Client | None) -> None:
        """Data nobody waits for (a notice, the server closing): read it so the loop does not spin."""
        if client is None:
            return
        try:
            if client.conn is not None:
                client.conn.consume_input()
                return
        except Exception:  # noqa: BLE001 - a dead connection is handled at the next transaction
            client.close()
        self._unwatch(client)

    def _unwatch(self, client: Client) -> None:
        known = self.watched.pop(client, None)
        if known is not None and self.by_fd.get(known[1]) is client:
            self._unwatch_fd(known[1])

    def _unwatch_fd(self, fd: int) -> None:
        client = self.by_fd.pop(fd, None)
        known = self.watched.get(client)
        if known is not None and known[1] == fd:
            del self.watched[client]
        self.poller.unregister(fd)

    def _forget(self, client: Client) -> None:
        self._unwatch(client)
        self.runs.pop(client, None)
        self.waiting_io.discard(client)

    def _abandon_waiting(self, current: int) -> None:
        """At a stop: drop clients sleeping or scheduled; those in a statement get the grace time."""
        late = current - self.control.stopped_at_ns >= STOP_GRACE_NS
        sleeping = {entry[2] for entry in self.timers}
        for client in list(self.runs):
            if client in sleeping or client in self.ready or late:
                self.runs[client].close()
                self._forget(client)
        self.timers = [t for t in self.timers if t[2] in self.runs]
        heapq.heapify(self.timers)
        self.ready = deque(c for c in self.ready if c in self.runs)


# --- the process ---------------------------------------------------------------------------


def build_clients(work: WorkerPlan, recorder, control) -> list[Client]:
    clients = [
        Client(work.plan, client_id, work.seed * 1_000_003 + client_id, recorder, control, None)
        for client_id in work.client_ids
    ]
    if work.rate_per_second:
        schedule = Schedule(work.rate_per_second, 0, clients[0].rng)
        for client in clients:
            client.schedule = schedule
    return clients


def main(stdin: int = 0, stdout: int = 1) -> int:
    work: WorkerPlan = read_frame(stdin)
    emit = lambda message: write_frame(stdout, message)  # noqa: E731
    recorder = Recorder(len(work.plan.scripts), lambda frame: emit(("second", frame)))
    control = Control(stdin, recorder)
    clients = build_clients(work, recorder, control)
    try:
        connect_times = [client.connect() for client in clients]
    except ConnectFailed as exc:
        emit(("fatal", ("connect", str(exc).strip())))
        return 1
    except ScriptError as exc:
        emit(("fatal", ("script", str(exc))))
        return 1
    emit(("ready", connect_times))
    _, start_ns, deadline_ns = read_frame(stdin)
    work.plan.start_ns, work.plan.deadline_ns = start_ns, deadline_ns
    last_second = max((deadline_ns - start_ns - 1) // 1_000_000_000, 0)
    recorder.start(start_ns, last_second)
    control.deadline_ns = deadline_ns
    if work.rate_per_second:
        clients[0].schedule.next_ns = float(start_ns)
    while time.perf_counter_ns() < start_ns:
        time.sleep(max(start_ns - time.perf_counter_ns(), 0) / 1e9)
    try:
        if len(clients) == 1:
            drive_blocking(clients[0], control)
        else:
            EventLoop(clients, control, deadline_ns).run()
    except ScriptError as exc:
        emit(("fatal", ("script", str(exc))))
        return 1
    recorder.close()
    emit(("done", None))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (EOFError, BrokenPipeError):
        sys.exit(2)  # the parent went away: nothing to report to
    except Exception:
        traceback.print_exc()
        sys.exit(3)
