"""Creating a meeting on a user's calendar: ``POST /scheduler/{version}/meetings/calendar``.

The meeting's ``properties`` are CRM properties, snake_case on the wire (``hs_meeting_title``).
"""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 (pydantic resolves annotations at runtime)
from typing import Literal

from pydantic import AwareDatetime, Field, StrictBool

from hubspot_scheduler_provider.models._base import (
    RequestModel,
    ResponseModel,
    SnakeCaseRequestModel,
    SnakeCaseResponseModel,
)


class PublicObjectId(RequestModel):
    __spec_schema__ = "PublicObjectId"

    id: str


class AssociationSpec(RequestModel):
    __spec_schema__ = "AssociationSpec"

    association_category: Literal["HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"]
    association_type_id: int


class AssociationCreateRequest(RequestModel):
    """Associate the new meeting with a CRM record (e.g. contact: HUBSPOT_DEFINED type 200)."""

    __spec_schema__ = "ExternalAssociationCreateRequest"

    to: PublicObjectId
    types: list[AssociationSpec]


class Reminder(RequestModel):
    __spec_schema__ = "ExternalReminder"

    number_of_time_units: int
    time_unit: Literal["DAYS", "HOURS", "MINUTES", "WEEKS"]


class EmailReminderSchedule(RequestModel):
    __spec_schema__ = "ExternalEmailReminderSchedule"

    reminders: list[Reminder] = Field(default_factory=list)
    should_include_invite_description: StrictBool


class CalendarMeetingProperties(SnakeCaseRequestModel):
    __spec_schema__ = "ExternalCalendarMeetingEventCreateProperties"

    hs_activity_type: str | None = None
    hs_attachment_ids: list[str] | None = None
    hs_attendee_owner_ids: list[str] | None = None
    hs_internal_meeting_notes: str | None = None
    hs_meeting_body: str | None = None
    hs_meeting_end_time: AwareDatetime
    hs_meeting_location: str | None = None
    hs_meeting_location_type: Literal["ADDRESS", "CUSTOM", "PHONE"] | None = None
    hs_meeting_outcome: str
    hs_meeting_start_time: AwareDatetime
    hs_meeting_title: str
    hs_timestamp: AwareDatetime
    hubspot_owner_id: str


class CalendarMeetingCreateRequest(RequestModel):
    __spec_schema__ = "ExternalCalendarMeetingEventCreateRequest"

    associations: list[AssociationCreateRequest] = Field(default_factory=list)
    email_reminder_schedule: EmailReminderSchedule
    properties: CalendarMeetingProperties
    timezone: str


class CalendarMeetingResponseProperties(SnakeCaseResponseModel):
    __spec_schema__ = "ExternalCalendarMeetingEventResponseProperties"

    hs_activity_type: str | None = None
    hs_attachment_ids: list[str] | None = None
    hs_attendee_owner_ids: list[str] | None = None
    hs_engagement_source: str
    hs_engagement_source_id: str
    hs_include_description_in_reminder: str | None = None
    hs_internal_meeting_notes: str | None = None
    hs_meeting_body: str | None = None
    hs_meeting_end_time: datetime
    hs_meeting_external_url: str | None = None
    hs_meeting_location: str | None = None
    hs_meeting_location_type: str | None = None
    hs_meeting_outcome: str
    hs_meeting_start_time: datetime
    hs_meeting_title: str
    hs_timestamp: datetime
    hs_unique_id: str | None = None
    hubspot_owner_id: str | None = None


class CalendarMeeting(ResponseModel):
    """The meeting (CRM engagement) HubSpot created on the calendar."""

    __spec_schema__ = "ExternalCalenderMeetingEventResponse"

    created_at: datetime
    id: str
    last_updated_at: datetime
    properties: CalendarMeetingResponseProperties
