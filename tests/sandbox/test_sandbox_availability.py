"""Availability arithmetic: hours in the host's time zone across DST changes, increments, busy times,
buffers, booking windows, months in the caller's time zone, and slots running out."""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests

from hubspot_scheduler_provider.testing import HubSpotSandbox

from .conftest import MARCH_NOW, booking_body, ms_to_iso, scheduler_url, slots

NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")
BOOK = "/meeting-links/book"
HALF_HOUR = 1_800_000
HOUR = 3_600_000


def _session(sandbox: HubSpotSandbox) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.token}"
    return session


def _local_starts(starts: list[int], zone: ZoneInfo, day: date) -> list[time]:
    local = [datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(zone) for ms in starts]
    return [moment.time() for moment in local if moment.date() == day]


def _every(step_minutes: int, first: str, last: str) -> list[time]:
    current, end, found = (
        datetime.combine(date.today(), time.fromisoformat(first)),
        time.fromisoformat(last),
        [],
    )
    while current.time() <= end:
        found.append(current.time())
        current += timedelta(minutes=step_minutes)
    return found


def _utc(day: date, hhmm: str) -> int:
    return int(datetime.combine(day, time.fromisoformat(hhmm), tzinfo=timezone.utc).timestamp() * 1000)


def test_new_york_hours_move_in_utc_across_the_march_dst_change(api, sandbox):
    starts = slots(api, sandbox, "alice-smith", timezone_name="America/New_York")
    friday, monday = date(2026, 3, 6), date(2026, 3, 9)  # US DST starts Sunday 8 March
    assert _local_starts(starts, NEW_YORK, friday) == _every(15, "09:00", "16:30")
    lunch = {time(11, 45), time(12), time(12, 15), time(12, 30), time(12, 45)}  # Monday 12-13 busy
    assert _local_starts(starts, NEW_YORK, monday) == [
        t for t in _every(15, "09:00", "16:30") if t not in lunch
    ]
    assert _utc(friday, "14:00") in starts and _utc(friday, "13:00") not in starts
    assert _utc(monday, "13:00") in starts and _utc(monday, "12:45") not in starts
    assert _local_starts(starts, NEW_YORK, date(2026, 3, 7)) == []  # Saturday
    sixty = slots(api, sandbox, "alice-smith", timezone_name="America/New_York", duration_ms=HOUR)
    assert _local_starts(sixty, NEW_YORK, friday) == _every(15, "09:00", "16:00")


def test_berlin_team_hours_move_in_utc_across_the_eu_dst_change(api, sandbox):
    starts = slots(api, sandbox, "sales-team/round-robin", timezone_name="Europe/Berlin")
    friday, monday = date(2026, 3, 27), date(2026, 3, 30)  # EU DST starts Sunday 29 March
    assert _local_starts(starts, BERLIN, friday) == _every(30, "09:00", "16:30")
    assert _local_starts(starts, BERLIN, monday) == _every(30, "09:00", "16:30")
    assert _utc(friday, "08:00") in starts
    assert _utc(monday, "07:00") in starts and _utc(monday, "08:00") in starts
    assert _utc(monday, "15:00") not in starts  # 17:00 CEST is closing time


def test_november_dst_changes_shift_new_york_and_berlin_one_week_apart():
    with HubSpotSandbox(now=datetime(2026, 10, 20, 12, tzinfo=timezone.utc)) as sandbox:
        session = _session(sandbox)
        new_york = slots(session, sandbox, "alice-smith", timezone_name="UTC") + slots(
            session, sandbox, "alice-smith", timezone_name="UTC", month_offset=1
        )
        berlin = slots(session, sandbox, "sales-team/round-robin", timezone_name="UTC")
        assert min(ms for ms in new_york if ms_to_iso(ms).startswith("2026-10-30")) == _utc(
            date(2026, 10, 30), "13:00"
        )
        assert min(ms for ms in new_york if ms_to_iso(ms).startswith("2026-11-02")) == _utc(
            date(2026, 11, 2), "14:00"
        )
        assert min(ms for ms in berlin if ms_to_iso(ms).startswith("2026-10-23")) == _utc(
            date(2026, 10, 23), "07:00"
        )
        assert min(ms for ms in berlin if ms_to_iso(ms).startswith("2026-10-26")) == _utc(
            date(2026, 10, 26), "08:00"
        )


