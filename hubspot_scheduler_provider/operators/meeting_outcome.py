"""``SetMeetingOutcomeOperator``: mark a booked meeting completed, a no-show, cancelled, ...

HubSpot's Scheduler API cannot cancel or reschedule; the CRM meeting's ``hs_meeting_outcome`` is what
HubSpot's own UI and integrations set (``hooks.crm_meetings``). Module imports stay cheap (DAG files
importing this are parsed often): the hook loads inside ``execute``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator

from hubspot_scheduler_provider.operators._base import HubSpotHookMixin

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from airflow.providers.common.compat.sdk import Context

    from hubspot_scheduler_provider.hooks.crm import CrmMeeting
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook


class SetMeetingOutcomeOperator(HubSpotHookMixin, BaseOperator):
    """Set a CRM meeting's outcome (``hs_meeting_outcome``): ``SCHEDULED``, ``COMPLETED``,
    ``RESCHEDULED``, ``NO_SHOW`` or ``CANCELED``.

    Name the meeting ONE way: its CRM ``meeting_id``; or the booking's ``calendar_event_id`` (the
    booking answer's ``calendarEventId``, recorded by HubSpot as ``hs_unique_id``); or the booker's
    ``contact_email`` and the meeting's ``start``. Everything is checked before any request, and a
    mistake fails the task (no retry) naming the argument.

    Idempotent: a meeting that already has ``outcome`` is left alone (no PATCH; the log says so), so a
    retry or a re-run changes nothing. Returns (to XCom) ``{"meetingId", "outcome", "changed"}``; never
    an email. A meeting found by calendar event or contact that the CRM does not show yet (its search
    index lags new meetings by seconds) fails the try with ``HubSpotNotFoundError``: Airflow's retries
    find it later.

    :param outcome: The outcome to set (any letter case). Templated.
    :param meeting_id: The CRM meeting id. Templated.
    :param calendar_event_id: The booking's ``calendarEventId``. Templated.
    :param contact_email: The booker's email (with ``start``). Not ``email``: that is ``BaseOperator``'s
        alert recipient. Templated.
    :param start: The meeting's start (aware ``datetime``, ISO 8601 or epoch ms; with
        ``contact_email``). Templated.
    :param hubspot_conn_id: Connection to HubSpot. Templated.
    :param api_version: HubSpot API version; default: the connection's.
    """

    template_fields: Sequence[str] = (
        "outcome",
        "meeting_id",
        "calendar_event_id",
        "contact_email",
        "start",
        "hubspot_conn_id",
    )
    ui_color = "#ff7a59"

    def __init__(
        self,
        *,
        outcome: str,
        meeting_id: str | int | None = None,
        calendar_event_id: str | None = None,
        contact_email: str | None = None,
        start: datetime | str | int | None = None,
        hubspot_conn_id: str = "hubspot_default",
        api_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.outcome = outcome
        self.meeting_id = meeting_id
        self.calendar_event_id = calendar_event_id
        self.contact_email = contact_email
        self.start = start
        self.hubspot_conn_id = hubspot_conn_id
        self.api_version = api_version

    def execute(self, context: Context) -> dict[str, Any]:
        from hubspot_scheduler_provider.hooks.crm import check_outcome

        outcome = check_outcome(self.outcome)
        target = self._target()
        with self.hook_closed_after() as hook:
            meeting_id = target.get("meeting_id") or self._find(hook, target).id
            meeting, changed = hook.set_meeting_outcome(meeting_id, outcome)
        if changed:
            self.log.info("Meeting %s: outcome set to %s", meeting.id, outcome)
        else:
            self.log.info("Meeting %s already has the outcome %s: nothing sent", meeting.id, outcome)
        return {"meetingId": meeting.id, "outcome": outcome, "changed": changed}

    def _target(self) -> dict[str, Any]:
        """The one way the meeting is named, parsed; ``BookingInputError`` naming the argument."""
        from hubspot_scheduler_provider.errors import BookingInputError
        from hubspot_scheduler_provider.fields import (
            parse_email,
            parse_identifier,
            parse_start_time,
            parse_text,
        )

        given = {
            name: value
            for name, value in (
                ("meeting_id", self.meeting_id),
                ("calendar_event_id", self.calendar_event_id),
                ("contact_email", self.contact_email),
                ("start", self.start),
            )
            if value not in (None, "")  # an empty template renders ""
        }
        ways = [
            {"meeting_id"} <= given.keys(),
            {"calendar_event_id"} <= given.keys(),
            {"contact_email", "start"} & given.keys(),
        ]
        if sum(bool(way) for way in ways) != 1:
            raise BookingInputError(
                "meeting_id",
                "name the meeting one way: meeting_id, or calendar_event_id, or contact_email with start",
            )
        if "meeting_id" in given:
            return {"meeting_id": parse_identifier("meeting_id", given["meeting_id"])}
        if "calendar_event_id" in given:
            return {"calendar_event_id": parse_text("calendar_event_id", given["calendar_event_id"])}
        for name in ("contact_email", "start"):
            if name not in given:
                raise BookingInputError(name, "contact_email and start go together")
        return {
            "contact_email": parse_email("contact_email", given["contact_email"]),
            "start": parse_start_time("start", given["start"], "UTC"),
        }

    def _find(self, hook: HubSpotSchedulerHook, target: dict[str, Any]) -> CrmMeeting:
        from hubspot_scheduler_provider.errors import HubSpotNotFoundError

        found = hook.find_crm_meetings(**target)
        how = (
            f"calendarEventId {target['calendar_event_id']!r}"
            if "calendar_event_id" in target
            else f"the contact's meeting starting {target['start'].isoformat()}"
        )
        if not found:
            raise HubSpotNotFoundError(
                f"No CRM meeting found for {how} (HubSpot's CRM search shows new meetings seconds late; "
                "a retry may find it)"
            )
        standing = [meeting for meeting in found if meeting.stands]
        if len(standing) > 1:
            raise AirflowFailException(
                f"{len(standing)} meetings match {how} (ids {', '.join(m.id for m in standing)}); "
                "give meeting_id to choose one"
            )
        return found[0]  # standing first
