"""What HubSpot last said about the rate limit, for code that paces its own calls.

``pause_before_request`` is the hook's default pacing for occasional callers (one booking, a sensor's
polls): wait only when the account as a whole is nearly out. Concurrent batches pace with
``pacing.SlidingWindowLimiter`` instead (and turn this off); ``pacing``'s docstring says why both exist.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

_HEADERS = {
    "max": "X-HubSpot-RateLimit-Max",
    "remaining": "X-HubSpot-RateLimit-Remaining",
    "interval_ms": "X-HubSpot-RateLimit-Interval-Milliseconds",
    "daily": "X-HubSpot-RateLimit-Daily",
    "daily_remaining": "X-HubSpot-RateLimit-Daily-Remaining",
}


@dataclass(frozen=True)
class RateLimitSnapshot:
    """The rate-limit headers of one response; ``None`` where HubSpot did not send the header."""

    max: int | None = None
    remaining: int | None = None
    interval_ms: int | None = None
    daily: int | None = None
    daily_remaining: int | None = None
    #: ``time.monotonic()`` when the response arrived.
    observed_at: float | None = None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class RateLimitState:
    """Thread-safe holder of the newest :class:`RateLimitSnapshot`.

    Only responses that carry rate-limit headers update it (HubSpot omits them on some answers,
    e.g. from the OAuth endpoint); daily headers are kept from earlier answers when a response has
    only the per-interval ones.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = RateLimitSnapshot()

    @property
    def snapshot(self) -> RateLimitSnapshot:
        with self._lock:
            return self._snapshot

    @property
    def max(self) -> int | None:
        return self.snapshot.max

    @property
    def remaining(self) -> int | None:
        return self.snapshot.remaining

    @property
    def interval_ms(self) -> int | None:
        return self.snapshot.interval_ms

    def pause_before_request(self, reserve_fraction: float = 0.1) -> float:
        """Seconds to wait before the next request so the account keeps a reserve of its rolling window.

        ``Remaining`` counts every client of the account, so pacing on it spares other DAGs and apps
        429s too. Below the reserve the wait grows to a whole interval at 0 remaining (by then every
        request counted in that answer has left HubSpot's window), minus the time since that answer.
        """
        seen = self.snapshot
        if seen.max is None or seen.remaining is None or seen.interval_ms is None or seen.observed_at is None:
            return 0.0
        reserve = max(1, int(seen.max * reserve_fraction))
        if seen.remaining >= reserve:
            return 0.0
        share = (reserve - seen.remaining) / reserve
        return max(0.0, share * seen.interval_ms / 1000 - (time.monotonic() - seen.observed_at))

    def update(self, headers: Mapping[str, str]) -> None:
        """Learn from a response's headers (``headers`` must be case-insensitive, like requests')."""
        values = {field: _int_header(headers, header) for field, header in _HEADERS.items()}
        if all(value is None for value in values.values()):
            return
        with self._lock:
            kept = {k: v for k, v in values.items() if v is not None}
            self._snapshot = replace(self._snapshot, **kept, observed_at=time.monotonic())

    def __repr__(self) -> str:
        return f"RateLimitState({self.snapshot})"