def test_months_follow_the_requested_time_zone():
    # 16:00 UTC on 31 March is still March in New York but already April in Tokyo.
    with HubSpotSandbox(now=datetime(2026, 3, 31, 16, tzinfo=timezone.utc)) as sandbox:
        session = _session(sandbox)
        ny_march = slots(session, sandbox, "alice-smith", timezone_name="America/New_York")
        tokyo_april = slots(session, sandbox, "alice-smith", timezone_name="Asia/Tokyo")
        ny_april = slots(session, sandbox, "alice-smith", timezone_name="America/New_York", month_offset=1)
        assert ny_march[0] == _utc(date(2026, 3, 31), "16:00") and ny_march[-1] == _utc(
            date(2026, 3, 31), "20:30"
        )
        assert ny_april[0] == _utc(date(2026, 4, 1), "13:00")
        assert tokyo_april[0] == ny_march[0]
        assert set(ny_march) | set(ny_april) >= set(tokyo_april)
        assert max(tokyo_april) < _utc(date(2026, 4, 30), "15:00")  # Tokyo's April ends 15:00 UTC


def test_slots_start_no_earlier_than_now_and_stop_after_weeks_to_advertise():
    with HubSpotSandbox(now=datetime(2026, 3, 2, 16, 5, tzinfo=timezone.utc)) as sandbox:
        session = _session(sandbox)
        march = slots(session, sandbox, "alice-smith", timezone_name="America/New_York")
        assert march[0] == _utc(date(2026, 3, 2), "16:15")  # 11:15 New York, the first start after now
        page = session.get(
            scheduler_url(sandbox, "2026-09", "/meeting-links/book/availability-page/alice-smith"),
            params={"timezone": "America/New_York", "monthOffset": 1},
        ).json()
        april = page["linkAvailability"]["linkAvailabilityByDuration"][str(HALF_HOUR)]["availabilities"]
        assert page["linkAvailability"]["hasMore"] is False
        assert max(slot["startMillisUtc"] for slot in april) < _utc(
            date(2026, 4, 27), "16:05"
        )  # now + 8 weeks
        assert slots(session, sandbox, "alice-smith", timezone_name="America/New_York", month_offset=2) == []
        too_early = session.post(
            scheduler_url(sandbox, "2026-09", BOOK),
            json=booking_body("alice-smith", _utc(date(2026, 3, 2), "16:00"), HALF_HOUR),
        )
        assert (
            too_early.json()["subCategory"] == "MeetingsBookingSchedulingError.MEETING_START_TIME_NOT_VALID"
        )


def test_a_booking_takes_its_slot_and_overlapping_ones(api, sandbox):
    url = scheduler_url(sandbox, "2026-09", BOOK)
    start = _utc(date(2026, 3, 3), "15:00")  # Tuesday 10:00 New York
    assert api.post(url, json=booking_body("alice-smith", start, HALF_HOUR)).status_code == 200
    again = api.post(url, json=booking_body("alice-smith", start, HALF_HOUR, email="grace@example.com"))
    assert again.status_code == 400
    assert again.json()["subCategory"] == "MeetingsBookingSchedulingError.MEETING_START_TIME_NOT_VALID"
    remaining = slots(api, sandbox, "alice-smith", timezone_name="America/New_York")
    taken = {start - 15 * 60_000, start, start + 15 * 60_000}
    assert not taken & set(remaining)
    assert {start - HALF_HOUR, start + HALF_HOUR} <= set(remaining)
    assert start - HALF_HOUR not in slots(api, sandbox, "alice-smith", timezone_name="UTC", duration_ms=HOUR)
    assert len(sandbox.bookings) == 1


