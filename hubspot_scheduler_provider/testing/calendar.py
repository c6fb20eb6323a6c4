"""``POST /scheduler/<version>/meetings/calendar``: a meeting on an organizer's calendar, without a page.

A test double, not HubSpot. What the create answer shows is exactly what a later CRM read of the
meeting shows (one stored record, rendered twice). The checks HubSpot makes are made, each a 400
naming the field:

* ``organizerUserId`` is a user of the portal (a host of one of its pages);
* ``timezone`` is an IANA zone name, the times are date-times of ``testing.formats`` and the end is
  after the start;
* ``hs_meeting_outcome`` is one of HubSpot's default outcomes (the sandbox portal defines no custom
  ones); properties outside the spec's create properties are refused (HubSpot: PROPERTY_DOESNT_EXIST);
* every association is meeting-to-contact (``HUBSPOT_DEFINED`` 200) and its contact exists.

Where the spec is silent: multi-value properties (``hs_attendee_owner_ids``, ``hs_attachment_ids``)
are stored as HubSpot stores multi-value CRM properties, ``;``-separated strings, and answered as
the spec's arrays; ``hs_timestamp`` is kept as given (the spec says it "should" equal the start).
The meeting then blocks the organizer's availability like a booking, until its outcome becomes
``CANCELED`` or ``RESCHEDULED``. It does not check the organizer is free: HubSpot's calendar endpoint
books over other events too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.testing import api_errors, formats
from hubspot_scheduler_provider.testing.availability import BusyInterval
from hubspot_scheduler_provider.testing.crm import ENGAGEMENT_SOURCE, crm_timestamp
from hubspot_scheduler_provider.testing.state import FREEING_OUTCOMES, calendar_busy_source

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing.scheduler import Call

DEFAULT_OUTCOMES = ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")
MEETING_TO_CONTACT = ("HUBSPOT_DEFINED", 200)
_TIME_PROPERTIES = ("hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp")
_MULTI_VALUE = frozenset({"hs_attendee_owner_ids", "hs_attachment_ids"})
_MULTI_SEPARATOR = ";"


def _refuse(field: str, message: str) -> api_errors.ApiError:
    return api_errors.validation_error(
        f"{field}: {message}", errors=[{"message": message, "in": field, "code": "INVALID"}]
    )


def _schema_properties(call: Call, schema_name: str) -> dict[str, Any]:
    schemas = call.operation.spec.document["components"]["schemas"]
    properties: dict[str, Any] = schemas[schema_name]["properties"]
    return properties


def _contact_ids(call: Call) -> list[str]:
    contact_ids = []
    for index, association in enumerate(call.body["associations"]):
        for spec in association["types"]:
            if (spec["associationCategory"], spec["associationTypeId"]) != MEETING_TO_CONTACT:
                raise _refuse(
                    f"associations[{index}].types",
                    "only meeting-to-contact associations (HUBSPOT_DEFINED 200) are supported",
                )
        contact_id = association["to"]["id"]
        if not call.state.crm.has_contact(contact_id):
            raise _refuse(f"associations[{index}].to.id", f"contact {contact_id[:40]!r} does not exist")
        contact_ids.append(contact_id)
    return contact_ids


def _stored_properties(call: Call) -> tuple[dict[str, str], int, int]:
    """The CRM properties to store, and the start and end in epoch ms; raises a 400 for bad input."""
    given: dict[str, Any] = call.body["properties"]
    allowed = _schema_properties(call, "ExternalCalendarMeetingEventCreateProperties")
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise _refuse(f"properties.{unknown[0][:60]}", "property does not exist (PROPERTY_DOESNT_EXIST)")
    millis = {name: formats.instant(given[name], f"properties.{name}") for name in _TIME_PROPERTIES}
    start_ms, end_ms = millis["hs_meeting_start_time"], millis["hs_meeting_end_time"]
    if end_ms <= start_ms:
        raise _refuse("properties.hs_meeting_end_time", "the meeting must end after it starts")
    if given["hs_meeting_outcome"] not in DEFAULT_OUTCOMES:
        raise _refuse("properties.hs_meeting_outcome", f"use one of {', '.join(DEFAULT_OUTCOMES)}")
    stored = {
        name: _MULTI_SEPARATOR.join(value) if name in _MULTI_VALUE else str(value)
        for name, value in given.items()
    }
    stored.update({name: crm_timestamp(value) for name, value in millis.items()})
    return stored, start_ms, end_ms


def _answer_properties(call: Call, stored: dict[str, str]) -> dict[str, Any]:
    """The CRM record rendered as the answer's properties (the response schema's names only)."""
    names = _schema_properties(call, "ExternalCalendarMeetingEventResponseProperties")
    return {
        name: ([item for item in value.split(_MULTI_SEPARATOR) if item] if name in _MULTI_VALUE else value)
        for name, value in stored.items()
        if name in names
    }


def create(call: Call) -> dict[str, Any]:
    state = call.state
    organizer_id = call.query["organizerUserId"]
    if state.user(organizer_id) is None:
        raise _refuse("organizerUserId", f"{organizer_id[:40]!r} is not a user of this portal")
    formats.zone(call.body["timezone"], "timezone")
    stored, start_ms, end_ms = _stored_properties(call)
    with state.lock:
        contact_ids = _contact_ids(call)
        now = state.now_ms()
        meeting = state.crm.add_meeting(
            {
                **stored,
                "hs_engagement_source": ENGAGEMENT_SOURCE,
                # The spec: "Should always be empty when creating meeting events through this API."
                "hs_engagement_source_id": "",
                "hs_meeting_external_url": f"https://calendar.sandbox.example/events/calendar-{state.crm.next_meeting_id}",
                "hs_unique_id": f"sandbox-calendar-{state.crm.next_meeting_id}",
            },
            contact_ids,
            now,
        )
        if stored["hs_meeting_outcome"] not in FREEING_OUTCOMES:
            state.busy.add(organizer_id, BusyInterval(start_ms, end_ms, calendar_busy_source(meeting.id)))
        stamp = crm_timestamp(now)
        answer = {
            "id": meeting.id,
            "createdAt": stamp,
            "lastUpdatedAt": stamp,
            "properties": _answer_properties(call, meeting.properties),
        }
        state.calendar_meetings.append({**answer, "organizerUserId": organizer_id})
        return answer
