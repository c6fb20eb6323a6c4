"""Redis endpoints that misbehave, on loopback: one that accepts connections and never answers (a
blackholed Redis: every command waits for its read timeout), and one that answers every command with an
error quoting what it was sent (the AUTH password included)."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType


class FakeRedis:
    """A loopback listener; ``connections`` counts the storage attempts that reached it."""

    def __init__(self, *, echo: bool) -> None:
        self._echo = echo
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.connections = 0
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, userinfo: str = "") -> str:
        return f"redis://{userinfo}127.0.0.1:{self.port}/1"

    def __enter__(self) -> FakeRedis:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stopped.set()
        self._listener.close()
        for sock in self._held:
            sock.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(sock)  # a blackhole keeps it open and silent
            if self._echo:
                threading.Thread(target=self._answer_errors, args=(sock,), daemon=True).start()

    @staticmethod
    def _answer_errors(sock: socket.socket) -> None:
        try:
            while data := sock.recv(65536):
                quoted = data.decode("latin-1").replace("\r", " ").replace("\n", " ")
                sock.sendall(f"-ERR refused, you sent: {quoted}\r\n".encode("latin-1"))
        except OSError:
            return
