"""The sandbox's HTTP layer: a threaded HTTP/1.1 keep-alive server on loopback. A test double, not HubSpot.

Every method reaches the app (which answers 405 with ``Allow`` where a path does not serve it), and
every answer the HTTP layer itself must give (a malformed request line, a bad or too large
``Content-Length``, a chunked body) is HubSpot's JSON error with a correlation id, never Python's HTML
page. Connections are daemon threads with a socket timeout, so an idle keep-alive client cannot keep a
shutdown waiting.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing.app import SandboxApp

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Largest request body read (HubSpot refuses far smaller bodies than this with a 413 too).
MAX_BODY_BYTES = 1_000_000
#: Seconds an idle keep-alive connection (or a half-sent request) may hold its thread.
IDLE_TIMEOUT_SECONDS = 120.0
_CONTENT_LENGTH = re.compile(r"\d{1,12}", re.ASCII)
_METHOD = re.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,31}")


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Benchmarks open many keep-alive connections at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, SandboxRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving within about ``timeout`` seconds, whatever the clients are doing: the accept
        loop is asked to stop (bounded wait), the listening socket closes, and every open connection
        (an idle keep-alive one, or one mid-request) is shut down so its daemon thread ends."""
        stopper = threading.Thread(target=self.shutdown, name="hubspot-sandbox-stop", daemon=True)
        stopper.start()
        stopper.join(timeout)
        self.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

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
    timeout = IDLE_TIMEOUT_SECONDS

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: per-request stderr lines slow benchmarks and could leak query strings."""

    def __getattr__(self, name: str) -> Any:
        # ``BaseHTTPRequestHandler`` answers 501 HTML for a method without ``do_<METHOD>``: route every
        # well-formed method to the app instead (OPTIONS, TRACE, PROPFIND, ...).
        if name.startswith("do_") and _METHOD.fullmatch(name[3:]):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        raw_body = self._read_body()
        if raw_body is None:
            return
        reply = self.server.app.handle(self.command, self.path, dict(self.headers.items()), raw_body)
        if reply.drop:
            self._drop_connection()
            return
        if reply.send_delay:
            time.sleep(reply.send_delay)
        self._send(reply.status, reply.headers, reply.body)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering a body the sandbox will not read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._json_error(411, "LENGTH_REQUIRED", "Send the body with a Content-Length, not chunked.")
            return None
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not _CONTENT_LENGTH.fullmatch(declared):
            self._json_error(400, "VALIDATION_ERROR", "Content-Length is not a number of bytes.")
            return None
        length = int(declared)
        if length > MAX_BODY_BYTES:
            self._json_error(413, "VALIDATION_ERROR", f"The request body exceeds {MAX_BODY_BYTES} bytes.")
            return None
        return self.rfile.read(length) if length else b""

    def _json_error(self, status: int, category: str, message: str) -> None:
        """An answer of the HTTP layer itself, in HubSpot's error format; the connection then closes."""
        correlation_id = str(uuid.uuid4())
        body = {"status": "error", "message": message, "correlationId": correlation_id, "category": category}
        self.close_connection = True
        headers = {
            "Content-Type": "application/json;charset=utf-8",
            "X-HubSpot-Correlation-Id": correlation_id,
            "Connection": "close",
        }
        self._send(status, headers, json.dumps(body).encode())

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """HubSpot's JSON instead of Python's HTML page (malformed request line, header too long, ...)."""
        category = "VALIDATION_ERROR" if 400 <= code < 500 else "INTERNAL_ERROR"
        # A request line that failed to parse leaves the default HTTP/0.9, which would send a bare
        # body without status line or headers: the sandbox speaks HTTP/1.x only.
        self.request_version = "HTTP/1.1"
        with contextlib.suppress(OSError):
            self._json_error(code, category, message or "The request could not be read.")

    def _drop_connection(self) -> None:
        # Close without a single byte of answer: the client sees "connection closed without response".
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = _serve
