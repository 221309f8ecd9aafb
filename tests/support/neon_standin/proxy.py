"""Neon's proxy in front of the computes: connections to a suspended endpoint are refused."""

import socket
import struct
import threading

from tests.support.tcp_peers import GSSENC_REQUEST, SSL_REQUEST, error_response, pipe, recv_exact

from .calls import StandIn

CANCEL_REQUEST = 80877102


def _startup_database(packet: bytes) -> str:
    """The `database` (or else `user`) parameter of a Postgres startup packet."""
    parts = packet[8:].split(b"\0")
    params = dict(zip(parts[0::2], parts[1::2], strict=False))
    return (params.get(b"database") or params.get(b"user") or b"").decode(errors="replace")


class ComputeProxy:
    """Neon's proxy in front of the computes, on one local port for all endpoints.

    It reads the startup packet to learn the database (the branch), records the
    attempt with the compute's state at that moment, fails the first connections
    after a start with Neon's cold-start error, and otherwise forwards to the
    local server, which refuses the databases of suspended computes.
    """

    def __init__(self, standin: StandIn):
        self.standin = standin
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _handle(self, conn: socket.socket) -> None:
        try:
            while True:
                header = recv_exact(conn, 8)
                length, code = struct.unpack("!ii", header)
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    conn.sendall(b"N")  # no TLS locally; the client goes on in plain text
                    continue
                packet = header + recv_exact(conn, length - 8)
                break
            if code != CANCEL_REQUEST and self.standin.record_attempt(_startup_database(packet)):
                conn.sendall(error_response("Couldn't connect to compute node"))
                conn.close()
                return
            server = self.standin.server
            upstream = socket.create_connection((server.host, server.port), timeout=10)
            upstream.settimeout(None)
            upstream.sendall(packet)
        except (OSError, ConnectionError, struct.error):
            conn.close()
            return
        threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
        pipe(upstream, conn)
