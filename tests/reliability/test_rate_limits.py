"""Rate limits and "not processed" answers: proactive pacing from ``X-HubSpot-RateLimit-Remaining``,
``DAILY`` fails fast, 423/477 honour ``Retry-After`` (for bookings too: HubSpot did not process them)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hubspot_scheduler_provider.errors import HubSpotDailyLimitError, HubSpotError
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.testing import HubSpotSandbox, Status
from tests.reliability.helpers import SANDBOX_NOW, TOKEN, booking_posts
from tests.reliability.test_exactly_once import a_booking

BOOK = "/meeting-links/book"


def hook_recording_waits(*, really_wait: bool) -> tuple[HubSpotSchedulerHook, list[float]]:
    hook = HubSpotSchedulerHook()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if really_wait:
            time.sleep(seconds)

    hook._sleep = sleep
    return hook, waits


def answered(sandbox: HubSpotSandbox, status: int) -> int:
    return sum(1 for r in sandbox.requests if r.status == status)


def test_pacing_on_remaining_keeps_a_busy_account_free_of_429s(hubspot_sandbox_factory: Any) -> None:
    # A window long enough that even a busy machine sends 12 requests faster than 5 per window.
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, rate_limit=5, rate_window_seconds=2.0)
    hook, waits = hook_recording_waits(really_wait=True)

    for _ in range(12):
        hook.get_booking_info("alice-smith", "UTC")

    assert answered(sandbox, 200) == 12
    assert answered(sandbox, 429) == 0
    assert waits and all(0 < wait <= 2.0 for wait in waits)  # paced, never more than one window


def test_pacing_waits_nothing_while_plenty_remains(hubspot_sandbox: HubSpotSandbox) -> None:
    hook, waits = hook_recording_waits(really_wait=False)

    for _ in range(5):
        hook.get_booking_info("alice-smith", "UTC")

    assert waits == []
    assert hook.rate_limit_state.remaining is not None


def test_daily_limit_fails_fast_without_waiting(hubspot_sandbox_factory: Any) -> None:
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, daily_limit=0)
    hook, waits = hook_recording_waits(really_wait=False)

    with pytest.raises(HubSpotDailyLimitError):
        hook.get_booking_info("alice-smith", "UTC")

    assert (waits, len(sandbox.requests)) == ([], 1)


@pytest.mark.parametrize(
    ("status", "headers", "expected_wait"),
    [
        (423, {"Retry-After": "3"}, 3.0),
        (423, {}, 2.0),  # HubSpot: locks last 2 seconds
        (477, {"Retry-After": "7"}, 7.0),
    ],
    ids=["423-retry-after", "423-lock-time", "477-retry-after"],
)
def test_not_processed_answers_to_a_booking_are_retried_after_the_asked_wait(
    hubspot_sandbox: HubSpotSandbox, status: int, headers: dict[str, str], expected_wait: float
) -> None:
    hubspot_sandbox.inject(Status(status, headers=headers), path_contains=BOOK)
    hook, waits = hook_recording_waits(really_wait=False)

    result = hook.book_meeting(a_booking())

    assert waits == [expected_wait]
    assert result.raw["contactId"]
    assert (booking_posts(hubspot_sandbox), len(hubspot_sandbox.bookings)) == (2, 1)


def test_a_wait_beyond_the_budget_fails_at_once_and_says_nothing_was_booked(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    # HubSpot asks for up to 24 hours during a data-hosting migration: more than any task should sleep.
    hubspot_sandbox.inject(Status(477, headers={"Retry-After": "86400"}), path_contains=BOOK)
    hook, waits = hook_recording_waits(really_wait=False)

    with pytest.raises(HubSpotError) as raised:
        hook.book_meeting(a_booking())

    assert (raised.value.status, raised.value.outcome_unknown, waits) == (477, False, [])
    assert hubspot_sandbox.bookings == []
