"""``MeetingSlotAvailableTrigger.run()`` driven directly with asyncio against the sandbox."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.errors import HubSpotRateLimitError
from hubspot_scheduler_provider.testing import Delay, Status
from hubspot_scheduler_provider.triggers.slot_available import (
    DAILY_LIMIT_BACKOFF_SECONDS,
    MeetingSlotAvailableTrigger,
)

from .conftest import MARCH_NOW, TOKEN, availability_reads

if TYPE_CHECKING:
    from airflow.triggers.base import TriggerEvent

THIRTY_MIN = 30 * 60_000


def make_trigger(**kwargs: Any) -> MeetingSlotAvailableTrigger:
    arguments: dict[str, Any] = {
        "slug": "alice-smith",
        "duration_ms": THIRTY_MIN,
        "timezone": "America/New_York",
        "poll_interval": 0.05,
        "deadline": (datetime.now(timezone.utc) + timedelta(seconds=30)).isoformat(),
        **kwargs,
    }
    return MeetingSlotAvailableTrigger(**arguments)


async def first_event(trigger: MeetingSlotAvailableTrigger) -> TriggerEvent:
    events = trigger.run()
    event: TriggerEvent = await events.__anext__()
    await events.aclose()
    return event


def run(trigger: MeetingSlotAvailableTrigger) -> dict[str, Any]:
    payload: dict[str, Any] = asyncio.run(first_event(trigger)).payload
    return payload


def test_serialize_round_trips_with_json_values_and_no_secret():
    trigger = make_trigger(earliest="2026-03-02T09:00:00-05:00", latest=None, api_version="2026-03")

    classpath, kwargs = trigger.serialize()

    assert classpath == "hubspot_scheduler_provider.triggers.slot_available.MeetingSlotAvailableTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert TOKEN not in json.dumps(kwargs)
    assert set(kwargs) == {
        "slug",
        "duration_ms",
        "timezone",
        "earliest",
        "latest",
        "hubspot_conn_id",
        "poll_interval",
        "deadline",
        "api_version",
    }
    assert MeetingSlotAvailableTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_fires_with_the_first_free_slot(sandbox):
    payload = run(make_trigger(earliest="2026-03-02T10:00:00-05:00"))

    assert payload == {"status": "success", "slot": "2026-03-02T10:00:00-05:00", "polls": 1}


def test_keeps_polling_until_a_slot_frees_up(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")
    trigger = make_trigger(latest="2026-03-31T17:00:00-04:00")

    async def scenario() -> TriggerEvent:
        waiting = asyncio.create_task(first_event(trigger))
        # Let it find nothing a few times; the test's own coroutine keeps running meanwhile.
        while len(availability_reads(sandbox)) < 6:
            assert not waiting.done()
            await asyncio.sleep(0.01)
        sandbox.reset()  # the busy times go away
        return await waiting

    payload = asyncio.run(scenario()).payload

    assert payload["status"] == "success" and payload["polls"] >= 3
    assert payload["slot"] == "2026-03-02T09:00:00-05:00"


def test_a_slow_hubspot_does_not_block_the_event_loop(sandbox):
    sandbox.inject(Delay(1.0), method="GET", path_contains="/availability-page/")
    ticks_before_event = 0

    async def scenario() -> TriggerEvent:
        nonlocal ticks_before_event
        waiting = asyncio.create_task(first_event(make_trigger()))
        while not waiting.done():
            ticks_before_event += 1
            await asyncio.sleep(0.01)
        return waiting.result()

    payload = asyncio.run(scenario()).payload

    assert payload["status"] == "success"
    # While the poll waited a second for HubSpot, other coroutines kept running on the loop
    # (a blocking poll would have let this one tick once or twice at most).
    assert ticks_before_event >= 20


def test_times_out_at_the_deadline(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")
    # Long enough for a second poll on a busy machine (a poll there can take a few hundred ms).
    deadline = (datetime.now(timezone.utc) + timedelta(seconds=2)).isoformat()

    payload = run(make_trigger(latest="2026-03-31T17:00:00-04:00", deadline=deadline, poll_interval=0.1))

    assert payload["status"] == "timeout" and payload["polls"] >= 2
    assert payload["message"] == (
        "No free 30-minute slot on page 'alice-smith' in now .. 2026-03-31T17:00:00-04:00 "
        f"before the deadline {deadline}"
    )


def test_waits_out_a_rate_limit_for_as_long_as_hubspot_asks(sandbox):
    sandbox.inject(
        Status(429, headers={"Retry-After": "0.2"}), method="GET", path_contains="/availability-page/"
    )

    payload = run(make_trigger())

    assert payload["status"] == "success" and payload["polls"] == 2
    assert [r.status for r in sandbox.requests] == [429, 200]


def test_paces_on_a_low_remaining_in_asyncio_not_in_a_worker_thread(hubspot_sandbox_factory):
    # Two requests per second: polling every 10 ms, the trigger must wait for the window itself (a
    # window long enough that a busy machine's polls still outrun it).
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=MARCH_NOW, rate_limit=2, rate_window_seconds=1.0)
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")
    deadline = (datetime.now(timezone.utc) + timedelta(seconds=3.5)).isoformat()
    trigger = make_trigger(latest="2026-03-31T17:00:00-04:00", deadline=deadline, poll_interval=0.01)
    thread_waits: list[float] = []
    trigger.hook._sleep = thread_waits.append  # a time.sleep in the poll's worker thread would land here

    payload = run(trigger)

    assert payload["status"] == "timeout" and payload["polls"] >= 4
    assert {r.status for r in sandbox.requests} == {200}  # paced: not one 429
    assert thread_waits == []
    assert trigger.hook.transport.session.adapters["http://"].poolmanager.pools.keys() == set()  # closed


def test_waits_out_a_server_error(sandbox):
    sandbox.inject(Status(503), method="GET", path_contains="/availability-page/")

    payload = run(make_trigger())

    assert payload["status"] == "success" and payload["polls"] == 2
    assert [r.status for r in sandbox.requests] == [503, 200]


def test_backoff_after_rate_limits():
    trigger = make_trigger(poll_interval=30)
    ten_secondly = HubSpotRateLimitError(
        "slow down", policy_name="TEN_SECONDLY_ROLLING", retry_after_seconds=45
    )
    short_ask = HubSpotRateLimitError("slow down", policy_name="TEN_SECONDLY_ROLLING", retry_after_seconds=1)
    daily = HubSpotRateLimitError("daily limit", policy_name="DAILY", retry_after_seconds=None)

    # Never sooner than HubSpot asks, never sooner than the poll interval, long after a DAILY refusal.
    assert trigger._wait_after(ten_secondly) == 45
    assert trigger._wait_after(short_ask) == 30
    assert trigger._wait_after(daily) == DAILY_LIMIT_BACKOFF_SECONDS


@pytest.mark.parametrize(
    ("kwargs", "error_type", "retryable", "message"),
    [
        ({"slug": "no-such-page"}, "HubSpotNotFoundError", True, "HTTP 404"),
        (
            {"duration_ms": 45 * 60_000},
            "BookingInputError",
            False,
            "duration: 45 min (2700000 ms) is not offered",
        ),
        ({"timezone": "Mars/Olympus_Mons"}, "BookingInputError", False, "timezone: unknown time zone"),
        (
            {"deadline": "2026-03-02T12:00:00"},
            "ValueError",
            False,
            "deadline: '2026-03-02T12:00:00' has no UTC offset",
        ),
    ],
)
def test_fails_fast_when_waiting_cannot_help(sandbox, kwargs, error_type, retryable, message):
    payload = run(make_trigger(**kwargs))

    assert payload["status"] == "error"
    assert (payload["error_type"], payload["retryable"]) == (error_type, retryable)
    assert message in payload["message"]
    assert TOKEN not in payload["message"]


def test_wrong_token_fails_fast(sandbox, monkeypatch):
    wrong = {**sandbox.connection_dict(), "password": "revoked-token-never-print-me"}
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps(wrong))

    payload = run(make_trigger())

    assert payload["status"] == "error" and payload["error_type"] == "HubSpotAuthenticationError"
    assert "revoked-token-never-print-me" not in payload["message"]
    assert [r.status for r in sandbox.requests] == [401]
