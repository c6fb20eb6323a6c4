"""Calendar meetings are one record (create answer == CRM read) that blocks the organizer like a booking;
booked meetings carry what HubSpot records about their page and host, and CRM search filters on it."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import assert_conforms, booking_body, calendar_request, scheduler_url, slots

CRM_SPEC = "crm-meetings-v3.json"
HALF_HOUR = 1_800_000
#: Tuesday 3 March 2026 15:00 UTC = 10:00 in New York: a free slot on alice-smith (user 1001).
TUESDAY_10_NY = 1_772_550_000_000


def _iso(millis: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _create(
    api: Any, sandbox: Any, version: str = "2026-09", organizer: str = "1001", **properties: Any
) -> Any:
    return api.post(
        scheduler_url(sandbox, version, "/calendar"),
        params={"organizerUserId": organizer},
        json=calendar_request(**properties),
    )


def _search(api: Any, sandbox: Any, *filters: dict[str, Any], properties: list[str] | None = None) -> Any:
    body = {
        "filterGroups": [{"filters": list(filters)}],
        "properties": properties or [],
        "sorts": [],
        "limit": 50,
        "after": "0",
    }
    answer = api.post(f"{sandbox.url}/crm/v3/objects/meetings/search", json=body)
    assert answer.status_code == 200, answer.text
    assert_conforms(CRM_SPEC, "CollectionResponseWithTotalSimplePublicObject", answer.json())
    return answer.json()


@pytest.mark.parametrize("version", ["v3", "2026-03", "2026-09"])
def test_the_create_answer_is_what_a_later_crm_read_shows(api, sandbox, version):
    answer = _create(
        api,
        sandbox,
        version,
        hs_meeting_outcome="COMPLETED",
        hs_meeting_body="Agenda: everything",
        hs_timestamp="2026-03-10T14:05:00+00:00",
        hs_attendee_owner_ids=["502", "503"],
        hs_meeting_location_type="CUSTOM",
    )
    assert answer.status_code == 200, answer.text
    created = answer.json()
    read = api.get(f"{sandbox.url}/crm/v3/objects/meetings/{created['id']}")
    assert read.status_code == 200, read.text
    stored = read.json()["properties"]
    for name, value in created["properties"].items():
        expected = ";".join(value) if isinstance(value, list) else value  # CRM multi-values: ";"-joined
        assert stored[name] == expected, name
    assert created["properties"]["hs_meeting_outcome"] == "COMPLETED"
    assert created["properties"]["hs_meeting_body"] == "Agenda: everything"
    assert created["properties"]["hs_timestamp"] == "2026-03-10T14:05:00.000Z"  # as given, CRM form
    assert created["properties"]["hs_attendee_owner_ids"] == ["502", "503"]
    assert created["createdAt"] == read.json()["createdAt"]
    assert_conforms(CRM_SPEC, "SimplePublicObjectWithAssociations", read.json())


def test_a_calendar_meeting_blocks_its_organizers_availability_until_cancelled(api, sandbox):
    assert TUESDAY_10_NY in slots(api, sandbox, "alice-smith")
    answer = _create(
        api,
        sandbox,
        hs_meeting_start_time=_iso(TUESDAY_10_NY),
        hs_meeting_end_time=_iso(TUESDAY_10_NY + HALF_HOUR),
        hs_timestamp=_iso(TUESDAY_10_NY),
    )
    assert answer.status_code == 200, answer.text
    assert TUESDAY_10_NY not in slots(api, sandbox, "alice-smith")
    booking = api.post(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book"),
        json=booking_body("alice-smith", TUESDAY_10_NY, HALF_HOUR),
    )
    assert booking.status_code == 400
    assert booking.json()["subCategory"] == "MeetingsBookingSchedulingError.MEETING_START_TIME_NOT_VALID"
    sandbox.set_meeting_outcome(answer.json()["id"])  # CANCELED frees the time
    assert TUESDAY_10_NY in slots(api, sandbox, "alice-smith")


def test_a_cancelled_calendar_meeting_blocks_nothing(api, sandbox):
    _create(
        api,
        sandbox,
        hs_meeting_start_time=_iso(TUESDAY_10_NY),
        hs_meeting_end_time=_iso(TUESDAY_10_NY + HALF_HOUR),
        hs_timestamp=_iso(TUESDAY_10_NY),
        hs_meeting_outcome="CANCELED",
    )
    assert TUESDAY_10_NY in slots(api, sandbox, "alice-smith")


def _book(api: Any, sandbox: Any, slug: str, start: int, email: str) -> dict[str, Any]:
    answer = api.post(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book"),
        json=booking_body(slug, start, HALF_HOUR, email=email),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_booked_meeting_records_its_page_and_host_and_search_filters_on_them(api, sandbox):
    _book(api, sandbox, "alice-smith", TUESDAY_10_NY, "ada@example.com")
    team_start = slots(api, sandbox, "sales-team/round-robin")[0]
    # Two bookings of one round-robin slot: the second goes to the other free host.
    _book(api, sandbox, "sales-team/round-robin", team_start, "grace@example.com")
    _book(api, sandbox, "sales-team/round-robin", team_start, "alan@example.com")
    hosts = {booking["request"]["email"]: booking["hostUserId"] for booking in sandbox.bookings}
    assert {hosts["grace@example.com"], hosts["alan@example.com"]} == {"1002", "1003"}
    owner_of = {"1001": "501", "1002": "502", "1003": "503"}
    wanted = ["hs_engagement_source", "hs_engagement_source_id", "hubspot_owner_id"]

    for booking in sandbox.bookings:
        meeting = api.get(
            f"{sandbox.url}/crm/v3/objects/meetings/{booking['crmMeetingId']}",
            params={"properties": ",".join(wanted)},
        ).json()["properties"]
        link_id = {"alice-smith": "3001", "sales-team/round-robin": "3002"}[booking["slug"]]
        assert (meeting["hs_engagement_source"], meeting["hs_engagement_source_id"]) == ("MEETINGS", link_id)
        assert meeting["hubspot_owner_id"] == owner_of[booking["hostUserId"]]  # round robin: who got it

    team = _search(
        api,
        sandbox,
        {"propertyName": "hs_engagement_source", "operator": "EQ", "value": "MEETINGS"},
        {"propertyName": "hs_engagement_source_id", "operator": "EQ", "value": "3002"},
        properties=wanted,
    )
    assert team["total"] == 2
    by_owner = _search(
        api,
        sandbox,
        {"propertyName": "hubspot_owner_id", "operator": "IN", "values": ["501", "503"]},
        properties=wanted,
    )
    expected = {b["crmMeetingId"] for b in sandbox.bookings if b["hostUserId"] in ("1001", "1003")}
    assert {result["id"] for result in by_owner["results"]} == expected
    pages = _search(
        api,
        sandbox,
        {"propertyName": "hs_engagement_source_id", "operator": "IN", "values": ["3001", "3002"]},
    )
    assert pages["total"] == 3


def test_a_calendar_meeting_is_sourced_meetings_with_an_empty_source_id(api, sandbox):
    created = _create(api, sandbox).json()
    found = _search(
        api,
        sandbox,
        {"propertyName": "hs_engagement_source_id", "operator": "EQ", "value": ""},
        properties=["hs_engagement_source"],
    )
    assert [result["id"] for result in found["results"]] == [created["id"]]
    assert found["results"][0]["properties"]["hs_engagement_source"] == "MEETINGS"
