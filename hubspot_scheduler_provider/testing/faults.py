"""Fault injection for the sandbox (a test double, not HubSpot).

``sandbox.inject(fault, method="POST", path_contains="/book", times=1)`` queues a fault for the next
matching requests. Faults are consumed in the order they were injected, one per request, thread-safely.

* ``Delay(seconds)``: wait, then handle the request normally.
* ``Status(code, body=None, headers=None)``: answer ``code`` without handling the request (nothing is
  committed); the default body is HubSpot's error JSON (HubSpot's rate-limit body for 429).
* ``DropBeforeCommit()``: close the connection without an answer; nothing is committed.
* ``DropAfterCommit()``: handle the request (a booking IS committed), then close without an answer.
* ``SlowAfterCommit(seconds)``: handle the request, then wait before answering (client read timeouts).
* ``MalformedJson()``: handle the request, then answer 200 with a truncated, unparsable JSON body.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Delay:
    seconds: float


@dataclass(frozen=True)
class Status:
    code: int
    body: Any = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class DropBeforeCommit:
    pass


@dataclass(frozen=True)
class DropAfterCommit:
    pass


@dataclass(frozen=True)
class SlowAfterCommit:
    seconds: float


@dataclass(frozen=True)
class MalformedJson:
    pass


Fault = Delay | Status | DropBeforeCommit | DropAfterCommit | SlowAfterCommit | MalformedJson


@dataclass
class _Armed:
    fault: Fault
    method: str | None
    path_contains: str
    remaining: int


@dataclass
class FaultQueue:
    _armed: list[_Armed] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault, *, method: str | None, path_contains: str, times: int) -> None:
        if times < 1:
            raise ValueError("times: must be at least 1")
        with self._lock:
            self._armed.append(_Armed(fault, method.upper() if method else None, path_contains, times))

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching ``method path`` (used up after its ``times``), or None."""
        with self._lock:
            for armed in self._armed:
                if armed.method in (None, method) and armed.path_contains in path:
                    armed.remaining -= 1
                    if armed.remaining == 0:
                        self._armed.remove(armed)
                    return armed.fault
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(armed.remaining for armed in self._armed)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
