"""Fixtures for hook tests: the HubSpot sandbox (from the provider's pytest plugin) and, for wire-level
details the sandbox deliberately hides (raw headers, arbitrary bodies), a tiny scripted HTTP server.
Both are real HTTP servers on 127.0.0.1; nothing is mocked."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    #: The client's TCP port: equal ports mean one kept-alive connection.
    client_port: int


class ScriptedServer:
    """Answers requests from a queue of :class:`Answer` (default: 200 ``{}``) and records them raw."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server._lock:
                    server.seen.append(
                        Seen(
                            self.command, self.path, dict(self.headers.items()), body, self.client_address[1]
                        )
                    )
                    answer = server.answers.pop(0) if server.answers else Answer()
                raw = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json", **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def queue(self, *answers: Answer) -> None:
        with self._lock:
            self.answers.extend(answers)


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str = "hubspot_default", **conn: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "hubspot", **conn}))


@pytest.fixture
def scripted_hook(scripted_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> HubSpotSchedulerHook:
    """A hook on the scripted server whose retry waits are recorded in ``hook.waits``, not slept."""
    set_connection(monkeypatch, host=scripted_server.url, password="scripted-token")
    return recording(HubSpotSchedulerHook())


def recording(hook: HubSpotSchedulerHook) -> HubSpotSchedulerHook:
    waits: list[float] = []
    hook._sleep = waits.append
    hook.waits = waits  # type: ignore[attr-defined]
    return hook
