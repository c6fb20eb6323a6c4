"""What the wire says about retrying: whether a failed request certainly never left, and the wait an
answer asks for. The rules that use them (what is retried, how long at most) live in ``retry_rules``.
"""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

if TYPE_CHECKING:
    from collections.abc import Mapping


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
