"""Scheduler endpoint handlers of the sandbox (a test double, not HubSpot).

Units, as the specs document them (and as this sandbox therefore speaks them):

* booking request ``duration`` and booking response ``duration``: the unit of
  ``api_versions.API_VERSIONS`` (milliseconds in every version, 2026-03 included although its file
  says minutes), converted with ``api_versions.duration_from_wire``/``duration_to_wire``;
* ``customParams.durations``, ``customParams.meetingBufferTime`` and ``meetingDurationMillis``:
  milliseconds in every version (2026-03 says so explicitly);
* ``linkAvailabilityByDuration`` keys: the duration in milliseconds as a string (the spec names no unit;
  the values' ``meetingDurationMillis`` is milliseconds), in every version;
* ``customParams.availability``: weekday name -> minute offsets from local midnight (540 = 09:00).

Where the specs are silent (see ``testing.formats`` for date-times, zones and integers):

* ``monthOffset`` may move the month anywhere from January 1970 to December 9998 (epoch milliseconds
  stay non-negative and the following month exists); beyond: 400, not a crash.
* ``limit`` of the link list must be at least 1; larger than the page count simply returns all.
* The v3 meeting-link PATCH sets (or, with an empty or absent ``paymentLinkId``, removes) the page's
  payment link; the sandbox portal's payment links are not modelled, so any id up to 100 characters
  is taken. Only v3 has the operation: on other versions the path is 404, as in their specs.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.api_versions import duration_from_wire, duration_to_wire, get_api_version
from hubspot_scheduler_provider.testing import api_errors, formats
from hubspot_scheduler_provider.testing.availability import (
    available_slots,
    bookable_window,
    free_host,
    from_ms,
    is_offered_start,
    month_window,
)
from hubspot_scheduler_provider.testing.pages import INCREMENT_NAMES, WEEKDAY_NAMES

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing.pages import Host, MeetingPage
    from hubspot_scheduler_provider.testing.spec import Operation
    from hubspot_scheduler_provider.testing.state import SandboxState

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DEFAULT_LIST_LIMIT = 10


@dataclass(frozen=True)
class Call:
    """One validated API call as the handlers see it."""

    state: SandboxState
    operation: Operation
    path: dict[str, str]
    query: dict[str, Any]
    body: Any


def iso_utc(millis: int) -> str:
    return from_ms(millis).strftime("%Y-%m-%dT%H:%M:%SZ")


_MAX_PAYMENT_LINK_ID = 100
#: Months ``monthOffset`` may reach, as ``year * 12 + month - 1`` (January 1970 to December 9998).
_MONTH_RANGE = (1970 * 12, 9998 * 12 + 11)


def _link_metadata(page: MeetingPage) -> dict[str, Any]:
    metadata = {
        "createdAt": page.created_at,
        "updatedAt": page.updated_at or page.created_at,
        "defaultLink": page.link_type == "PERSONAL_LINK",
        "id": page.link_id,
        "link": f"https://meetings.hubspot.com/{page.slug}",
        "name": page.name,
        "organizerUserId": page.organizer.user_id,
        "slug": page.slug,
        "type": page.link_type,
        "userIdsOfLinkMembers": [host.user_id for host in page.hosts],
    }
    if page.payment_link_id:
        metadata["paymentLinkId"] = page.payment_link_id
    return metadata


def update_link(call: Call) -> dict[str, Any]:
    """v3 ``PATCH /meeting-links/{meetingLinkSlug}``: set or remove the page's payment link."""
    page = call.state.page(call.path["meetingLinkSlug"])
    payment_link_id = call.body.get("paymentLinkId") or None
    if payment_link_id is not None and len(payment_link_id) > _MAX_PAYMENT_LINK_ID:
        raise api_errors.validation_error(f"paymentLinkId: longer than {_MAX_PAYMENT_LINK_ID} characters")
    updated = dataclasses.replace(
        page, payment_link_id=payment_link_id, updated_at=iso_utc(call.state.now_ms())
    )
    call.state.update_page(updated)
    return _link_metadata(updated)


def _month(call: Call, zone: str, month_offset: int) -> tuple[int, int]:
    """``month_window`` for a validated offset: a 400 naming ``monthOffset`` when out of range."""
    local_now = from_ms(call.state.now_ms())
    month_index = local_now.year * 12 + local_now.month - 1 + month_offset
    if not _MONTH_RANGE[0] <= month_index <= _MONTH_RANGE[1]:
        raise api_errors.validation_error(
            f"monthOffset: {month_offset} leaves the supported months (January 1970 to December 9998)",
            errors=[{"message": "out of range", "in": "monthOffset", "code": "OUT_OF_RANGE"}],
        )
    return month_window(call.state.now_ms(), zone, month_offset)