def test_round_robin_books_each_member_once_per_slot_and_keeps_buffers(api, sandbox):
    url = scheduler_url(sandbox, "v3", BOOK)
    start = _utc(date(2026, 3, 3), "09:00")  # Tuesday 10:00 Berlin
    slug = "sales-team/round-robin"
    first = api.post(url, json=booking_body(slug, start, HALF_HOUR, likelyAvailableUserIds=["1003"]))
    second = api.post(url, json=booking_body(slug, start, HALF_HOUR, email="grace@example.com"))
    third = api.post(url, json=booking_body(slug, start, HALF_HOUR, email="alan@example.com"))
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 400)
    assert [booking["hostUserId"] for booking in sandbox.bookings] == ["1003", "1002"]
    remaining = slots(api, sandbox, slug, timezone_name="Europe/Berlin")
    assert start + HALF_HOUR not in remaining  # 15-minute buffer after a 10:30 end
    assert start + HOUR in remaining and start - HOUR in remaining
    assert start - HALF_HOUR not in remaining  # would end 10:00, inside the buffer


def test_booking_every_slot_of_a_day_exhausts_it(api, sandbox):
    day = date(2026, 3, 4)  # Wednesday, no busy times for Alice
    url = scheduler_url(sandbox, "2026-03", BOOK)
    booked = 0
    while True:
        todays = _local_starts(slots(api, sandbox, "alice-smith", duration_ms=HOUR), NEW_YORK, day)
        if not todays:
            break
        start = int(datetime.combine(day, todays[0], tzinfo=NEW_YORK).timestamp() * 1000)
        answer = api.post(
            url, json=booking_body("alice-smith", start, HOUR, email=f"guest{booked}@example.com")
        )
        assert answer.status_code == 200, answer.text
        booked += 1
    assert booked == 8  # 09:00-17:00 in one-hour meetings
    assert _local_starts(slots(api, sandbox, "alice-smith"), NEW_YORK, day) == []
    assert len({booking["contactId"] for booking in sandbox.bookings}) == 8


def test_fill_makes_a_month_fully_booked(api, sandbox):
    sandbox.fill("alice-smith", month_offset=0)
    assert slots(api, sandbox, "alice-smith", timezone_name="America/New_York") == []
    refused = api.post(
        scheduler_url(sandbox, "2026-09", BOOK),
        json=booking_body("alice-smith", _utc(date(2026, 3, 3), "15:00"), HALF_HOUR),
    )
    assert refused.status_code == 400
    assert slots(api, sandbox, "alice-smith", timezone_name="America/New_York", month_offset=1) != []


def test_add_busy_time_removes_overlapping_slots(api, sandbox):
    start = datetime(2026, 3, 5, 19, tzinfo=timezone.utc)  # Thursday 14:00 New York
    sandbox.add_busy_time("alice-smith", start, start + timedelta(hours=1))
    remaining = set(slots(api, sandbox, "alice-smith"))
    assert _utc(date(2026, 3, 5), "18:30") in remaining
    assert not {_utc(date(2026, 3, 5), hhmm) for hhmm in ("18:45", "19:00", "19:30", "19:45")} & remaining
    info = api.get(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book/alice-smith"), params={"timezone": "UTC"}
    )
    busy = info.json()["allUsersBusyTimes"][0]["busyTimes"]
    assert {"start": _utc(date(2026, 3, 5), "19:00"), "end": _utc(date(2026, 3, 5), "20:00")} in busy


