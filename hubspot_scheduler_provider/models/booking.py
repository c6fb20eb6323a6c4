"""Booking a meeting: ``POST /scheduler/{version}/meetings/meeting-links/book``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import AwareDatetime, Field, StrictBool

from hubspot_scheduler_provider.api_versions import (
    ApiVersion,
    duration_from_wire,
    duration_to_wire,
    get_api_version,
)
from hubspot_scheduler_provider.models._base import RequestModel, ResponseModel


class BookingFormField(RequestModel):
    """An answer to a question on the meeting page's form (``name`` is the property's internal name)."""

    __spec_schema__ = "ExternalBookingFormField"

    name: str
    value: str


class LegalConsentResponse(RequestModel):
    """Consent given (or not) to one communication type of the page's GDPR options."""

    __spec_schema__ = "ExternalLegalConsentResponse"

    communication_type_id: str
    consented: StrictBool


class MeetingBooking(RequestModel):
    """What to book. ``duration`` is in MILLISECONDS whatever the API version; :meth:`to_wire` converts."""

    __spec_schema__ = "ExternalMeetingBooking"

    slug: str = Field(min_length=1)
    email: str = Field(min_length=1)
    first_name: str
    last_name: str
    start_time: AwareDatetime
    duration: int = Field(gt=0, description="Milliseconds.")
    timezone: str | None = None
    locale: str | None = None
    # Required by HubSpot even when empty, so they default to [] and are always sent.
    form_fields: list[BookingFormField] = Field(default_factory=list)
    legal_consent_responses: list[LegalConsentResponse] = Field(default_factory=list)
    likely_available_user_ids: list[str] = Field(default_factory=list)

    def to_wire(self, version: ApiVersion | str | None = None) -> dict[str, Any]:
        """The JSON body for ``version``: camelCase names, UTC start time, duration in the version's unit."""
        api_version = version if isinstance(version, ApiVersion) else get_api_version(version)
        body = self.to_wire_dict()
        body["startTime"] = format_utc(self.start_time)
        body["duration"] = duration_to_wire(self.duration, api_version)
        return body


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix (``2026-12-01T14:00:00Z``), the form HubSpot documents."""
    utc = moment.astimezone(timezone.utc)
    timespec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


class ValidatedFormField(ResponseModel):
    __spec_schema__ = "ExternalValidatedFormField"

    field_type: str | None = None
    is_custom: StrictBool
    label: str
    name: str
    translated_label: str | None = None
    value: str
    value_label: str | None = None


class BookedLegalConsentResponse(ResponseModel):
    __spec_schema__ = "ExternalLegalConsentResponse"

    communication_type_id: str
    consented: StrictBool


class BookedMeeting(ResponseModel):
    """HubSpot's answer to a booking. ``duration`` is in milliseconds (see :meth:`normalise_wire`).

    ``is_offline`` true (with an empty ``calendar_event_id``) means the host's calendar is disconnected
    and nothing was put in a calendar.
    """

    __spec_schema__ = "ExternalMeetingBookingResponse"

    booking_timezone: str
    calendar_event_id: str
    contact_id: str
    duration: int
    end: datetime
    form_fields: list[ValidatedFormField]
    guest_emails: list[str]
    is_offline: StrictBool
    legal_consent_responses: list[BookedLegalConsentResponse]
    locale: str | None = None
    location: str | None = None
    start: datetime
    subject: str
    web_conference_meeting_id: str | None = None
    web_conference_url: str | None = None

    @staticmethod
    def normalise_wire(body: dict[str, Any], version: ApiVersion | str | None = None) -> dict[str, Any]:
        """A copy of HubSpot's JSON with ``duration`` converted from the version's unit to milliseconds."""
        api_version = version if isinstance(version, ApiVersion) else get_api_version(version)
        normalised = dict(body)
        if isinstance(normalised.get("duration"), int) and not isinstance(normalised["duration"], bool):
            normalised["duration"] = duration_from_wire(normalised["duration"], api_version)
        return normalised


@dataclass(frozen=True)
class BookingResult:
    """What :meth:`HubSpotSchedulerHook.book_meeting` returns."""

    meeting: BookedMeeting
    #: HubSpot's JSON exactly, except ``duration`` in milliseconds for every API version.
    raw: dict[str, Any]
    #: ``X-HubSpot-Correlation-Id`` of the answer, for HubSpot support.
    correlation_id: str | None

    @property
    def is_offline(self) -> bool:
        """HubSpot booked without the host's calendar (disconnected): nothing is in a calendar.

        A JSON boolean, checked when the answer was parsed: ``"false"`` or ``1`` there is a
        ``HubSpotResponseError``, never a truth test of the raw value.
        """
        return self.meeting.is_offline
