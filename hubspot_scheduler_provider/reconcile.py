"""Asking HubSpot's CRM whether a booking (or calendar meeting) already happened.

Every booking creates a CRM meeting associated to the booker's contact, recording the page it was booked
on (``hs_engagement_source_id``: the page's ``linkId``) and its host (``hubspot_owner_id``). So "this
contact has a meeting of this length starting at this instant, booked on this page" means "already
booked", whichever host of a team page got it. A meeting the CRM records for another page is never
taken for this booking. A cancelled or rescheduled meeting (``hs_meeting_outcome``) that matches counts
too when an earlier try's send is settled, flagged with its ``outcome``: it proves that send booked, and
booking it again would undo the invitee's cancellation. (Right after this try's own unanswered send, a
cancelled meeting can only be an older booking, so it does not count there.)

HubSpot's CRM search shows a new meeting seconds late (sometimes more), so a "not found" only counts
once the index has had :data:`CRM_INDEX_LAG_SECONDS` since the request that may have booked it ended:
:meth:`Reconciler.find_until` re-checks until then (the sandbox's ``crm_index_lag_seconds=20`` is found
by the re-check about 20 s after the commit). The booking flow
(:mod:`~hubspot_scheduler_provider.booking_flow`) decides when to ask; this module only asks and
words the answers.

A reconciled result is a dict with the booking answer's keys the CRM can fill (``contactId``, ``start``,
``end``, ``duration`` in ms, ``subject``, ``location`` when set) plus ``crmMeetingId``, ``outcome`` when
the meeting was cancelled or rescheduled, and ``"reconciled": True``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.errors import (
    BookingOutcomeUnknownError,
    HubSpotError,
    HubSpotMissingScopesError,
    mask_emails,
)
from hubspot_scheduler_provider.hooks.crm import CRM_READ_SCOPE, CrmLookup, CrmMeeting

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping

    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
    from hubspot_scheduler_provider.models import CalendarMeetingCreateRequest, MeetingBooking

#: How long HubSpot's CRM search may take to show a new meeting; a "not found" counts only after it.
#: HubSpot documents no figure; seconds are typical, so 30 s leaves a wide margin.
CRM_INDEX_LAG_SECONDS = 30.0
#: Waits between CRM re-checks: soon at first (most meetings show within seconds), then every 5 s.
RECHECK_STEPS: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0)


def try_number_of(context: Mapping[str, Any]) -> int:
    """The running try's number (1 for the first; every retry and clear adds one on Airflow 2.10+ and
    3.x, so no two tries of a task instance share one), or 1 when the context has none."""
    ti = context.get("ti") or context.get("task_instance")
    try_number = getattr(ti, "try_number", None)
    return try_number if isinstance(try_number, int) and try_number > 0 else 1


def is_repeat_attempt(context: Mapping[str, Any]) -> bool:
    """Whether an earlier attempt of this task instance may have run: an Airflow retry or a cleared task."""
    return try_number_of(context) > 1


class Reconciler:
    """Finds one request's meeting in the CRM and words the outcomes; subclasses say what to look for."""

    #: Starts the messages: "<kind> reconciled", "<kind> outcome unknown".
    kind = "Request"

    def __init__(
        self,
        hook: HubSpotSchedulerHook,
        log: logging.Logger | Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._hook = hook
        self._crm: CrmLookup | None = None
        self.log = log
        self._sleep = sleep
        self._clock = clock

    @property
    def crm(self) -> CrmLookup:
        if self._crm is None:
            self._crm = CrmLookup(self._hook.transport)
        return self._crm

    @property
    def description(self) -> str:
        """What is looked for, e.g. "page 'alice-smith' at 2026-12-02T14:00:00Z for g***@example.com"."""
        raise NotImplementedError

    @property
    def advice(self) -> str:
        """The last sentence of an "outcome unknown" message: what the user checks and does."""
        raise NotImplementedError

    def find(self) -> dict[str, Any] | None:
        """The reconciled answer when the CRM has this request's meeting, else None."""
        raise NotImplementedError

    def find_until(self, deadline: float) -> dict[str, Any] | None:
        """:meth:`find` now, then again until ``deadline`` (epoch seconds) while nothing is found."""
        steps = iter(RECHECK_STEPS)
        while True:
            found = self.find()
            left = deadline - self._clock()
            if found is not None or left <= 0:
                return found
            self._sleep(min(next(steps, RECHECK_STEPS[-1]), left))

    def pick(self, meetings: list[CrmMeeting]) -> CrmMeeting | None:
        """The oldest standing meeting of ``meetings``, else the oldest cancelled one, else None."""
        if not meetings:
            return None
        standing = [m for m in meetings if m.stands]
        if len(standing) > 1:
            self.log.warning(
                "HubSpot's CRM has %d meetings for %s (ids %s); using the oldest",
                len(standing),
                self.description,
                ", ".join(m.id for m in standing),
            )
        return min(standing or meetings, key=lambda m: (len(m.id), m.id))

    def reconciled_log(self, answer: Mapping[str, Any], why: str) -> None:
        self.log.info(
            "%s reconciled, not sent again: HubSpot's CRM already has meeting %s for %s; %s.",
            self.kind,
            answer.get("crmMeetingId") or answer.get("id"),
            self.description,
            why,
        )
        if answer.get("outcome"):
            self.log.warning(
                "That meeting's outcome is %s since; it is not booked again (an Airflow retry must not undo "
                "a cancellation): book it anew with a new run if it is wanted.",
                answer["outcome"],
            )

    def unknown(
        self, why: str, post_error: HubSpotError | None, lookup_error: HubSpotError | None
    ) -> BookingOutcomeUnknownError:
        parts = [f"{self.kind} outcome unknown, not re-sent: {self.description}; {why}."]
        if post_error is not None:
            parts.append(f"The request: {post_error.message.rstrip('.')}.")
        if lookup_error is None:
            parts.append("HubSpot's CRM shows no meeting like it yet (the CRM can lag a request).")
        elif isinstance(lookup_error, HubSpotMissingScopesError):
            parts.append(
                f"Checking the CRM needs the scope {CRM_READ_SCOPE}, which the token lacks ({lookup_error}); "
                "add it to the app and re-issue the token."
            )
        else:
            parts.append(f"Checking HubSpot's CRM for the meeting failed: {lookup_error}")
        parts.append(self.advice)
        source = post_error or lookup_error
        return BookingOutcomeUnknownError(
            " ".join(parts),
            status=source.status if source else None,
            category=source.category if source else None,
            sub_category=source.sub_category if source else None,
            correlation_id=source.correlation_id if source else None,
            outcome_unknown=True,
        )


class BookingReconciler(Reconciler):
    """A meeting-page booking: the booker's contact has a meeting of that length at that start (or, for a
    slot chosen at run time, anywhere in ``start_between``), booked on that page."""

    kind = "Booking"

    def __init__(
        self,
        hook: HubSpotSchedulerHook,
        booking: MeetingBooking,
        log: logging.Logger | Any,
        *,
        start_between: tuple[datetime | None, datetime | None] | None = None,
        count_void: bool = True,
        link_ids: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(hook, log, **kwargs)
        self.booking = booking
        #: slug -> the page's linkId, shared by the reconcilers of one flow (one GET per page).
        self._link_ids = {} if link_ids is None else link_ids
        self.start_between = start_between
        #: Whether a cancelled or rescheduled meeting counts. True when settling an EARLIER try's send
        #: (its meeting may have been cancelled since); False right after our own unanswered send, when a
        #: cancelled meeting can only be an older booking.
        self.count_void = count_void
        #: Completes "a meeting ...": "at <start>", or "starting between <earliest> and <latest>".
        self.when = f"at {_utc(booking.start_time)}" if start_between is None else _describe(start_between)

    @property
    def description(self) -> str:
        return f"page {self.booking.slug!r} {self.when} for {mask_emails(self.booking.email)}"

    @property
    def advice(self) -> str:
        return (
            f"Check the contact's meetings in HubSpot for one {self.when}: if it is there, mark this "
            "task successful; if not, retry the task (a repeated attempt settles it through the CRM "
            "before booking), or set allow_resend=True to send the booking without that check (risks "
            "a duplicate)."
        )

    @property
    def link_id(self) -> str:
        """The page's id, which HubSpot's CRM records on meetings booked through it (one GET, cached)."""
        slug = self.booking.slug
        if slug not in self._link_ids:
            self._link_ids[slug] = self._hook.get_booking_info(slug, "UTC").link_id
        return self._link_ids[slug]

    def find(self) -> dict[str, Any] | None:
        contact_id = self.crm.contact_id_by_email(self.booking.email)
        if contact_id is None:
            return None
        if self.start_between is None:
            meetings = self.crm.meetings_of_contact_at(contact_id, self.booking.start_time)
        else:
            meetings = self.crm.meetings_of_contact_between(contact_id, *self.start_between)
        candidates = [
            m
            for m in meetings
            if m.duration_ms in (None, self.booking.duration) and (self.count_void or m.stands)
        ]
        if candidates:
            candidates = [m for m in candidates if m.source_id in (None, self.link_id)]
        found = self.pick(candidates)
        return None if found is None else reconciled_answer(found, contact_id, self.booking)


class CalendarReconciler(Reconciler):
    """A calendar meeting: the owner has a meeting with this title at this start."""

    kind = "Calendar meeting"

    def __init__(
        self,
        hook: HubSpotSchedulerHook,
        request: CalendarMeetingCreateRequest,
        log: logging.Logger | Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(hook, log, **kwargs)
        properties = request.properties
        self.owner_id = str(properties.hubspot_owner_id)
        self.start = properties.hs_meeting_start_time
        self.title = properties.hs_meeting_title
        self.when = f"at {_utc(self.start)}"

    @property
    def description(self) -> str:
        return f"{self.title!r} of owner {self.owner_id} {self.when}"

    @property
    def advice(self) -> str:
        return (
            f"Check owner {self.owner_id}'s meetings in HubSpot for {self.title!r} {self.when}: if it is "
            "there, mark this task successful; if not, retry the task (every repeated attempt checks the "
            "CRM before creating the meeting)."
        )

    def find(self) -> dict[str, Any] | None:
        meetings = self.crm.meetings_of_owner_at(self.owner_id, self.start, self.title)
        found = self.pick([m for m in meetings if m.stands])
        if found is None:
            return None
        return {"id": found.id, "properties": dict(found.properties), "reconciled": True}


def find_earlier_calendar_meeting(
    hook: HubSpotSchedulerHook,
    request: CalendarMeetingCreateRequest,
    *,
    log: logging.Logger | Any,
    index_lag_seconds: float | None = None,
) -> dict[str, Any] | None:
    """What a repeated attempt of a calendar meeting checks before creating it: a CRM meeting of the same
    owner, start time and title (``{"id", "properties", "reconciled": True}``), or None. Raises
    :class:`BookingOutcomeUnknownError` when the CRM cannot be read."""
    reconciler = CalendarReconciler(hook, request, log)
    lag = CRM_INDEX_LAG_SECONDS if index_lag_seconds is None else index_lag_seconds
    log.info("Repeated attempt: checking HubSpot's CRM for %s before sending it", reconciler.description)
    try:
        found = reconciler.find_until(time.time() + lag)
    except HubSpotError as unreadable:
        raise reconciler.unknown(
            "this is a repeated attempt and an earlier one may have sent it", None, unreadable
        ) from None
    if found is not None:
        reconciler.reconciled_log(found, "an earlier attempt of this task sent it")
    return found


def reconciled_answer(meeting: CrmMeeting, contact_id: str, booking: MeetingBooking) -> dict[str, Any]:
    """The booking answer's keys that the CRM meeting can fill, plus ``crmMeetingId`` and ``reconciled``."""
    duration = meeting.duration_ms or booking.duration
    end = meeting.end or meeting.start + timedelta(milliseconds=duration)
    answer: dict[str, Any] = {
        "contactId": contact_id,
        "start": _utc(meeting.start),
        "end": _utc(end),
        "duration": duration,
    }
    for key, prop in (("subject", "hs_meeting_title"), ("location", "hs_meeting_location")):
        value = meeting.properties.get(prop)
        if isinstance(value, str) and value:
            answer[key] = value
    answer["crmMeetingId"] = meeting.id
    if not meeting.stands:
        answer["outcome"] = meeting.outcome
    answer["reconciled"] = True
    return answer


def _utc(moment: datetime) -> str:
    from hubspot_scheduler_provider.models.booking import format_utc

    return format_utc(moment)


def _describe(start_between: tuple[datetime | None, datetime | None]) -> str:
    earliest, latest = start_between
    return (
        f"starting between {_utc(earliest) if earliest else 'any time'} and "
        f"{_utc(latest) if latest else 'any later time'}"
    )