def test_concurrent_bookings_of_one_slot_have_exactly_one_winner(sandbox):
    url = scheduler_url(sandbox, "2026-09", BOOK)
    start = _utc(date(2026, 3, 3), "16:00")
    codes: list[int] = []

    def attempt(index: int) -> None:
        answer = _session(sandbox).post(
            url, json=booking_body("alice-smith", start, HALF_HOUR, email=f"racer{index}@example.com")
        )
        codes.append(answer.status_code)

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] + [400] * 7
    assert len(sandbox.bookings) == 1


def test_booker_becomes_one_contact_per_email(api, sandbox):
    url = scheduler_url(sandbox, "2026-09", BOOK)
    first = api.post(
        url,
        json=booking_body("alice-smith", _utc(date(2026, 3, 3), "15:00"), HALF_HOUR, email="Ada@Example.com"),
    ).json()
    second = api.post(
        url,
        json=booking_body("alice-smith", _utc(date(2026, 3, 3), "16:00"), HALF_HOUR, email="ada@example.com"),
    ).json()
    other = api.post(
        url,
        json=booking_body(
            "alice-smith", _utc(date(2026, 3, 3), "17:00"), HALF_HOUR, email="grace@example.com"
        ),
    ).json()
    assert first["contactId"] == second["contactId"] != other["contactId"]
    assert sandbox.contact_id("ADA@example.com") == first["contactId"]


def test_offline_host_answers_200_offline_and_books_nothing(api, sandbox):
    start = slots(api, sandbox, "offline-host")[0]
    answer = api.post(
        scheduler_url(sandbox, "2026-09", BOOK), json=booking_body("offline-host", start, HALF_HOUR)
    )
    assert answer.status_code == 200
    assert answer.json()["isOffline"] is True
    assert answer.json()["calendarEventId"] == ""
    assert sandbox.bookings == []
    assert start in slots(api, sandbox, "offline-host")
    info = api.get(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book/offline-host"), params={"timezone": "UTC"}
    )
    assert info.json()["isOffline"] is True


def test_booking_info_tells_what_a_booking_needs(api, sandbox):
    info = api.get(
        scheduler_url(sandbox, "2026-03", "/meeting-links/book/demo-with-form"),
        params={"timezone": "America/New_York"},
    ).json()
    params = info["customParams"]
    assert params["durations"] == [900_000, HALF_HOUR]  # milliseconds, even in 2026-03
    assert params["startTimeIncrementMinutes"] == "FIFTEEN"
    assert params["meetingBufferTime"] == 600_000
    assert params["availability"]["MONDAY"] == {"start": 540, "end": 1020}
    required = {field["name"]: field["isRequired"] for field in params["formFields"]}
    assert required == {
        "firstName": True,
        "lastName": True,
        "email": True,
        "company": True,
        "team_size": False,
    }
    assert params["legalConsentEnabled"] is True
    boxes = params["legalConsentOptions"]["communicationConsentCheckboxes"]
    assert {(box["communicationTypeId"], box["required"]) for box in boxes} == {
        ("4711", True),
        ("4712", False),
    }
    assert (info["linkId"], info["linkType"]) == ("3003", "PERSONAL_LINK")
    assert set(info["linkAvailability"]["linkAvailabilityByDuration"]) == {"900000", "1800000"}


@pytest.mark.parametrize("encoded", ["sales-team%2Fround-robin", "sales-team%2fround-robin"])
def test_slug_with_slash_travels_percent_encoded(api, sandbox, encoded):
    answer = api.get(
        scheduler_url(sandbox, "2026-09", f"/meeting-links/book/{encoded}"), params={"timezone": "UTC"}
    )
    assert answer.status_code == 200
    assert answer.json()["linkType"] == "ROUND_ROBIN_CALENDAR"


def test_slug_with_raw_slash_is_not_found(api, sandbox):
    raw = api.get(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book/sales-team/round-robin"),
        params={"timezone": "UTC"},
    )
    assert raw.status_code == 404


def test_clock_is_fixed_for_these_tests(sandbox):
    assert sandbox.now == MARCH_NOW
