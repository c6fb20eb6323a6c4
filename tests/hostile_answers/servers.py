"""Small hostile HTTP servers on loopback, written on raw sockets so they can misbehave the way
``http.server`` never would: drip bytes, lie about lengths, send 50 MB, gzip bombs, garbage, redirects.

* :class:`HostileServer` answers each request with the next :data:`Action` of its script (default: 200
  ``{}``) and records every request it read (method, path, headers, body).
* :class:`Recorder` is the "elsewhere" a redirect points to: it records every connection and every byte
  that reaches it. After a refused redirect it must have seen nothing.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Writes an answer to the client socket; may sleep, drip, or close early.
Action = Callable[["Exchange"], None]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Exchange:
    """One request the server read, and the socket to answer it on."""

    sock: socket.socket
    request: Seen
    stop: threading.Event

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


def _read_request(sock: socket.socket) -> Seen | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = [*lines[0].split(" ", 2), "", ""][:3]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Seen(method, path, headers, rest[:length])


class _Listener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Any:
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()

    def _accept_loop(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve_guarded, args=(client,), daemon=True).start()

    def _serve_guarded(self, client: socket.socket) -> None:
        try:
            client.settimeout(30)
            self._serve(client)
        except OSError:
            pass  # the client gave up (its deadline): exactly what some cases provoke
        finally:
            client.close()

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError


class HostileServer(_Listener):
    def __init__(self) -> None:
        super().__init__()
        self.script: list[Action] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def queue(self, *actions: Action) -> None:
        with self._lock:
            self.script.extend(actions)

    def _serve(self, client: socket.socket) -> None:
        while not self.stop.is_set():
            request = _read_request(client)
            if request is None:
                return
            with self._lock:
                self.seen.append(request)
                action = self.script.pop(0) if self.script else answer(200, {})
            action(Exchange(client, request, self.stop))
            return  # every answer closes the connection (Connection: close), which keeps cases apart


class Recorder(_Listener):
    """Counts connections and bytes: anything arriving here followed a redirect."""

    def __init__(self) -> None:
        super().__init__()
        self.connections = 0
        self.received = b""

    def _serve(self, client: socket.socket) -> None:
        self.connections += 1
        client.settimeout(1)
        try:
            while chunk := client.recv(65536):
                self.received += chunk
        except TimeoutError:
            pass
        client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")


# --- actions -------------------------------------------------------------------------------------------


def _head(status: int, headers: dict[str, str], reason: str = "X") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(
    status: int, body: Any = None, headers: dict[str, str] | None = None, *, length: bool = True
) -> Action:
    """A plain answer; ``body`` bytes are sent as they are, anything else as JSON."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    heads = {"Content-Type": "application/json", **(headers or {})}
    if length and "Content-Length" not in heads:
        heads["Content-Length"] = str(len(raw))

    def act(exchange: Exchange) -> None:
        exchange.send(_head(status, heads) + raw)

    return act


def raw_bytes(data: bytes) -> Action:
    """Exactly ``data`` on the wire (garbage, a broken status line, ...)."""
    return lambda exchange: exchange.send(data)


def big_body(size: int, *, mode: str = "length", status: int = 200) -> Action:
    """``size`` bytes of JSON-looking junk, with a Content-Length, chunked, or delimited by closing."""
    piece = b'{"x": "' + b"a" * 65000 + b'"}\n'

    def act(exchange: Exchange) -> None:
        headers = {"Content-Type": "application/json"}
        if mode == "length":
            headers["Content-Length"] = str(size)
        elif mode == "chunked":
            headers["Transfer-Encoding"] = "chunked"
        exchange.send(_head(status, headers))
        sent = 0
        while sent < size and not exchange.stop.is_set():
            chunk = piece[: size - sent]
            exchange.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if mode == "chunked" else chunk)
            sent += len(chunk)
        if mode == "chunked":
            exchange.send(b"0\r\n\r\n")

    return act


def drip(head: bytes, body: bytes, *, every: float = 1.0, in_headers: bool = False) -> Action:
    """Send ``head`` (or, with ``in_headers``, its bytes one at a time), then ``body`` one byte every
    ``every`` seconds: each socket read succeeds long before a per-read timeout."""

    def act(exchange: Exchange) -> None:
        stream = head + body
        start = 0 if in_headers else len(head)
        exchange.send(stream[:start])
        for index in range(start, len(stream)):
            if exchange.stop.wait(every):
                return
            exchange.send(stream[index : index + 1])

    return act


def silent(seconds: float) -> Action:
    """Read the request, answer nothing for ``seconds``."""
    return lambda exchange: exchange.stop.wait(seconds) and None


def redirect(status: int, location: str) -> Action:
    return answer(status, b"", {"Location": location})


def wait_for_close(exchange: Exchange, seconds: float = 10.0) -> None:
    """Block until the client closes the connection (or ``seconds`` pass)."""
    exchange.sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not exchange.sock.recv(1024):
                return
        except OSError:
            return
