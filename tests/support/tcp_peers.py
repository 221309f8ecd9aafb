"""Small TCP peers on 127.0.0.1 for connection tests: a silent port, a non-Postgres service,
and a proxy that answers like Neon's proxy while a compute wakes up, then forwards to a real server."""

import socket
import struct
import threading
from contextlib import contextmanager

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


@contextmanager
def serving(handler):
    """Run handler(conn) for each accepted connection in a thread; yields the port."""
    sock = _listener()
    stop = threading.Event()
    conns = []

    def loop():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conns.append(conn)
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() so the port really closes
        except OSError:
            pass
        sock.close()
        for conn in conns:
            conn.close()


def silent(conn: socket.socket) -> None:
    """Accept and never answer: the client must time out."""
    threading.Event().wait(30)


def http_service(conn: socket.socket) -> None:
    """Answer like a web server, whatever the client sends."""
    try:
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass
    finally:
        conn.close()


def _read_startup(conn: socket.socket) -> None:
    """Consume SSL/GSS negotiation requests (answering 'N') and the startup packet."""
    while True:
        length, code = struct.unpack("!ii", recv_exact(conn, 8))
        if code in (SSL_REQUEST, GSSENC_REQUEST):
            conn.sendall(b"N")
            continue
        recv_exact(conn, length - 8)
        return


def recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


def error_response(message: str) -> bytes:
    fields = b"SFATAL\0VFATAL\0CXX000\0M" + message.encode() + b"\0\0"
    return b"E" + struct.pack("!i", len(fields) + 4) + fields


class WakingComputeProxy:
    """Refuses the first `failures` connections the way Neon's proxy does while a compute starts."""

    def __init__(self, upstream_port: int, failures: int, message: str = "Couldn't connect to compute node"):
        self.upstream_port = upstream_port
        self.failures = failures
        self.message = message
        self.attempts = 0
        self._lock = threading.Lock()

    def __call__(self, conn: socket.socket) -> None:
        with self._lock:
            self.attempts += 1
            refuse = self.attempts <= self.failures
        if refuse:
            try:
                _read_startup(conn)
                conn.sendall(error_response(self.message))
            except (OSError, ConnectionError):
                pass
            conn.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
        pipe(upstream, conn)


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
