"""When to retry a HubSpot request, and how long to wait first.

A write is retried only when HubSpot cannot have processed it: HubSpot has no idempotency key, so
replaying a booking after a timeout or 5xx can book the same meeting twice.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Answers saying HubSpot did NOT process the request (423 Locked, 477 Migration in progress; HubSpot
#: asks to retry after ``Retry-After``): safe to repeat even for a booking.
NOT_PROCESSED_STATUSES = frozenset({423, 477})
#: Statuses worth retrying for requests that are safe to repeat.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504}) | NOT_PROCESSED_STATUSES


@dataclass(frozen=True)
class RetryPolicy:
    #: Retries after the first attempt.
    max_retries: int = 5
    #: First back-off after a 5xx or connection error; doubles each retry.
    backoff_seconds: float = 1.0
    #: No single wait is longer; when HubSpot asks for more (``Retry-After``) the error is raised instead.
    max_wait_seconds: float = 60.0

    def backoff(self, retry_number: int) -> float:
        """Exponential back-off for the ``retry_number``-th retry (1-based), capped."""
        return min(self.backoff_seconds * 2 ** (retry_number - 1), self.max_wait_seconds)


def never_sent(error: requests.exceptions.RequestException) -> bool:
    """Whether the request certainly did not reach HubSpot (refused, DNS failure, connect timeout).

    Only then may a write be replayed. Read timeouts and dropped connections leave the outcome unknown.
    """
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(error, requests.exceptions.ConnectionError):
        return False
    reason = getattr(error.args[0], "reason", None) if error.args else None
    candidates = [error.args[0] if error.args else None, reason]
    return any(isinstance(c, (NewConnectionError, ConnectTimeoutError)) for c in candidates)


def retry_after_seconds(
    headers: Mapping[str, str], *, rate_limited: bool = True, now: float | None = None
) -> float | None:
    """The wait HubSpot asks for: ``Retry-After`` (seconds or HTTP date), else, for a 429, the
    rate-limit interval (HubSpot sends the interval header on every answer, so it means nothing for a 5xx)."""
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                moment = email.utils.parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                moment = None
            if moment is not None:
                return max(0.0, moment.timestamp() - (time.time() if now is None else now))
    interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds") if rate_limited else None
    if interval:
        try:
            return max(0.0, int(interval) / 1000)
        except ValueError:
            return None
    return None
