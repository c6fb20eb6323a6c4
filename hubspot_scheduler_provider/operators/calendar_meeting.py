"""``CreateCalendarMeetingOperator``: put a meeting on a HubSpot user's calendar, without a meeting page.

Module imports stay cheap (DAG files importing this are parsed often): the hook, pydantic models and
input parsing load inside ``execute``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator

from hubspot_scheduler_provider.operators._base import HubSpotHookMixin

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from airflow.providers.common.compat.sdk import Context

    from hubspot_scheduler_provider.models import CalendarMeetingCreateRequest

#: HubSpot-defined association type "meeting to contact".
MEETING_TO_CONTACT_ASSOCIATION_TYPE_ID = 200


class CreateCalendarMeetingOperator(HubSpotHookMixin, BaseOperator):
    """Create a meeting on ``organizer_user_id``'s calendar (``POST /scheduler/.../meetings/calendar``).

    Unlike booking on a meeting page this checks no availability and asks the invitee nothing: it is
    for meetings the host's side arranges. Returns HubSpot's JSON (the CRM meeting, ``id`` first).
    Everything is checked before the request; a mistake fails the task (no retry) naming the field.
    HubSpot has no idempotency key, so a timeout after sending fails without retry instead of risking a
    duplicate, and a repeated try (Airflow retry, cleared task) first looks in HubSpot's CRM for a meeting
    of the same owner, start time and title: found, it returns that one (``"reconciled": true``) instead
    of creating another; if the CRM cannot be read, it fails "outcome unknown, not re-sent". That check
    needs the scope ``crm.objects.contacts.read``.

    :param organizer_user_id: HubSpot user ID whose calendar gets the event. Templated.
    :param owner_id: HubSpot owner ID of the host (``hubspot_owner_id``; owner IDs differ from user IDs).
        Templated.
    :param title: Meeting title. Templated.
    :param start_time: Aware or naive ``datetime`` (naive = wall clock in ``timezone``), ISO 8601 or
        epoch ms. Templated.
    :param duration: Length: milliseconds, ``timedelta`` or ISO 8601 (``"PT30M"``). Give this or
        ``end_time``. Templated.
    :param end_time: End, in the forms ``start_time`` accepts. Templated.
    :param timezone: IANA zone of the event (HubSpot requires one). Templated.
    :param contact_ids: CRM contact IDs to associate the meeting with. Templated.
    :param body: Description of the meeting and calendar event. Templated.
    :param location: Address, video link or phone number. Templated.
    :param location_type: ``ADDRESS``, ``CUSTOM`` or ``PHONE``.
    :param internal_notes: Notes only your team sees. Templated.
    :param attendee_owner_ids: Owner IDs of colleagues to invite. Templated.
    :param outcome: ``hs_meeting_outcome``; default ``SCHEDULED``.
    :param reminders: Email reminders: ``[{"numberOfTimeUnits": 1, "timeUnit": "DAYS"}]``.
    :param include_description_in_reminders: Put ``body`` into the reminder emails: a boolean or the text
        ``"true"``/``"false"`` (any case); anything else fails the task naming the argument.
    :param hubspot_conn_id: Connection to HubSpot. Templated.
    :param api_version: HubSpot API version; default: the connection's.
    """

    template_fields: Sequence[str] = (
        "organizer_user_id",
        "owner_id",
        "title",
        "start_time",
        "duration",
        "end_time",
        "timezone",
        "contact_ids",
        "body",
        "location",
        "internal_notes",
        "attendee_owner_ids",
        "hubspot_conn_id",
    )
    template_fields_renderers = {"body": "md", "internal_notes": "md"}
    ui_color = "#ff7a59"

    def __init__(
        self,
        *,
        organizer_user_id: str | int,
        owner_id: str | int,
        title: str,
        start_time: Any,
        duration: Any = None,
        end_time: Any = None,
        timezone: str = "UTC",
        contact_ids: Any = None,
        body: str | None = None,
        location: str | None = None,
        location_type: Literal["ADDRESS", "CUSTOM", "PHONE"] | None = None,
        internal_notes: str | None = None,
        attendee_owner_ids: Any = None,
        outcome: str = "SCHEDULED",
        reminders: list[dict[str, Any]] | None = None,
        include_description_in_reminders: bool = False,
        hubspot_conn_id: str = "hubspot_default",
        api_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.organizer_user_id = organizer_user_id
        self.owner_id = owner_id
        self.title = title
        self.start_time = start_time
        self.duration = duration
        self.end_time = end_time
        self.timezone = timezone
        self.contact_ids = contact_ids
        self.body = body
        self.location = location
        self.location_type = location_type
        self.internal_notes = internal_notes
        self.attendee_owner_ids = attendee_owner_ids
        self.outcome = outcome
        self.reminders = reminders
        self.include_description_in_reminders = include_description_in_reminders
        self.hubspot_conn_id = hubspot_conn_id
        self.api_version = api_version

    def build_request(self) -> CalendarMeetingCreateRequest:
        """The validated request from the rendered arguments (raises ``BookingInputError``)."""
        from pydantic import ValidationError

        from hubspot_scheduler_provider.errors import BookingInputError
        from hubspot_scheduler_provider.fields import (
            check_nesting,
            parse_identifier,
            parse_start_time,
            parse_switch,
            parse_text,
            parse_timezone,
            parse_user_ids,
            validation_summary,
        )
        from hubspot_scheduler_provider.models import (
            AssociationCreateRequest,
            AssociationSpec,
            CalendarMeetingCreateRequest,
            CalendarMeetingProperties,
            EmailReminderSchedule,
            PublicObjectId,
            Reminder,
        )

        zone = parse_timezone("timezone", self.timezone)
        start = parse_start_time("start_time", self.start_time, zone)
        end = self._end(start, zone)
        contacts = parse_user_ids("contact_ids", self.contact_ids) if self.contact_ids is not None else []
        attendees = (
            parse_user_ids("attendee_owner_ids", self.attendee_owner_ids)
            if self.attendee_owner_ids is not None
            else None
        )
        reminders = []
        check_nesting("reminders", self.reminders)
        for index, reminder in enumerate(self.reminders or []):
            try:
                reminders.append(Reminder.model_validate(reminder))
            except ValidationError as error:
                raise BookingInputError(
                    f"reminders[{index}]", validation_summary(error, detail="msg")
                ) from None
        try:
            properties = CalendarMeetingProperties(
                hs_meeting_title=parse_text("title", self.title),
                hs_meeting_start_time=start,
                hs_meeting_end_time=end,
                hs_timestamp=start,
                hs_meeting_outcome=parse_text("outcome", self.outcome),
                hubspot_owner_id=parse_identifier("owner_id", self.owner_id),
                hs_meeting_body=_long_text("body", self.body),
                hs_meeting_location=parse_text("location", self.location) if self.location else None,
                hs_meeting_location_type=self.location_type or None,
                hs_internal_meeting_notes=_long_text("internal_notes", self.internal_notes),
                hs_attendee_owner_ids=attendees,
            )
        except ValidationError as error:
            first = error.errors()[0]
            raise BookingInputError(_keyword_of(str(first["loc"][0])), first["msg"]) from None
        return CalendarMeetingCreateRequest(
            properties=properties,
            timezone=zone,
            email_reminder_schedule=EmailReminderSchedule(
                reminders=reminders,
                should_include_invite_description=parse_switch(
                    "include_description_in_reminders", self.include_description_in_reminders
                ),
            ),
            associations=[
                AssociationCreateRequest(
                    to=PublicObjectId(id=contact_id),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED",
                            association_type_id=MEETING_TO_CONTACT_ASSOCIATION_TYPE_ID,
                        )
                    ],
                )
                for contact_id in contacts
            ],
        )

    def _end(self, start: datetime, zone: str) -> datetime:
        from datetime import datetime, timezone

        from hubspot_scheduler_provider.errors import BookingInputError
        from hubspot_scheduler_provider.fields import parse_duration, parse_start_time

        if (self.duration is None) == (self.end_time is None):
            raise BookingInputError("duration", "give either duration or end_time (exactly one)")
        if self.duration is not None:
            # Via epoch seconds: pendulum's DateTime loses a stdlib tzinfo when a timedelta is added.
            seconds = start.timestamp() + parse_duration("duration", self.duration) / 1000
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        end = parse_start_time("end_time", self.end_time, zone)
        if end <= start:
            raise BookingInputError(
                "end_time", f"{end.isoformat()} is not after start_time {start.isoformat()}"
            )
        return end

    def execute(self, context: Context) -> dict[str, Any]:
        from hubspot_scheduler_provider.errors import HubSpotError
        from hubspot_scheduler_provider.reconcile import find_earlier_calendar_meeting, is_repeat_attempt

        request = self.build_request()
        organizer = str(self.organizer_user_id)
        with self.hook_closed_after() as hook:
            if is_repeat_attempt(context):
                # An earlier try may have created it (and then failed): HubSpot has no idempotency key.
                earlier = find_earlier_calendar_meeting(hook, request, log=self.log)
                if earlier is not None:
                    return earlier
            try:
                meeting = hook.create_calendar_meeting(organizer, request)
            except HubSpotError as err:
                if err.outcome_unknown:
                    # HubSpot may have created it: an Airflow retry would POST again and could duplicate it.
                    raise AirflowFailException(f"Not retrying, to avoid a duplicate meeting: {err}") from err
                raise
        properties = request.properties
        self.log.info(
            "Created meeting id=%s on the calendar of user %s: %s .. %s (%s), %d contact(s)",
            meeting.get("id", "-"),
            organizer,
            properties.hs_meeting_start_time.isoformat(),
            properties.hs_meeting_end_time.isoformat(),
            request.timezone,
            len(request.associations),
        )
        return meeting


#: Operator keyword for each meeting property, so pydantic's complaints name what the user wrote.
_PROPERTY_KEYWORDS = {
    "hs_meeting_title": "title",
    "hs_meeting_outcome": "outcome",
    "hubspot_owner_id": "owner_id",
    "hs_meeting_body": "body",
    "hs_meeting_location": "location",
    "hs_meeting_location_type": "location_type",
    "hs_internal_meeting_notes": "internal_notes",
    "hs_attendee_owner_ids": "attendee_owner_ids",
}


def _long_text(field: str, value: Any) -> str | None:
    """Optional multi-line text (a description, notes): ``None`` when empty, else bounded and clean."""
    from hubspot_scheduler_provider.errors import BookingInputError
    from hubspot_scheduler_provider.fields._common import check_characters, check_length
    from hubspot_scheduler_provider.input_limits import MAX_FORM_VALUE_LENGTH

    if not value:
        return None
    if not isinstance(value, str):
        raise BookingInputError(field, f"expected text, got {type(value).__name__}")
    return check_characters(field, check_length(field, value, MAX_FORM_VALUE_LENGTH), multiline=True)


def _keyword_of(property_name: str) -> str:
    return _PROPERTY_KEYWORDS.get(property_name, property_name)
