"""Pacing: the one home of how this provider keeps under HubSpot's rate limits.

Three mechanisms, each for one kind of caller:

* :class:`RateLimitState` remembers HubSpot's ``X-HubSpot-RateLimit-*`` headers;
  ``pause_before_request()`` is the hook's (and the trigger's) wait when the account is nearly out;
* :class:`SlidingWindowLimiter` paces a batch's threads exactly (:class:`PacedAdapter` mounts it);
* :func:`new_search_limiter` is the CRM search pacer every transport holds (the search limit is
  separate from, and far below, the general one).

Client-side pacing keeps many threads' HubSpot requests under the account's rate limit.

HubSpot counts requests per account in a rolling window (``X-HubSpot-RateLimit-Max`` requests per
``X-HubSpot-RateLimit-Interval-Milliseconds``, e.g. 190 per 10 s) and answers 429 beyond it. A 429 costs
the thread that got it a whole window of waiting, so a batch paces itself instead:
:class:`SlidingWindowLimiter` lets a request start only while fewer than ``max_requests`` requests count
against the current window, as HubSpot counts them.

HubSpot counts a request at some moment between its sending and its answer. So a request paced with
:meth:`~SlidingWindowLimiter.slot` counts from when it is sent until one window after its answer arrived:
never a 429 from this client, whatever the network's delays, for the price of one round trip per window.

API, for any code that sends requests (one limiter shared by every thread of a batch):

* ``with limiter.slot(): send()``: waits until the request may be sent; exact (see above).
* ``limiter.acquire()`` before a request whose answer time is not reported: it counts for one window
  plus ``headroom`` (a fraction of the window for the delivery delay) from now.
* ``limiter.configure(max_requests, window_seconds)`` changes the limit while in use (e.g. once the first
  answer's headers are known, :func:`limit_from_headers`); requests already counted keep counting.
* :class:`PacedAdapter`: a ``requests`` transport adapter sending every request of a session through
  ``slot()`` (the hook's retries and CRM reads included). Pass it as ``adapter=`` to
  ``HubSpotSchedulerHook`` (``HttpHook``'s adapter argument); it also sizes the keep-alive connection
  pool to the number of threads.

Why a second pacing mechanism, next to ``RateLimitState.pause_before_request`` in the hook's transport:

* the transport's pause is reactive and cheap: one caller sending now and then (a single booking, a
  sensor) waits only when HubSpot's last ``X-HubSpot-RateLimit-Remaining`` says the account (all its
  clients) is nearly out. It cannot keep many threads under the limit: they all read the same stale
  ``Remaining`` and send together;
* this limiter is proactive and exact for one client's own requests: a batch's threads share it and
  never exceed ``max_requests`` per window, at the full rate.

A batch uses only this limiter (hook built with ``pace_on_remaining=False``): pausing on ``Remaining``
on top would leave part of the limit unused. A trigger uses neither in a worker thread: it must wait in
``asyncio.sleep``, so it reads ``pause_before_request()`` itself between polls.
"""

from __future__ import annotations

import heapq
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter

from hubspot_scheduler_provider._validation import require_positive_number, require_whole_number

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    import requests

#: HubSpot's smallest per-app limit (Free/Starter private apps: 100 requests per 10 s), used until the
#: account's real limit is known from a response's headers.
FALLBACK_MAX_REQUESTS = 100
FALLBACK_WINDOW_SECONDS = 10.0
#: For :meth:`SlidingWindowLimiter.acquire`: extra fraction of the window a request counts, because it
#: reaches HubSpot a little after ``acquire()`` returns, and not always after the same delay.
DEFAULT_HEADROOM = 0.05
#: Longest pause on a low ``Remaining``: HubSpot's longest rolling window is 10 s.
MAX_PAUSE_SECONDS = 10.0
#: HubSpot's CRM search limit (requests per window, per account), separate from the general limit.
SEARCH_MAX_REQUESTS = 5
SEARCH_WINDOW_SECONDS = 1.0


def _check_limit(max_requests: Any, window_seconds: Any) -> tuple[int, float]:
    return (
        require_whole_number("max_requests_per_window", max_requests, minimum=1),
        require_positive_number("window_seconds", window_seconds),
    )


