"""The sandbox's HTTP layer: a threaded HTTP/1.1 keep-alive server on loopback. A test double, not HubSpot."""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing.app import SandboxApp

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Benchmarks open many keep-alive connections at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        super().__init__(address, SandboxRequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about clients that hang up (timeouts, injected drops); loud about anything else."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait ~40 ms per request.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer
    server_version = "HubSpotSandbox/1.0"

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: per-request stderr lines slow benchmarks and could leak query strings."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        reply = self.server.app.handle(self.command, self.path, dict(self.headers.items()), raw_body)
        if reply.drop:
            self._drop_connection()
            return
        if reply.send_delay:
            time.sleep(reply.send_delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _drop_connection(self) -> None:
        # Close without a single byte of answer: the client sees "connection closed without response".
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
