"""Every Scheduler endpoint method of the hook against the HubSpot sandbox (real HTTP on loopback)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.api_versions import API_VERSIONS
from hubspot_scheduler_provider.errors import (
    BookingInputError,
    HubSpotConfigError,
    HubSpotNotFoundError,
    HubSpotValidationError,
)
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.models import (
    BookingFormField,
    CalendarMeeting,
    CalendarMeetingCreateRequest,
    LegalConsentResponse,
    MeetingBooking,
)
from tests.hooks.conftest import Answer, ScriptedServer, set_connection

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing import HubSpotSandbox

SLUG_WITH_SLASH = "sales-team/round-robin"


def open_slots(hook: HubSpotSchedulerHook, slug: str, count: int = 1) -> list[tuple[datetime, int]]:
    """The first ``count`` non-overlapping bookable (start, duration ms) the page ``slug`` offers."""
    info = hook.get_booking_info(slug, "Europe/Berlin")
    assert info.link_availability is not None
    duration_ms = min(info.custom_params.durations)
    chosen: list[int] = []
    for slot in info.link_availability.link_availability_by_duration[str(duration_ms)].availabilities:
        if (
            not chosen
            or slot.start_millis_utc >= chosen[-1] + duration_ms + info.custom_params.meeting_buffer_time
        ):
            chosen.append(slot.start_millis_utc)
    assert len(chosen) >= count
    return [(datetime.fromtimestamp(start / 1000, tz=timezone.utc), duration_ms) for start in chosen[:count]]


def make_booking(slug: str, start: datetime, duration_ms: int, **extra: Any) -> MeetingBooking:
    return MeetingBooking(
        slug=slug,
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        start_time=start,
        duration=duration_ms,
        timezone="Europe/Berlin",
        **extra,
    )


def test_list_meeting_links_follows_every_page(hubspot_sandbox: HubSpotSandbox) -> None:
    links = list(HubSpotSchedulerHook().list_meeting_links(limit=1))
    assert [link.slug for link in links] == ["alice-smith", SLUG_WITH_SLASH, "demo-with-form", "offline-host"]
    listed = [r for r in hubspot_sandbox.requests if r.path.endswith("/meeting-links")]
    assert len(listed) == 4
    assert "after" not in listed[0].query
    assert all(r.query["limit"] == ["1"] for r in listed)
    assert all("after" in r.query for r in listed[1:])


def test_list_meeting_links_sends_filters_in_camel_case(hubspot_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    alice = next(link for link in hook.list_meeting_links() if link.slug == "alice-smith")
    links = list(
        hook.list_meeting_links(
            organizer_user_id=alice.organizer_user_id, type="PERSONAL_LINK", name="Alice", limit=10
        )
    )
    assert [link.slug for link in links] == ["alice-smith"]
    assert hubspot_sandbox.requests[-1].query == {
        "organizerUserId": [alice.organizer_user_id],
        "type": ["PERSONAL_LINK"],
        "name": ["Alice"],
        "limit": ["10"],
    }


@pytest.mark.parametrize(("argument", "value"), [("type", "TEAM"), ("limit", 0), ("limit", True)])
def test_list_meeting_links_checks_arguments_before_sending(
    hubspot_sandbox: HubSpotSandbox, argument: str, value: Any
) -> None:
    with pytest.raises(BookingInputError, match=f"^{argument}: ") as raised:
        HubSpotSchedulerHook().list_meeting_links(**{argument: value})  # raised at the call, not on iteration
    assert raised.value.field == argument
    assert hubspot_sandbox.requests == []


def test_slug_with_slash_is_one_encoded_path_segment(hubspot_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    info = hook.get_booking_info(SLUG_WITH_SLASH, "Europe/Berlin")
    page = hook.get_availability(SLUG_WITH_SLASH, "Europe/Berlin", month_offset=1)
    assert info.link_type == "ROUND_ROBIN_CALENDAR"
    assert info.custom_params.durations == [1_800_000, 3_600_000]
    assert page.all_users_busy_times
    info_request, availability_request = hubspot_sandbox.requests
    assert info_request.path == "/scheduler/2026-09/meetings/meeting-links/book/sales-team%2Fround-robin"
    assert info_request.query == {"timezone": ["Europe/Berlin"]}
    assert availability_request.path == (
        "/scheduler/2026-09/meetings/meeting-links/book/availability-page/sales-team%2Fround-robin"
    )
    assert availability_request.query == {"timezone": ["Europe/Berlin"], "monthOffset": ["1"]}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda hook: hook.get_booking_info("", "Europe/Berlin"), "slug"),
        (lambda hook: hook.get_booking_info("alice-smith", " "), "timezone"),
        (lambda hook: hook.get_availability("alice-smith", "UTC", month_offset=-1), "month_offset"),
    ],
)
def test_bad_arguments_fail_before_any_request(
    hubspot_sandbox: HubSpotSandbox, call: Any, field: str
) -> None:
    with pytest.raises(BookingInputError) as raised:
        call(HubSpotSchedulerHook())
    assert raised.value.field == field
    assert hubspot_sandbox.requests == []


def test_unknown_slug_is_not_found(hubspot_sandbox: HubSpotSandbox) -> None:
    with pytest.raises(HubSpotNotFoundError) as raised:
        HubSpotSchedulerHook().get_booking_info("nobody/here", "UTC")
    assert raised.value.status == 404
    assert raised.value.correlation_id == hubspot_sandbox.requests[-1].correlation_id


@pytest.mark.parametrize("version", sorted(API_VERSIONS))
def test_book_meeting_in_every_api_version(hubspot_sandbox: HubSpotSandbox, version: str) -> None:
    hook = HubSpotSchedulerHook(api_version=version)
    [(start, duration_ms)] = open_slots(hook, SLUG_WITH_SLASH)
    result = hook.book_meeting(make_booking(SLUG_WITH_SLASH, start, duration_ms))

    [booked] = hubspot_sandbox.bookings
    sent = booked["request"]
    # On the wire: milliseconds in every version (2026-03 included) and the three required arrays.
    assert sent["duration"] == duration_ms
    assert (
        sent["formFields"] == []
        and sent["legalConsentResponses"] == []
        and sent["likelyAvailableUserIds"] == []
    )
    assert sent["startTime"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    post = hubspot_sandbox.requests[-1]
    assert post.path == f"/scheduler/{version}/meetings/meeting-links/book"
    # Back to the caller: milliseconds, HubSpot's JSON and the correlation id.
    assert result.meeting.duration == duration_ms
    assert result.raw["duration"] == duration_ms
    assert {k: v for k, v in result.raw.items() if k != "duration"} == {
        k: v for k, v in booked.items() if k in result.raw and k != "duration"
    }
    assert result.meeting.start == start
    assert result.correlation_id == post.correlation_id
    assert result.meeting.is_offline is False and result.meeting.calendar_event_id


def test_book_meeting_with_form_fields_and_consent(hubspot_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    [(start, duration_ms)] = open_slots(hook, "demo-with-form")
    result = hook.book_meeting(
        make_booking(
            "demo-with-form",
            start,
            duration_ms,
            form_fields=[BookingFormField(name="company", value="Analytical Engines Ltd")],
            legal_consent_responses=[LegalConsentResponse(communication_type_id="4711", consented=True)],
        )
    )
    assert {f.name: f.value for f in result.meeting.form_fields}["company"] == "Analytical Engines Ltd"
    assert hubspot_sandbox.bookings[0]["request"]["legalConsentResponses"] == [
        {"communicationTypeId": "4711", "consented": True}
    ]


def test_booking_rejected_by_hubspot_names_the_sub_category(hubspot_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    [(start, duration_ms)] = open_slots(hook, "demo-with-form")
    with pytest.raises(HubSpotValidationError) as raised:
        hook.book_meeting(make_booking("demo-with-form", start, duration_ms))
    assert raised.value.sub_category == "MeetingsBookingSchedulingError.MISSING_REQUIRED_FORM_FIELD"
    assert "subCategory=MeetingsBookingSchedulingError.MISSING_REQUIRED_FORM_FIELD" in str(raised.value)
    assert raised.value.outcome_unknown is False
    assert hubspot_sandbox.bookings == []


def test_start_time_not_offered_is_a_validation_error(hubspot_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    [(start, duration_ms)] = open_slots(hook, "alice-smith")
    with pytest.raises(HubSpotValidationError) as raised:
        hook.book_meeting(make_booking("alice-smith", start.replace(minute=7), duration_ms))
    assert raised.value.sub_category == "MeetingsBookingSchedulingError.MEETING_START_TIME_NOT_VALID"


def test_offline_host_answer_is_returned_not_raised(hubspot_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    [(start, duration_ms)] = open_slots(hook, "offline-host")
    result = hook.book_meeting(make_booking("offline-host", start, duration_ms))
    assert result.meeting.is_offline is True
    assert result.meeting.calendar_event_id == ""
    assert hubspot_sandbox.bookings == []


def test_2026_03_sends_milliseconds_not_minutes(hubspot_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook(api_version="2026-03")
    [(start, duration_ms)] = open_slots(hook, "alice-smith")
    hook.book_meeting(make_booking("alice-smith", start, duration_ms))
    [booked] = hubspot_sandbox.bookings
    assert booked["request"]["duration"] == duration_ms == booked["duration"]


def test_create_calendar_meeting(hubspot_sandbox: HubSpotSandbox) -> None:
    request = CalendarMeetingCreateRequest.model_validate(
        {
            "associations": [],
            "emailReminderSchedule": {"reminders": [], "shouldIncludeInviteDescription": False},
            "timezone": "Europe/Berlin",
            "properties": {
                "hs_meeting_title": "Quarterly review",
                "hs_meeting_outcome": "SCHEDULED",
                "hs_meeting_start_time": "2030-01-07T14:00:00Z",
                "hs_meeting_end_time": "2030-01-07T14:30:00Z",
                "hs_timestamp": "2030-01-07T14:00:00Z",
                "hubspot_owner_id": "1001",
            },
        }
    )
    answer = HubSpotSchedulerHook().create_calendar_meeting("1001", request)
    meeting = CalendarMeeting.model_validate(answer)
    assert meeting.properties.hs_meeting_title == "Quarterly review"
    post = hubspot_sandbox.requests[-1]
    assert post.path == "/scheduler/2026-09/meetings/calendar"
    assert post.query == {"organizerUserId": ["1001"]}
    assert post.body["properties"]["hs_meeting_start_time"] == "2030-01-07T14:00:00Z"


def test_create_calendar_meeting_checks_a_plain_dict_before_sending(hubspot_sandbox: HubSpotSandbox) -> None:
    with pytest.raises(BookingInputError, match=r"^request: .*properties"):
        HubSpotSchedulerHook().create_calendar_meeting("2001", {"timezone": "UTC"})
    assert hubspot_sandbox.requests == []


def test_portal_id_from_extra_without_a_request(hubspot_sandbox_factory: Any) -> None:
    sandbox = hubspot_sandbox_factory(conn_extra={"portal_id": "123456"})
    assert HubSpotSchedulerHook().get_portal_id() == "123456"
    assert sandbox.requests == []


def test_portal_id_looked_up_once(hubspot_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    portal_id = hook.get_portal_id()
    assert portal_id and portal_id.isdigit()
    assert hook.get_portal_id() == portal_id
    assert [r.path for r in hubspot_sandbox.requests] == ["/account-info/v3/details"]


def test_update_meeting_link_v3(scripted_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, host=scripted_server.url, password="pat-na1-v3", extra={"api_version": "v3"})
    link = {
        "id": "3002",
        "slug": SLUG_WITH_SLASH,
        "link": "https://meetings.hubspot.com/sales-team/round-robin",
        "name": "Sales",
        "type": "ROUND_ROBIN_CALENDAR",
        "organizerUserId": "2002",
        "userIdsOfLinkMembers": ["2002"],
        "defaultLink": False,
        "createdAt": "2026-01-01T00:00:00Z",
        "paymentLinkId": "pl-1",
    }
    scripted_server.queue(Answer(body=link))
    updated = HubSpotSchedulerHook().update_meeting_link(SLUG_WITH_SLASH, "pl-1")
    assert updated.payment_link_id == "pl-1"
    [seen] = scripted_server.seen
    assert (seen.method, seen.path) == (
        "PATCH",
        "/scheduler/v3/meetings/meeting-links/sales-team%2Fround-robin",
    )
    assert json.loads(seen.body) == {"paymentLinkId": "pl-1"}


def test_update_meeting_link_exists_only_in_v3(scripted_server: ScriptedServer, scripted_hook: Any) -> None:
    with pytest.raises(HubSpotConfigError, match=r"^api_version: .*only in API version v3"):
        scripted_hook.update_meeting_link("alice-smith", None)
    assert scripted_server.seen == []
