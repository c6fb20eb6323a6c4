"""``BookingFlow.book_next_available`` against the sandbox, including the race for a slot.

The race is staged for real: ``prepare`` runs between the availability read and the booking POST, so a
competitor that books the same slot over HTTP right there takes it first, exactly as another booker on
HubSpot would. The sandbox then refuses our POST with MEETING_START_TIME_NOT_VALID.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hubspot_scheduler_provider.availability import NoFreeSlotError, SlotQuery
from hubspot_scheduler_provider.booking_flow import BookingFlow
from hubspot_scheduler_provider.booking_input import build_booking
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.testing import DropAfterCommit, Status

from .conftest import availability_reads, booking_posts

THIRTY_MIN = 30 * 60_000
REQUESTER = "jane.doe@example.com"
COMPETITOR = "max.rival@example.com"
#: Alice's first three free 30-minute slots once each earlier one is booked (09:00, 09:30, 10:00 in New York).
SLOT_1, SLOT_2, SLOT_3 = "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "2026-03-02T15:00:00Z"


def booking_for(email: str, slot: Any) -> Any:
    return build_booking(
        {
            "slug": "alice-smith",
            "email": email,
            "firstName": "Jane",
            "lastName": "Doe",
            "duration": THIRTY_MIN,
            "timezone": "America/New_York",
            "startTime": slot,
        }
    )


class Requester:
    """Sees each booking just before it is sent; optionally lets a competitor book the slot first."""

    def __init__(self, competitor_takes: int = 0) -> None:
        self.competitor_takes = competitor_takes
        self.slots: list[str] = []
        self._competitor = HubSpotSchedulerHook()

    def __call__(self, booking: Any) -> None:
        slot = booking.start_time
        self.slots.append(slot.astimezone(NEW_YORK).isoformat())
        if len(self.slots) <= self.competitor_takes:
            self._competitor.book_meeting(booking_for(COMPETITOR, slot))


NEW_YORK = __import__("zoneinfo").ZoneInfo("America/New_York")


def book(requester: Requester, *, template: Any = None, max_attempts: int = 3, **kwargs: Any) -> Any:
    arguments: dict[str, Any] = {"earliest": "2026-03-02T09:00", **kwargs}
    query = SlotQuery.parse(
        "alice-smith", "PT30M", "America/New_York", arguments["earliest"], arguments.get("latest")
    )
    flow = BookingFlow(HubSpotSchedulerHook(), log=logging.getLogger(__name__))
    booking, result = flow.book_next_available(
        template or booking_for(REQUESTER, "2026-03-02T09:00"),
        query,
        max_attempts=max_attempts,
        prepare=requester,
    )
    return booking.start_time.astimezone(NEW_YORK), result


def bookings_of(sandbox: Any, email: str) -> list[str]:
    return [b["start"] for b in sandbox.bookings if b["request"]["email"] == email]


def test_books_the_first_free_slot(sandbox, caplog):
    caplog.set_level(logging.INFO)

    slot, result = book(Requester())

    assert slot.isoformat() == "2026-03-02T09:00:00-05:00"
    assert result.raw["start"] == SLOT_1 and result.raw["calendarEventId"]
    assert bookings_of(sandbox, REQUESTER) == [SLOT_1]
    assert "Next available slot on page 'alice-smith': 2026-03-02T09:00:00-05:00" in caplog.text


def test_slot_taken_between_read_and_post_books_the_next_one(sandbox, caplog):
    caplog.set_level(logging.INFO)
    requester = Requester(competitor_takes=1)

    slot, result = book(requester)

    # The competitor's 09:00-09:30 meeting also rules out 09:15.
    assert requester.slots == ["2026-03-02T09:00:00-05:00", "2026-03-02T09:30:00-05:00"]
    assert slot.isoformat() == "2026-03-02T09:30:00-05:00" and result.raw["start"] == SLOT_2
    # Exactly one booking for us, and the competitor kept theirs.
    assert bookings_of(sandbox, REQUESTER) == [SLOT_2]
    assert bookings_of(sandbox, COMPETITOR) == [SLOT_1]
    # Our first POST was refused, then availability was read again before the second POST.
    ours = [body["startTime"] for body in booking_posts(sandbox) if body["email"] == REQUESTER]
    assert ours == [SLOT_1, SLOT_2]
    assert availability_reads(sandbox) == [("alice-smith", 0), ("alice-smith", 0)]
    assert "was taken before our booking arrived" in caplog.text


def test_gives_up_after_max_attempts_without_booking(sandbox):
    requester = Requester(competitor_takes=3)

    with pytest.raises(NoFreeSlotError, match=r"taken before our booking arrived \(3 attempts\)") as raised:
        book(requester, max_attempts=3)

    assert bookings_of(sandbox, REQUESTER) == []
    assert bookings_of(sandbox, COMPETITOR) == [SLOT_1, SLOT_2, SLOT_3]
    assert len([b for b in booking_posts(sandbox) if b["email"] == REQUESTER]) == 3
    assert "MEETING_START_TIME_NOT_VALID" in str(raised.value.__cause__)


def test_a_refused_slot_is_not_retried_even_if_still_listed(sandbox):
    # HubSpot refuses the first POST, but its (cached) availability still lists that slot.
    sandbox.inject(
        Status(
            400,
            body={
                "status": "error",
                "message": "The meeting start time is not available.",
                "correlationId": "c0ffee00-0000-4000-8000-000000000001",
                "category": "VALIDATION_ERROR",
                "subCategory": "MeetingsBookingSchedulingError.MEETING_START_TIME_NOT_VALID",
            },
        )
    )
    requester = Requester()

    book(requester)

    # Nothing was booked at 09:00, so 09:15 is the next free slot.
    assert requester.slots == ["2026-03-02T09:00:00-05:00", "2026-03-02T09:15:00-05:00"]
    assert bookings_of(sandbox, REQUESTER) == ["2026-03-02T14:15:00Z"]


def test_other_refusals_are_not_retried(sandbox):
    template = booking_for(REQUESTER, "2026-03-02T09:00").model_copy(update={"duration": 45 * 60_000})
    with pytest.raises(Exception, match="MEETING_DURATION_NOT_VALID"):
        book(Requester(), template=template)

    assert len(booking_posts(sandbox)) == 1
    assert sandbox.bookings == []


def test_unknown_outcome_is_settled_in_the_crm_never_by_a_second_post(sandbox):
    # HubSpot books, then the connection drops before the answer: a second POST could double-book.
    sandbox.inject(DropAfterCommit())

    _, result = book(Requester())

    assert result.reconciled and result.raw["start"] == SLOT_1
    assert len(booking_posts(sandbox)) == 1
    assert bookings_of(sandbox, REQUESTER) == [SLOT_1]


def test_no_free_slot_in_the_window_sends_no_booking(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")

    with pytest.raises(
        NoFreeSlotError, match=r"No free 30-minute slot on page 'alice-smith' in 2026-03-02T09:00:00-05:00"
    ):
        book(Requester(), latest="2026-03-31T17:00")

    assert booking_posts(sandbox) == []