def list_links(call: Call) -> dict[str, Any]:
    name = (call.query.get("name") or "").lower()
    with call.state.lock:
        pages = list(call.state.pages.values())
    selected = [
        page
        for page in pages
        if name in page.name.lower()
        and call.query.get("type") in (None, page.link_type)
        and call.query.get("organizerUserId") in (None, page.organizer.user_id)
    ]
    limit = call.query.get("limit", _DEFAULT_LIST_LIMIT)
    if limit < 1:
        raise api_errors.validation_error("limit: must be at least 1")
    after = call.query.get("after") or "0"
    offset = int(after) if after.isdigit() else 0
    body: dict[str, Any] = {
        "total": len(selected),
        "results": [_link_metadata(page) for page in selected[offset : offset + limit]],
    }
    if offset + limit < len(selected):
        body["paging"] = {"next": {"after": str(offset + limit)}}
    return body


def _meetings_user(host: Host) -> dict[str, Any]:
    return {
        "calendarProvider": host.calendar_provider,
        "id": host.meetings_user_id,
        "isSalesStarter": False,
        "userId": host.user_id,
        "userProfile": {
            "email": host.email,
            "firstName": host.first_name,
            "lastName": host.last_name,
            "fullName": host.full_name,
        },
    }


def _busy_times(call: Call, page: MeetingPage, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    with call.state.lock:
        return [
            {
                "busyTimes": [
                    {"start": busy.start_ms, "end": busy.end_ms}
                    for busy in call.state.busy.between(host.user_id, start_ms, end_ms)
                ],
                "isOffline": page.offline,
                "meetingsUser": _meetings_user(host),
            }
            for host in page.hosts
        ]


def _link_availability(call: Call, page: MeetingPage, start_ms: int, end_ms: int) -> dict[str, Any]:
    now = call.state.now_ms()
    by_duration = {}
    with call.state.lock:
        for duration in page.durations_ms:
            slots = available_slots(page, call.state.busy, duration, now, start_ms, end_ms)
            by_duration[str(duration)] = {
                "meetingDurationMillis": duration,
                "availabilities": [
                    {"startMillisUtc": slot, "endMillisUtc": slot + duration} for slot in slots
                ],
            }
    _earliest, latest = bookable_window(page, now)
    return {"hasMore": latest > end_ms, "linkAvailabilityByDuration": by_duration}


def _custom_params(page: MeetingPage) -> dict[str, Any]:
    params: dict[str, Any] = {
        "availability": {
            WEEKDAY_NAMES[day]: {"start": start, "end": end}
            for day, (start, end) in sorted(page.hours.items())
        },
        "durations": list(page.durations_ms),
        "formFields": [
            {
                "fieldType": form_field.field_type,
                "isCustom": form_field.custom,
                "isRequired": form_field.required,
                "label": form_field.label,
                "name": form_field.name,
                "options": [],
                "type": form_field.value_type,
            }
            for form_field in page.form_fields
        ],
        "guestSettings": {"canAddGuests": False, "maxGuestCount": 0},
        "language": "en",
        "locale": "en-us",
        "location": page.location,
        "legalConsentEnabled": page.legal_consent_enabled,
        "meetingBufferTime": page.buffer_ms,
        "ownerPrioritized": False,
        "startTimeIncrementMinutes": INCREMENT_NAMES.get(page.increment_minutes, "MEETING_DURATION"),
        "weeksToAdvertise": page.weeks_to_advertise,
        "welcomeScreenInfo": {"title": page.name, "showWelcomeScreen": False, "useCompanyLogo": True},
    }
    if page.legal_consent_enabled:
        params["legalConsentOptions"] = {
            "communicationConsentCheckboxes": [
                {
                    "communicationTypeId": box.communication_type_id,
                    "label": box.label,
                    "required": box.required,
                }
                for box in page.consent_checkboxes
            ],
            "communicationConsentText": "Sandbox Inc would like to contact you about this meeting.",
            "isLegitimateInterest": False,
            "legitimateInterestSubscriptionTypes": [],
            "privacyPolicyText": "See the sandbox privacy policy.",
            "processingConsentCheckboxLabel": "I agree to allow Sandbox Inc to store and process my data.",
            "processingConsentFooterText": "",
            "processingConsentText": "We need to store your data to book the meeting.",
            "processingConsentType": "IMPLICIT",
        }
    return params


def booking_info(call: Call) -> dict[str, Any]:
    zone = formats.zone(call.query["timezone"], "timezone")
    page = call.state.page(call.path["slug"])
    start_ms, end_ms = _month(call, zone, 0)
    return {
        "allUsersBusyTimes": _busy_times(call, page, start_ms, end_ms),
        "brandingMetadata": {
            "companyName": "Sandbox Inc",
            "logoAltText": "",
            "showMarketingAd": False,
            "showSalesAd": False,
        },
        "customParams": _custom_params(page),
        "isOffline": page.offline,
        "linkAvailability": _link_availability(call, page, start_ms, end_ms),
        "linkId": page.link_id,
        "linkType": page.link_type,
    }


def availability(call: Call) -> dict[str, Any]:
    zone = formats.zone(call.query["timezone"], "timezone")
    page = call.state.page(call.path["slug"])
    start_ms, end_ms = _month(call, zone, call.query.get("monthOffset") or 0)
    return {
        "allUsersBusyTimes": _busy_times(call, page, start_ms, end_ms),
        "linkAvailability": _link_availability(call, page, start_ms, end_ms),
    }


def _check_form(page: MeetingPage, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The validated form fields of the answer; raises for a missing required one."""
    given = {item["name"]: item["value"] for item in body["formFields"]}
    given.update(firstName=body["firstName"], lastName=body["lastName"], email=body["email"])
    validated = []
    for form_field in page.form_fields:
        value = str(given.get(form_field.name, "")).strip()
        if form_field.required and not value:
            raise api_errors.validation_error(
                f"The form field '{form_field.name}' is required for this meeting page.",
                sub_category=api_errors.MISSING_REQUIRED_FORM_FIELD,
                errors=[
                    {"message": f"'{form_field.name}' is required", "in": form_field.name, "code": "REQUIRED"}
                ],
            )
        if value:
            validated.append(
                {
                    "isCustom": form_field.custom,
                    "label": form_field.label,
                    "name": form_field.name,
                    "value": value,
                    "fieldType": form_field.field_type,
                }
            )
    return validated


def _check_consent(page: MeetingPage, body: dict[str, Any]) -> None:
    consented = {item["communicationTypeId"] for item in body["legalConsentResponses"] if item["consented"]}
    for box in page.consent_checkboxes:
        if box.required and box.communication_type_id not in consented:
            raise api_errors.validation_error(
                f"Consent for communication type {box.communication_type_id} is required on this page.",
                sub_category=api_errors.MISSING_REQUIRED_CONSENT,
                errors=[
                    {"message": "required consent missing", "in": "legalConsentResponses", "code": "REQUIRED"}
                ],
            )


def book(call: Call) -> dict[str, Any]:
    """``POST /meeting-links/book`` (a spec-validated body)."""
    return book_on_page(call.state, call.body, call.operation.api_version or "v3")


def book_on_page(
    state: SandboxState, body: dict[str, Any], api_version: str, *, created_ms: int | None = None
) -> dict[str, Any]:
    """Book as HubSpot's book endpoint does: for the endpoint and for a visitor on the public page
    (``HubSpotSandbox.book_as_visitor``). ``created_ms`` overrides the CRM meeting's creation time."""
    version = get_api_version(api_version)
    page = state.page(body["slug"])
    if not _EMAIL.match(body["email"]):
        raise api_errors.validation_error(
            f"email: '{body['email']}' is not a valid email address",
            sub_category=api_errors.INVALID_EMAIL,
            errors=[{"message": "invalid email address", "in": "email", "code": "INVALID_EMAIL"}],
        )
    duration_ms = duration_from_wire(body["duration"], version)
    if duration_ms not in page.durations_ms:
        offered = ", ".join(str(duration_to_wire(ms, version)) for ms in page.durations_ms)
        raise api_errors.validation_error(
            f"The meeting duration {body['duration']} is not valid for this page; offered: {offered}.",
            sub_category=api_errors.DURATION_NOT_VALID,
        )
    start_ms = formats.instant(body["startTime"], "startTime", sub_category=api_errors.START_TIME_NOT_VALID)
    booking_zone = formats.zone(body.get("timezone") or page.timezone, "timezone")
    form_fields = _check_form(page, body)
    _check_consent(page, body)
    with state.lock:
        host = None
        if is_offered_start(page, duration_ms, start_ms, state.now_ms()):
            host = free_host(page, state.busy, start_ms, duration_ms, tuple(body["likelyAvailableUserIds"]))
        if host is None:
            raise api_errors.validation_error(
                f"The meeting start time {body['startTime']} is not available on this meeting page.",
                sub_category=api_errors.START_TIME_NOT_VALID,
            )
        if page.offline:
            contact_id = state.crm.upsert_contact(
                body["email"], body["firstName"], body["lastName"], state.now_ms()
            ).id
            event_id = ""
        else:
            reservation = state.reserve(
                page,
                start_ms=start_ms,
                duration_ms=duration_ms,
                host=host,
                email=body["email"],
                first_name=body["firstName"],
                last_name=body["lastName"],
                created_ms=created_ms,
            )
            contact_id, event_id = reservation.contact_id, reservation.calendar_event_id
        answer: dict[str, Any] = {
            "bookingTimezone": booking_zone,
            "calendarEventId": event_id,
            "contactId": contact_id,
            "duration": body["duration"],
            "start": iso_utc(start_ms),
            "end": iso_utc(start_ms + duration_ms),
            "formFields": form_fields,
            "guestEmails": [],
            "isOffline": page.offline,
            "legalConsentResponses": body["legalConsentResponses"],
            "locale": body.get("locale") or "en-us",
            "location": page.location,
            "subject": f"{page.name} ({body['firstName']} {body['lastName']})",
        }
        if not page.offline:
            answer["webConferenceMeetingId"] = f"conf-{event_id}"
            answer["webConferenceUrl"] = f"https://video.sandbox.example/{event_id}"
            state.bookings.append(
                {
                    **answer,
                    "request": body,
                    "slug": page.slug,
                    "apiVersion": version.name,
                    "hostUserId": host.user_id,
                    "crmMeetingId": reservation.crm_meeting_id,
                }
            )
        return answer
