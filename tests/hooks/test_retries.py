"""Retry rules: GETs retry 429/5xx/connection errors with bounded waits; writes only when HubSpot cannot
have processed them. Waits are recorded through the hook's injectable ``_sleep`` (one test waits for real)."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.errors import (
    HubSpotConnectionError,
    HubSpotRateLimitError,
    HubSpotServerError,
)
from hubspot_scheduler_provider.hooks._retry import retry_after_seconds
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.retry_rules import RetryPolicy
from hubspot_scheduler_provider.testing import (
    DropAfterCommit,
    DropBeforeCommit,
    HubSpotSandbox,
    SlowAfterCommit,
    Status,
)
from tests.hooks.conftest import recording, set_connection
from tests.hooks.test_endpoints import make_booking, open_slots

if TYPE_CHECKING:
    from hubspot_scheduler_provider.models import MeetingBooking

BOOK = "/meeting-links/book"


def hook(**kwargs: Any) -> HubSpotSchedulerHook:
    return recording(HubSpotSchedulerHook(**kwargs))


def a_booking(sandbox_hook: HubSpotSchedulerHook, slug: str = "alice-smith") -> MeetingBooking:
    [(start, duration_ms)] = open_slots(sandbox_hook, slug)
    return make_booking(slug, start, duration_ms)


def posts(sandbox: HubSpotSandbox) -> int:
    return sum(1 for r in sandbox.requests if r.method == "POST" and r.path.endswith(BOOK))


# ------------------------------------------------------------------------------------------------ GET
def test_get_waits_retry_after_on_429(hubspot_sandbox: HubSpotSandbox) -> None:
    hubspot_sandbox.inject(Status(429, headers={"Retry-After": "3"}), method="GET", path_contains="/book/")
    h = hook()
    assert h.get_booking_info("alice-smith", "UTC").link_id
    assert h.waits == [3.0]  # type: ignore[attr-defined]


def test_get_waits_rate_limit_interval_without_retry_after(hubspot_sandbox_factory: Any) -> None:
    sandbox = hubspot_sandbox_factory(rate_window_seconds=2.5)
    sandbox.inject(Status(429), method="GET", path_contains="/book/", times=2)
    h = hook()
    h.get_booking_info("alice-smith", "UTC")
    assert h.waits == [2.5, 2.5]  # type: ignore[attr-defined]  # X-HubSpot-RateLimit-Interval-Milliseconds


def test_get_backs_off_exponentially_on_5xx_and_dropped_connections(hubspot_sandbox: HubSpotSandbox) -> None:
    hubspot_sandbox.inject(Status(500), method="GET", path_contains="/book/")
    hubspot_sandbox.inject(Status(503), method="GET", path_contains="/book/")
    hubspot_sandbox.inject(DropBeforeCommit(), method="GET", path_contains="/book/")
    h = hook()
    assert h.get_booking_info("alice-smith", "UTC").link_id
    # The interval header on every HubSpot answer means nothing for a 5xx: plain back-off.
    assert h.waits == [1.0, 2.0, 4.0]  # type: ignore[attr-defined]


def test_get_gives_up_after_max_retries(hubspot_sandbox: HubSpotSandbox) -> None:
    hubspot_sandbox.inject(Status(502), method="GET", path_contains="/book/", times=10)
    h = hook(max_retries=2)
    with pytest.raises(HubSpotServerError) as raised:
        h.get_booking_info("alice-smith", "UTC")
    assert h.waits == [1.0, 2.0]  # type: ignore[attr-defined]
    assert raised.value.outcome_unknown is False  # a read: nothing to reconcile
    assert len(hubspot_sandbox.requests) == 3


def test_retry_after_longer_than_the_bound_fails_now(hubspot_sandbox: HubSpotSandbox) -> None:
    hubspot_sandbox.inject(Status(429, headers={"Retry-After": "3600"}), method="GET", path_contains="/book/")
    h = hook()
    with pytest.raises(HubSpotRateLimitError) as raised:
        h.get_booking_info("alice-smith", "UTC")
    assert h.waits == []  # type: ignore[attr-defined]
    assert raised.value.retry_after_seconds == 3600.0
    assert raised.value.policy_name == "TEN_SECONDLY_ROLLING"


def test_daily_limit_fails_fast(hubspot_sandbox_factory: Any) -> None:
    sandbox = hubspot_sandbox_factory(daily_limit=1)
    h = hook()
    h.get_booking_info("alice-smith", "UTC")
    with pytest.raises(HubSpotRateLimitError, match="DAILY API limit is used up") as raised:
        h.get_booking_info("alice-smith", "UTC")
    assert raised.value.policy_name == "DAILY"
    assert h.waits == []  # type: ignore[attr-defined]
    assert len(sandbox.requests) == 2


def test_one_real_short_wait(hubspot_sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default ``_sleep`` is the real ``time.sleep``: the one test that really waits (0.2 s)."""
    hubspot_sandbox.inject(Status(429, headers={"Retry-After": "0.2"}), method="GET", path_contains="/book/")
    slept: list[float] = []
    real_sleep = time.sleep
    caller = threading.current_thread()

    def sleep_and_record(seconds: float) -> None:
        if threading.current_thread() is caller:  # not Airflow's own background threads (3.1+)
            slept.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep_and_record)  # before the hook binds it
    h = HubSpotSchedulerHook()
    h.get_booking_info("alice-smith", "UTC")
    assert slept == [0.2]
    assert [r.status for r in hubspot_sandbox.requests] == [429, 200]


