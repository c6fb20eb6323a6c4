"""``find_slots``/``next_available_slot`` against the sandbox: time zones, DST, month boundaries, full months.

Seeded pages (see ``testing.pages``): ``alice-smith`` (New York, Mon-Fri 09:00-17:00, 30/60 min, every
15 min, Alice busy Monday and Thursday 12:00-13:00) and ``sales-team/round-robin`` (Berlin, 30/60 min,
every 30 min, 15 min buffer).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pendulum
import pytest

from hubspot_scheduler_provider.availability import MAX_MONTHS, find_slots
from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

from .conftest import availability_reads

THIRTY_MIN = 30 * 60_000
HOUR = 60 * 60_000


def iso(slots: list[pendulum.DateTime]) -> list[str]:
    return [slot.isoformat() for slot in slots]


def test_slots_are_aware_datetimes_in_the_asked_zone(sandbox):
    slots = HubSpotSchedulerHook().find_slots("alice-smith", THIRTY_MIN, "America/New_York", limit=3)

    # Monday 2026-03-02, 07:00 in New York: the day's first slots are 09:00, 09:15, 09:30 local.
    assert iso(slots) == [
        "2026-03-02T09:00:00-05:00",
        "2026-03-02T09:15:00-05:00",
        "2026-03-02T09:30:00-05:00",
    ]
    assert all(
        isinstance(slot, pendulum.DateTime) and slot.timezone_name == "America/New_York" for slot in slots
    )
    assert availability_reads(sandbox) == [("alice-smith", 0)]


def test_busy_times_are_not_offered(sandbox):
    slots = HubSpotSchedulerHook().find_slots(
        "alice-smith", HOUR, "America/New_York", earliest="2026-03-02T11:00", latest="2026-03-02T14:00"
    )

    # Alice is busy Monday 12:00-13:00: no hour-long meeting may overlap it.
    assert iso(slots) == ["2026-03-02T11:00:00-05:00", "2026-03-02T13:00:00-05:00"]


def test_the_whole_meeting_must_fit_in_the_window(sandbox):
    hook = HubSpotSchedulerHook()
    window = {"earliest": "2026-03-03T09:00", "latest": "2026-03-03T10:00"}

    assert iso(hook.find_slots("alice-smith", HOUR, "America/New_York", **window)) == [
        "2026-03-03T09:00:00-05:00"
    ]
    assert iso(hook.find_slots("alice-smith", THIRTY_MIN, "America/New_York", **window)) == [
        "2026-03-03T09:00:00-05:00",
        "2026-03-03T09:15:00-05:00",
        "2026-03-03T09:30:00-05:00",
    ]


@pytest.mark.parametrize(
    "duration", [THIRTY_MIN, "1800000", "PT30M", timedelta(minutes=30), pendulum.duration(minutes=30)]
)
def test_duration_spellings_are_equivalent(sandbox, duration):
    slot = HubSpotSchedulerHook().next_available_slot("alice-smith", duration, "America/New_York")

    assert slot is not None and slot.isoformat() == "2026-03-02T09:00:00-05:00"


def test_same_instants_in_every_zone_across_time_zones(sandbox):
    hook = HubSpotSchedulerHook()
    window = {"earliest": "2026-03-03T13:00:00Z", "latest": "2026-03-03T16:00:00Z"}

    new_york = hook.find_slots("alice-smith", HOUR, "America/New_York", **window)
    tokyo = hook.find_slots("alice-smith", HOUR, "Asia/Tokyo", **window)
    kolkata = hook.find_slots("alice-smith", HOUR, "Asia/Kolkata", **window)

    assert new_york == tokyo == kolkata  # the same instants...
    assert iso(tokyo)[0] == "2026-03-03T23:00:00+09:00"  # ...each shown in the zone asked for
    assert iso(kolkata)[0] == "2026-03-03T19:30:00+05:30"
    # Every 15 minutes; the last hour-long one ends at 16:00 UTC.
    assert iso(new_york) == [
        f"2026-03-03T{t}:00-05:00" for t in ("09:00", "09:15", "09:30", "09:45", "10:00")
    ]


def test_naive_window_bounds_are_wall_clock_in_the_given_zone(sandbox):
    hook = HubSpotSchedulerHook()

    # 15:00 in Berlin is 09:00 in New York on 2026-03-03.
    slot = hook.next_available_slot("alice-smith", HOUR, "Europe/Berlin", earliest="2026-03-03T15:00")

    assert slot is not None and slot.isoformat() == "2026-03-03T15:00:00+01:00"
    assert slot.in_timezone("America/New_York").isoformat() == "2026-03-03T09:00:00-05:00"


@pytest.mark.parametrize(
    ("now", "slug", "zone", "duration", "earliest", "expected"),
    [
        pytest.param(
            datetime(2026, 3, 2, 12, tzinfo=timezone.utc),
            "alice-smith",
            "America/New_York",
            THIRTY_MIN,
            "2026-03-06T16:00",
            [
                "2026-03-06T16:00:00-05:00",
                "2026-03-06T16:15:00-05:00",
                "2026-03-06T16:30:00-05:00",
                "2026-03-09T09:00:00-04:00",
            ],
            id="new-york-spring-forward",
        ),
        pytest.param(
            datetime(2026, 10, 20, 12, tzinfo=timezone.utc),
            "alice-smith",
            "America/New_York",
            THIRTY_MIN,
            "2026-10-30T16:00",
            [
                "2026-10-30T16:00:00-04:00",
                "2026-10-30T16:15:00-04:00",
                "2026-10-30T16:30:00-04:00",
                "2026-11-02T09:00:00-05:00",
            ],
            id="new-york-fall-back",
        ),
        pytest.param(
            datetime(2026, 3, 20, 12, tzinfo=timezone.utc),
            "sales-team/round-robin",
            "Europe/Berlin",
            HOUR,
            "2026-03-27T16:00",
            ["2026-03-27T16:00:00+01:00", "2026-03-30T09:00:00+02:00"],
            id="berlin-spring-forward",
        ),
        pytest.param(
            datetime(2026, 10, 20, 12, tzinfo=timezone.utc),
            "sales-team/round-robin",
            "Europe/Berlin",
            HOUR,
            "2026-10-23T16:00",
            ["2026-10-23T16:00:00+02:00", "2026-10-26T09:00:00+01:00"],
            id="berlin-fall-back",
        ),
    ],
)
def test_dst_change_keeps_local_office_hours(sandbox, now, slug, zone, duration, earliest, expected):
    sandbox.set_now(now)
    sandbox.reset()  # seeded busy times are laid out around "now"

    slots = HubSpotSchedulerHook().find_slots(slug, duration, zone, earliest=earliest, limit=len(expected))

    # 09:00 local on both sides of the change, so the UTC offset of the slots differs by an hour.
    assert iso(slots) == expected


def test_dst_gap_between_the_zones_of_page_and_reader(sandbox):
    """New York moves on March 8, Berlin on March 29: for three weeks they are 5, not 6, hours apart."""
    hook = HubSpotSchedulerHook()

    before = hook.next_available_slot("alice-smith", HOUR, "Europe/Berlin", earliest="2026-03-06T00:00")
    between = hook.next_available_slot("alice-smith", HOUR, "Europe/Berlin", earliest="2026-03-09T00:00")
    after = hook.next_available_slot("alice-smith", HOUR, "Europe/Berlin", earliest="2026-03-30T00:00")

    assert [str(s) for s in (before, between, after)] == [
        "2026-03-06 15:00:00+01:00",
        "2026-03-09 14:00:00+01:00",
        "2026-03-30 15:00:00+02:00",
    ]


def test_a_time_skipped_by_dst_is_rejected_before_any_request(sandbox):
    with pytest.raises(
        BookingInputError, match=r"^earliest: 2026-03-08T02:30:00 does not exist in America/New_York"
    ):
        HubSpotSchedulerHook().find_slots(
            "alice-smith", HOUR, "America/New_York", earliest="2026-03-08T02:30"
        )

    assert sandbox.requests == []


def test_month_boundary_walks_to_the_next_month(sandbox):
    # Tuesday 2026-03-31 17:30 in New York: March has no slot left, April does.
    sandbox.set_now(datetime(2026, 3, 31, 21, 30, tzinfo=timezone.utc))
    hook = HubSpotSchedulerHook()

    slot = hook.next_available_slot("alice-smith", THIRTY_MIN, "America/New_York")

    assert slot is not None and slot.isoformat() == "2026-04-01T09:00:00-04:00"
    assert availability_reads(sandbox) == [("alice-smith", 0), ("alice-smith", 1)]


def test_month_boundary_depends_on_the_asked_zone(sandbox):
    # At 2026-03-31 21:30 UTC it is already April in Tokyo: its month 0 holds New York's April 1.
    sandbox.set_now(datetime(2026, 3, 31, 21, 30, tzinfo=timezone.utc))

    slot = HubSpotSchedulerHook().next_available_slot("alice-smith", THIRTY_MIN, "Asia/Tokyo")

    assert slot is not None and slot.isoformat() == "2026-04-01T22:00:00+09:00"
    assert availability_reads(sandbox) == [("alice-smith", 0)]


def test_fully_booked_month_finds_the_first_slot_of_the_next(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")
    hook = HubSpotSchedulerHook()
    first_of_april = min(
        slot.start_millis_utc
        for slot in hook.get_availability("alice-smith", "America/New_York", 1)
        .link_availability.link_availability_by_duration[str(THIRTY_MIN)]
        .availabilities
    )

    slot = hook.next_available_slot("alice-smith", THIRTY_MIN, "America/New_York")

    assert slot is not None and slot.month == 4
    assert int(slot.timestamp() * 1000) == first_of_april


def test_fully_booked_page_stops_where_hubspot_says_there_is_no_more(sandbox):
    # The page advertises 8 weeks (until late April): months 0 and 1, and month 1 answers hasMore=false.
    for month in (0, 1):
        sandbox.fill("alice-smith", month_offset=month, timezone="America/New_York")

    assert HubSpotSchedulerHook().next_available_slot("alice-smith", THIRTY_MIN, "America/New_York") is None
    assert availability_reads(sandbox) == [("alice-smith", 0), ("alice-smith", 1)]


def test_walk_stops_at_a_slot_after_latest(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")

    slots = HubSpotSchedulerHook().find_slots(
        "alice-smith", THIRTY_MIN, "America/New_York", latest="2026-03-31T23:00"
    )

    assert slots == []
    # April's first slot is past "latest": later months cannot hold an earlier one.
    assert availability_reads(sandbox) == [("alice-smith", 0), ("alice-smith", 1)]


def test_walk_is_bounded_when_hubspot_always_has_more(sandbox):
    far = dataclasses.replace(
        sandbox.pages["alice-smith"], slug="alice-far", link_id="3999", weeks_to_advertise=120
    )
    sandbox.add_page(far)
    sandbox.add_busy_time(
        "alice-far", datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2028, 6, 1, tzinfo=timezone.utc)
    )

    assert HubSpotSchedulerHook().find_slots("alice-far", THIRTY_MIN, "America/New_York") == []
    assert availability_reads(sandbox) == [("alice-far", month) for month in range(MAX_MONTHS)]


def test_limit_stops_reading_early(sandbox):
    slots = HubSpotSchedulerHook().find_slots("sales-team/round-robin", HOUR, "Europe/Berlin", limit=2)

    # 12:00 UTC is 13:00 in Berlin; the team page offers a start every 30 minutes.
    assert iso(slots) == ["2026-03-02T13:00:00+01:00", "2026-03-02T13:30:00+01:00"]
    # The team slug travels as one encoded path segment.
    assert availability_reads(sandbox) == [("sales-team%2Fround-robin", 0)]


@pytest.mark.parametrize("api_version", ["v3", "2026-03", "2026-09"])
def test_every_api_version_gives_the_same_slots(sandbox, api_version):
    slots = HubSpotSchedulerHook(api_version=api_version).find_slots(
        "alice-smith", HOUR, "America/New_York", limit=2
    )

    assert iso(slots) == ["2026-03-02T09:00:00-05:00", "2026-03-02T09:15:00-05:00"]
    assert all(f"/scheduler/{api_version}/" in r.path for r in sandbox.requests)


def test_a_duration_the_page_does_not_offer_names_the_offered_ones(sandbox):
    with pytest.raises(BookingInputError) as raised:
        HubSpotSchedulerHook().find_slots("alice-smith", "PT45M", "America/New_York")

    assert raised.value.field == "duration"
    assert str(raised.value) == (
        "duration: 45 min (2700000 ms) is not offered by page 'alice-smith'; "
        "it offers 30 min (1800000 ms), 60 min (3600000 ms)"
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"duration": 1800}, "duration"),
        ({"slug": "https://meetings.hubspot.com/alice-smith"}, "slug"),
        ({"earliest": "next tuesday"}, "earliest"),
        ({"earliest": "2026-03-03T10:00:00Z", "latest": "2026-03-03T10:15:00Z"}, "latest"),
    ],
)
def test_bad_input_is_rejected_before_any_request(sandbox, kwargs, field):
    arguments = {"slug": "alice-smith", "duration": THIRTY_MIN, "timezone": "America/New_York", **kwargs}

    with pytest.raises(BookingInputError) as raised:
        find_slots(HubSpotSchedulerHook(), **arguments)

    assert raised.value.field == field
    assert sandbox.requests == []
