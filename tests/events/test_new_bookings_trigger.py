"""``NewBookingsTrigger`` against the sandbox on loopback (its real search, index lag and ties): once per
meeting booked through the watched pages, by visitors, across a restart that keeps the asset state
store, through index lag and equal creation times.

The trigger's generator is driven here as the triggerer drives it; ``asset_state_store`` (which the
Airflow 3.3 triggerer injects into asset watchers) is a small in-memory store with the same async
``aget``/``aset``: the real one is exercised by tests/e2e/test_new_bookings_watcher.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.triggers import new_bookings
from hubspot_scheduler_provider.triggers.new_bookings import BookingWatermark, NewBookingsTrigger
from tests.events.conftest import TOKEN, book, free_starts

if TYPE_CHECKING:
    from collections.abc import Callable

ALICE_LINK = "3001"  # alice-smith
TEAM_LINK = "3002"  # sales-team/round-robin


class MemoryStateStore:
    """What the triggerer injects as ``asset_state_store`` (``aget``/``aset`` of JSON values)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.writes += 1


@pytest.fixture(autouse=True)
def _quick_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(new_bookings, "COMMIT_DELAY_SECONDS", 0.1)


def make_trigger(**kwargs: Any) -> NewBookingsTrigger:
    options: dict[str, Any] = {
        "link_ids": [ALICE_LINK],
        "created_after": (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat(),
        "poll_interval": 0.2,
        "overlap_seconds": 5,
    }
    options.update(kwargs)
    return NewBookingsTrigger(**options)


async def run_until(
    trigger: NewBookingsTrigger, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30
) -> list[dict[str, Any]]:
    """Drive ``trigger.run()`` until ``done(events)`` (checked as events come and every 50 ms), then stop
    it as the triggerer does when it shuts down (cancel)."""
    events: list[dict[str, Any]] = []

    async def consume() -> None:
        async for event in trigger.run():
            events.append(event.payload)

    task = asyncio.ensure_future(consume())
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while not done(events) and not task.done() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return events


def test_fires_once_per_visitor_booking_on_the_watched_page_only(live_sandbox: Any) -> None:
    trigger = make_trigger()
    starts = free_starts(live_sandbox, "alice-smith", 3)
    [elsewhere] = free_starts(live_sandbox, "sales-team/round-robin", 1)
    booked = book(live_sandbox, starts)
    book(live_sandbox, [elsewhere], slug="sales-team/round-robin")

    events = asyncio.run(run_until(trigger, lambda e: False, timeout=3))

    assert sorted(e["meeting_id"] for e in events) == sorted(booked)
    for event, start in zip(sorted(events, key=lambda e: e["start"]), starts, strict=True):
        assert event["link_id"] == ALICE_LINK
        assert datetime.fromisoformat(event["start"].replace("Z", "+00:00")) == start
        assert event["owner_id"] and event["contact_id"]
        assert set(event) == {"meeting_id", "start", "owner_id", "contact_id", "link_id", "created_at"}


def test_no_repeat_and_no_miss_across_a_restart(live_sandbox: Any) -> None:
    store = MemoryStateStore()
    starts = free_starts(live_sandbox, "alice-smith", 5)
    first = book(live_sandbox, starts[:3])
    trigger = make_trigger()
    trigger.asset_state_store = store
    # Stopped once its 3 events are out and their (delayed) commit is written (after the first start's).
    before = asyncio.run(run_until(trigger, lambda e: len(e) == 3 and store.writes > 1))

    second = book(live_sandbox, starts[3:])  # booked while the triggerer is down
    restarted = trigger_with(store)
    after = asyncio.run(run_until(restarted, lambda e: False, timeout=3))

    assert sorted(e["meeting_id"] for e in before) == sorted(first)
    assert sorted(e["meeting_id"] for e in after) == sorted(second)


def trigger_with(store: MemoryStateStore) -> NewBookingsTrigger:
    """A new trigger instance for the same watch, as a restarted triggerer makes it."""
    trigger = make_trigger(created_after="2020-01-01T00:00:00+00:00")
    trigger.asset_state_store = store
    return trigger


def test_equal_creation_times_all_fire_once(live_sandbox: Any) -> None:
    created = datetime.now(timezone.utc).replace(microsecond=0)
    starts = free_starts(live_sandbox, "alice-smith", 4)
    booked = book(live_sandbox, starts, created_at=created)
    trigger = make_trigger(created_after=(created - timedelta(seconds=1)).isoformat(), page_size=2)

    events = asyncio.run(run_until(trigger, lambda e: False, timeout=3))

    assert sorted(e["meeting_id"] for e in events) == sorted(booked)
    assert {e["created_at"] for e in events} == {created.isoformat(timespec="milliseconds")[:-6] + "Z"}


def test_a_meeting_the_index_shows_late_still_fires(live_sandbox: Any) -> None:
    starts = free_starts(live_sandbox, "alice-smith", 2)
    trigger = make_trigger(
        overlap_seconds=10, created_after=(datetime.now(timezone.utc) - timedelta(seconds=30)).isoformat()
    )
    newer = book(live_sandbox, starts[:1])

    async def scenario() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []

        async def late_booking() -> list[str]:
            while not events:  # the trigger saw the newer meeting: its watermark is past "now - 3 s"
                await asyncio.sleep(0.05)
            live_sandbox.crm_index_lag_seconds = 1.5
            # Created 3 s before the meeting already seen, searchable only 1.5 s later.
            created = datetime.now(timezone.utc) - timedelta(seconds=3)
            return await asyncio.to_thread(book, live_sandbox, starts[1:], created_at=created)

        booking = asyncio.ensure_future(late_booking())

        async def consume() -> None:
            async for event in trigger.run():
                events.append(event.payload)
                if len(events) == 2:
                    return

        await asyncio.wait_for(consume(), 10)
        assert [e["meeting_id"] for e in events] == [*newer, *(await booking)]
        return events

    asyncio.run(scenario())


def test_without_overlap_a_late_meeting_is_missed() -> None:
    """The overlap is the mechanism: with none, the late meeting is below the watermark (pure logic)."""
    state = BookingWatermark(watermark_ms=1_000, overlap_ms=0)
    assert [m.id for m in state.take_new([meeting("a", 5_000)])] == ["a"]
    assert state.take_new([meeting("late", 2_000), meeting("a", 5_000)]) == []
    kept = BookingWatermark(watermark_ms=1_000, overlap_ms=5_000)
    kept.take_new([meeting("a", 5_000)])
    assert [m.id for m in kept.take_new([meeting("late", 2_000), meeting("a", 5_000)])] == ["late"]
    assert set(kept.seen) == {"a", "late"}


def meeting(meeting_id: str, created_ms: int) -> Any:
    from hubspot_scheduler_provider.hooks.crm import CrmMeeting

    created = datetime.fromtimestamp(created_ms / 1000, tz=timezone.utc)
    return CrmMeeting(
        id=meeting_id,
        start=created,
        end=None,
        title=None,
        properties={"hs_createdate": created.isoformat().replace("+00:00", "Z")},
    )


def test_serializes_without_secrets_and_rejects_an_empty_watch() -> None:
    classpath, kwargs = make_trigger(hubspot_conn_id="crm").serialize()
    assert classpath == "hubspot_scheduler_provider.triggers.new_bookings.NewBookingsTrigger"
    assert NewBookingsTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert TOKEN not in repr(kwargs)
    with pytest.raises(ValueError, match="link_ids/slugs/owner_ids"):
        NewBookingsTrigger()


def test_slugs_name_the_pages_and_an_unknown_one_is_logged_not_fired(
    live_sandbox: Any, task_logs: Callable[[], str]
) -> None:
    [start] = free_starts(live_sandbox, "alice-smith", 1)
    booked = book(live_sandbox, [start])
    by_slug = make_trigger(link_ids=[], slugs=["alice-smith"])
    assert [e["meeting_id"] for e in asyncio.run(run_until(by_slug, lambda e: bool(e), timeout=5))] == booked

    unknown = make_trigger(link_ids=[], slugs=["no-such-page"])
    assert asyncio.run(run_until(unknown, lambda e: False, timeout=1.5)) == []
    assert [line for line in logged_errors(task_logs()) if "no-such-page" in line]
    [error] = asyncio.run(
        run_until(make_trigger(link_ids=[], slugs=["no-such-page"], single_event=True), bool)
    )
    assert error["status"] == "error" and "no-such-page" in error["message"]


def test_a_restart_before_the_first_booking_fires_bookings_made_while_down(live_sandbox: Any) -> None:
    """No ``created_after`` (the example DAG's watch): the first start's watermark is stored at once."""
    store = MemoryStateStore()
    first = make_trigger(created_after=None)
    first.asset_state_store = store
    assert asyncio.run(run_until(first, lambda e: bool(searches(live_sandbox)))) == []  # one empty poll

    booked = book(live_sandbox, free_starts(live_sandbox, "alice-smith", 1))  # while the triggerer is down
    restarted = make_trigger(created_after=None)
    restarted.asset_state_store = store
    after = asyncio.run(run_until(restarted, bool, timeout=10))

    assert [e["meeting_id"] for e in after] == booked


def searches(hubspot: Any) -> list[Any]:
    """The CRM meeting searches the sandbox answered (fault or not)."""
    from hubspot_scheduler_provider.hooks.crm import MEETING_SEARCH_PATH

    return [r for r in hubspot.requests if r.path == MEETING_SEARCH_PATH]


@pytest.mark.parametrize("code", [401, 403, 503])
def test_a_watcher_logs_errors_keeps_polling_and_fires_after_they_clear(
    live_sandbox: Any, code: int, task_logs: Callable[[], str]
) -> None:
    """An asset watcher's error event would become an asset event (a run for no booking) and end the watch."""
    from hubspot_scheduler_provider.hooks.crm import MEETING_SEARCH_PATH
    from hubspot_scheduler_provider.testing.faults import Status

    live_sandbox.inject(Status(code), path_contains=MEETING_SEARCH_PATH, times=3)
    start = free_starts(live_sandbox, "alice-smith", 1)
    booked: list[str] = []

    def book_once_the_fault_cleared(events: list[dict[str, Any]]) -> bool:
        answered = [r.status for r in searches(live_sandbox)]
        if not booked and answered.count(code) == 3 and answered[-1] == 200:
            booked.extend(book(live_sandbox, start))
        return bool(events)

    events = asyncio.run(run_until(make_trigger(), book_once_the_fault_cleared, timeout=30))

    assert booked and [e.get("meeting_id") for e in events] == booked
    logs = task_logs()
    assert TOKEN not in logs
    assert bool(logged_errors(logs)) is (code < 500)  # waiting cannot fix a 401/403: ERROR each time
    assert "Searching new bookings failed" in logs or code < 500


def logged_errors(logs: str) -> list[str]:
    """The trigger's ERROR lines (Airflow 3: structlog's ``[error ...]``; 2: logging's ``ERROR``)."""
    return [
        line
        for line in logs.splitlines()
        if "waiting cannot fix" in line and ("[error" in line or "ERROR" in line)
    ]


def test_the_sensor_form_still_ends_with_the_error(live_sandbox: Any) -> None:
    from airflow.exceptions import AirflowException

    from hubspot_scheduler_provider.hooks.crm import MEETING_SEARCH_PATH
    from hubspot_scheduler_provider.sensors.new_bookings import NewBookingsSensor
    from hubspot_scheduler_provider.testing.faults import Status

    live_sandbox.inject(Status(401), path_contains=MEETING_SEARCH_PATH)
    [error] = asyncio.run(run_until(make_trigger(single_event=True), bool))

    assert error["status"] == "error" and TOKEN not in repr(error)
    sensor = NewBookingsSensor(task_id="wait", link_ids=[ALICE_LINK], created_after="2020-01-01T00:00:00Z")
    with pytest.raises(AirflowException, match=r"Waiting for new bookings failed: .+"):
        sensor.execute_complete({}, error)


class HistoryStore(MemoryStateStore):
    """A state store that keeps every value written, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[Any] = []

    async def aset(self, key: str, value: Any) -> None:
        await super().aset(key, value)
        self.history.append(json.loads(json.dumps(value)))


@pytest.fixture
def quick_flush(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(new_bookings, "FLUSH_AFTER_SECONDS", 0.5)
    return 0.5


def test_a_burst_is_followed_by_one_flush_that_leaves_the_watermark_alone(
    live_sandbox: Any, quick_flush: float
) -> None:
    store = HistoryStore()
    trigger = make_trigger()
    trigger.asset_state_store = store
    booked = book(live_sandbox, free_starts(live_sandbox, "alice-smith", 3))

    # Polls every 0.2 s for 4 s: the burst's polls, then many quiet ones.
    events = asyncio.run(run_until(trigger, lambda e: False, timeout=4))

    meetings = [e for e in events if "meeting_id" in e]
    assert sorted(e["meeting_id"] for e in meetings) == sorted(booked)
    assert events[len(meetings) :] == [new_bookings.flush_payload()] == [{"flush": True}]  # once, last
    assert new_bookings.is_flush(events[-1]) and not any(new_bookings.is_flush(e) for e in meetings)
    # The write after the flush changes only flush_pending: the watermark and the ids seen stay.
    before_flush, after_flush = store.history[-2], store.history[-1]
    assert before_flush["flush_pending"] is True and after_flush["flush_pending"] is False
    assert {k: v for k, v in before_flush.items() if k != "flush_pending"} == {
        k: v for k, v in after_flush.items() if k != "flush_pending"
    }


def test_one_meeting_alone_and_quiet_polls_fire_no_flush(live_sandbox: Any, quick_flush: float) -> None:
    trigger = make_trigger()
    assert asyncio.run(run_until(trigger, lambda e: False, timeout=1.5)) == []  # quiet polls only
    booked = book(live_sandbox, free_starts(live_sandbox, "alice-smith", 1))

    events = asyncio.run(run_until(make_trigger(), lambda e: False, timeout=3))

    assert [e["meeting_id"] for e in events] == booked  # its own queue row: nothing to flush


def test_a_pending_flush_survives_a_restart(live_sandbox: Any, quick_flush: float) -> None:
    store = MemoryStateStore()
    first = make_trigger()
    first.asset_state_store = store
    asyncio.run(run_until(first, lambda e: bool(searches(live_sandbox))))  # stores its watermark
    [stored] = store.values.values()
    stored["flush_pending"] = True  # as if stopped after a burst's commit, before its flush

    writes = store.writes
    # Until the flush's (delayed) commit is written.
    events = asyncio.run(
        run_until(trigger_with(store), lambda e: bool(e) and store.writes > writes, timeout=5)
    )

    assert events == [{"flush": True}]
    [after] = store.values.values()
    assert after["flush_pending"] is False and after["watermark_ms"] == stored["watermark_ms"]


def test_the_sensor_form_never_fires_a_flush(live_sandbox: Any, quick_flush: float) -> None:
    booked = book(live_sandbox, free_starts(live_sandbox, "alice-smith", 3))

    events = asyncio.run(run_until(make_trigger(single_event=True), lambda e: False, timeout=3))

    [event] = events  # one event, then the trigger ends: no flush reaches the deferred task
    assert event["status"] == "success"
    assert sorted(m["meeting_id"] for m in event["meetings"]) == sorted(booked)