def test_rate_limit_headers_are_learned(hubspot_sandbox_factory: Any) -> None:
    sandbox = hubspot_sandbox_factory(rate_limit=7, rate_window_seconds=10)
    h = hook()
    assert h.rate_limit_state.remaining is None
    h.get_booking_info("alice-smith", "UTC")
    first = h.rate_limit_state.snapshot
    assert (first.max, first.remaining, first.interval_ms, first.daily) == (7, 6, 10_000, 250_000)
    h.get_availability("alice-smith", "UTC")
    assert h.rate_limit_state.remaining == 5
    assert h.rate_limit_state.snapshot.daily_remaining == 250_000 - 2
    assert len(sandbox.requests) == 2


# ------------------------------------------------------------------------------------------------ POST
def test_booking_retried_after_429(hubspot_sandbox: HubSpotSandbox) -> None:
    h = hook()
    booking = a_booking(h)
    hubspot_sandbox.inject(Status(429, headers={"Retry-After": "1"}))
    result = h.book_meeting(booking)
    assert h.waits == [1.0]  # type: ignore[attr-defined]
    assert posts(hubspot_sandbox) == 2
    assert len(hubspot_sandbox.bookings) == 1
    assert result.correlation_id == hubspot_sandbox.requests[-1].correlation_id


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_booking_not_retried_after_5xx(hubspot_sandbox: HubSpotSandbox, status: int) -> None:
    h = hook()
    booking = a_booking(h)
    hubspot_sandbox.inject(Status(status, headers={"Retry-After": "1"}))
    with pytest.raises(HubSpotServerError) as raised:
        h.book_meeting(booking)
    assert raised.value.outcome_unknown is True
    assert "may or may not have been processed" in str(raised.value)
    assert h.waits == [] and posts(hubspot_sandbox) == 1  # type: ignore[attr-defined]


def test_booking_not_retried_when_the_connection_drops_after_sending(hubspot_sandbox: HubSpotSandbox) -> None:
    h = hook()
    booking = a_booking(h)
    hubspot_sandbox.inject(DropAfterCommit())
    with pytest.raises(HubSpotConnectionError) as raised:
        h.book_meeting(booking)
    assert raised.value.outcome_unknown is True
    # HubSpot did book it: a retry would have booked the same meeting twice.
    assert len(hubspot_sandbox.bookings) == 1 and posts(hubspot_sandbox) == 1


def test_booking_not_retried_after_read_timeout(hubspot_sandbox_factory: Any) -> None:
    # The timeout is the whole request's deadline (connect and every read), so it must leave room for
    # the sandbox's own answer times on a busy machine.
    sandbox = hubspot_sandbox_factory(conn_extra={"timeout": 1.0})
    h = hook()
    booking = a_booking(h)
    sandbox.inject(SlowAfterCommit(2.5))
    with pytest.raises(HubSpotConnectionError, match=r"no answer within 1 s") as raised:
        h.book_meeting(booking)
    assert raised.value.outcome_unknown is True
    assert h.waits == [] and posts(sandbox) == 1  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_booking_retried_when_the_connection_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused before sending: safe to retry. HubSpot "comes back" during the second wait."""
    port = free_port()
    set_connection(monkeypatch, host=f"http://127.0.0.1:{port}", password="sandbox-token")
    sandbox = HubSpotSandbox(port=port)
    h = hook()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            sandbox.start()

    h._sleep = sleep
    with sandbox:  # up just long enough to pick a bookable slot
        [(start, duration_ms)] = open_slots(HubSpotSchedulerHook(), "alice-smith")
    try:
        result = h.book_meeting(make_booking("alice-smith", start, duration_ms))
    finally:
        sandbox.stop()
    assert waits == [1.0, 2.0]
    assert len(sandbox.bookings) == 1 and result.meeting.start == start


def test_refused_connection_gives_up_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    set_connection(monkeypatch, host=f"http://127.0.0.1:{port}", password="sandbox-token")
    h = hook(max_retries=3)
    booking = make_booking("alice-smith", datetime(2030, 1, 7, 15, tzinfo=timezone.utc), 1_800_000)
    with pytest.raises(HubSpotConnectionError) as raised:
        h.book_meeting(booking)
    assert h.waits == [1.0, 2.0, 4.0]  # type: ignore[attr-defined]
    assert raised.value.outcome_unknown is False  # never sent: nothing to reconcile
    text = str(raised.value)
    assert text.startswith(f"Could not reach HubSpot at http://127.0.0.1:{port} (POST /scheduler/2026-09/")
    assert "Connection refused" in text and "Traceback" not in text


# ------------------------------------------------------------------------------------------------ units
def test_retry_after_parsing() -> None:
    now = time.time()
    http_date = format_datetime(datetime.fromtimestamp(now + 30, tz=timezone.utc), usegmt=True)
    assert 28 <= (retry_after_seconds({"Retry-After": http_date}, now=now) or 0) <= 30
    assert retry_after_seconds({"Retry-After": "2.5"}) == 2.5
    assert retry_after_seconds({"Retry-After": "-4"}) == 0.0
    assert retry_after_seconds({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}) == 10.0
    assert (
        retry_after_seconds({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, rate_limited=False)
        is None
    )
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_backoff_is_bounded() -> None:
    policy = RetryPolicy(backoff_seconds=1.0, max_wait_seconds=10.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