class SlidingWindowLimiter:
    """Fewer than ``max_requests`` other requests count against the window when one starts; thread-safe.

    A sliding log (one float per request of the current window, and a count of requests in flight), not
    a token bucket: HubSpot's rolling window allows a full burst after a quiet window, and so does this.
    """

    def __init__(
        self,
        max_requests: int,
        window_seconds: float,
        *,
        headroom: float = DEFAULT_HEADROOM,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(headroom, bool) or not isinstance(headroom, (int, float)) or not 0 <= headroom < 1:
            raise ValueError(f"headroom: must be a fraction in [0, 1), got {headroom!r}")
        self._max_requests, self._window = _check_limit(max_requests, window_seconds)
        self._headroom = float(headroom)
        self._clock = clock
        self._sleep = sleep
        self._changed = threading.Condition(threading.Lock())
        #: Moments from which each finished request counts for one window (a min-heap).
        self._counted_from: list[float] = []
        #: Requests sent through slot() whose answer has not arrived: they count until it does.
        self._in_flight = 0
        #: Requests let through, and seconds spent waiting in total (for progress logs).
        self.acquired = 0
        self.waited_seconds = 0.0
        #: Per thread: whether its next slot() was already taken by reserved().
        self._local = threading.local()

    @property
    def max_requests(self) -> int:
        return self._max_requests

    @property
    def window_seconds(self) -> float:
        return self._window

    def configure(self, max_requests: int, window_seconds: float) -> None:
        """Change the limit; requests already counted keep counting against the new one."""
        checked = _check_limit(max_requests, window_seconds)
        with self._changed:
            self._max_requests, self._window = checked
            self._changed.notify_all()

    def acquire(self) -> float:
        """Block until one more request may start, count it for a window plus headroom from now, and
        return the seconds waited."""
        return self._wait_for_room(in_flight=False)

    @contextmanager
    def reserved(self) -> Iterator[float]:
        """Take this thread's next request's slot now (yields the seconds waited), for a caller that must
        act between being let through and sending: the booking ledger writes its "sending" record only
        for a request that is really on its way, never for one still queued here. The thread's next
        :meth:`slot` (the adapter's) uses the reservation instead of waiting again."""
        with self.slot() as waited:
            self._local.prepaid = True
            try:
                yield waited
            finally:
                self._local.prepaid = False

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Block until one more request may start (yields the seconds waited); the request counts until
        one window after the ``with`` block ends, i.e. after its answer arrived."""
        if getattr(self._local, "prepaid", False):
            self._local.prepaid = False  # counted by the reserved() block around this request
            yield 0.0
            return
        waited = self._wait_for_room(in_flight=True)
        try:
            yield waited
        finally:
            with self._changed:
                self._in_flight -= 1
                heapq.heappush(self._counted_from, self._clock())
                self._changed.notify_all()

    def _wait_for_room(self, *, in_flight: bool) -> float:
        started = self._clock()
        while True:
            with self._changed:
                now = self._clock()
                horizon = now - self._window
                counted = self._counted_from
                while counted and counted[0] <= horizon:
                    heapq.heappop(counted)
                must_leave = self._in_flight + len(counted) - self._max_requests + 1
                if must_leave <= 0:
                    if in_flight:
                        self._in_flight += 1
                    else:
                        heapq.heappush(counted, now + self._window * self._headroom)
                    waited = now - started
                    self.acquired += 1
                    self.waited_seconds += waited
                    return waited
                if must_leave > len(counted):
                    # Requests in flight must be answered first; each answer notifies.
                    self._changed.wait(timeout=self._window)
                    continue
                delay = heapq.nsmallest(must_leave, counted)[-1] - horizon
            self._sleep(delay)  # not holding the lock

    def __repr__(self) -> str:
        return f"SlidingWindowLimiter(max_requests={self._max_requests}, window_seconds={self._window:g})"


def limit_from_headers(snapshot: RateLimitSnapshot) -> tuple[int, float] | None:
    """``(max_requests, window_seconds)`` from HubSpot's rate-limit headers, or None if not sent."""
    if not snapshot.max or not snapshot.interval_ms or snapshot.max < 1 or snapshot.interval_ms < 1:
        return None
    return snapshot.max, snapshot.interval_ms / 1000


class PacedAdapter(TCPKeepAliveAdapter):
    """HttpHook's default keep-alive adapter, pacing every request through ``limiter`` and pooling up to
    ``pool_maxsize`` connections (requests' default of 10 would open and drop connections beyond 10
    threads)."""

    def __init__(self, limiter: SlidingWindowLimiter, *, pool_maxsize: int = 10, **kwargs: Any) -> None:
        # HttpHook's own keep-alive settings (idle 120 s, 20 probes, 30 s apart).
        kwargs = {"idle": 120, "count": 20, "interval": 30, **kwargs}
        super().__init__(pool_maxsize=pool_maxsize, **kwargs)
        self.limiter = limiter

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        with self.limiter.slot():
            return super().send(request, *args, **kwargs)


def new_search_limiter() -> SlidingWindowLimiter:
    """A pacer at HubSpot's CRM search limit; ``.configure()`` changes it for all who share it."""
    return SlidingWindowLimiter(SEARCH_MAX_REQUESTS, SEARCH_WINDOW_SECONDS)


# --- what HubSpot last said about the rate limit -------------------------------------------------------

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
        pause = share * seen.interval_ms / 1000 - (time.monotonic() - seen.observed_at)
        # Headers are the server's word: a hostile interval must not park the caller for days.
        return min(max(0.0, pause), MAX_PAUSE_SECONDS)

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
