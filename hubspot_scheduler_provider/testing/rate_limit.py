"""HubSpot-style request rate limits for the sandbox (a test double, not HubSpot).

HubSpot allows 100 (Free/Starter) or 190 (Pro/Enterprise) requests per rolling 10 seconds for private
apps and service keys, and 110 per 10 seconds for OAuth apps, plus a daily quota. Here the limit and the
window are parameters so tests can use a scaled-down window. Every authorised API request counts;
refused requests do not.

HubSpot limits the CRM search endpoints separately (a few requests per second per account); a second
:class:`RateLimiter` with ``policy_name=SECONDLY`` and no daily quota stands for that limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

TEN_SECONDLY_ROLLING = "TEN_SECONDLY_ROLLING"
DAILY = "DAILY"
#: ``policyName`` of the sandbox's CRM search 429 (HubSpot's exact search 429 body is not in its specs).
SECONDLY = "SECONDLY"


@dataclass(frozen=True)
class RateDecision:
    #: None when allowed, else the policy that refused: the limiter's ``policy_name`` or ``DAILY``.
    refused_by: str | None
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    def __init__(
        self,
        limit: int | None = 100,
        window_seconds: float = 10.0,
        daily_limit: int | None = 250_000,
        monotonic: Callable[[], float] = time.monotonic,
        policy_name: str = TEN_SECONDLY_ROLLING,
    ) -> None:
        self.limit = limit
        self.policy_name = policy_name
        self.window_seconds = window_seconds
        self.daily_limit = daily_limit
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._day = ""
        self._daily_count = 0

    def reset(self) -> None:
        with self._lock:
            self._recent.clear()
            self._daily_count = 0

    def _expire(self, now: float) -> None:
        horizon = now - self.window_seconds
        while self._recent and self._recent[0] <= horizon:
            self._recent.popleft()
        today = datetime.now(timezone.utc).date().isoformat()
        if today != self._day:
            self._day, self._daily_count = today, 0

    def acquire(self) -> RateDecision:
        """Count one request if the limits allow it; the decision carries the headers to send."""
        with self._lock:
            now = self._monotonic()
            self._expire(now)
            refused_by = None
            if self.daily_limit is not None and self._daily_count >= self.daily_limit:
                refused_by = DAILY
            elif self.limit is not None and len(self._recent) >= self.limit:
                refused_by = self.policy_name
            else:
                self._recent.append(now)
                self._daily_count += 1
            return RateDecision(refused_by, self._headers())

    def headers(self) -> dict[str, str]:
        """Current headers without counting (for answers to unauthorised requests)."""
        with self._lock:
            self._expire(self._monotonic())
            return self._headers()

    def _headers(self) -> dict[str, str]:
        headers = {}
        if self.limit is not None:
            headers["X-HubSpot-RateLimit-Max"] = str(self.limit)
            headers["X-HubSpot-RateLimit-Remaining"] = str(max(self.limit - len(self._recent), 0))
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(self.window_seconds * 1000))
        if self.daily_limit is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(self.daily_limit - self._daily_count, 0))
        return headers
