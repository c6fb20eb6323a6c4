"""Book a meeting (or create a calendar meeting) at most once, across lost answers, Airflow retries and
cleared tasks.

HubSpot's booking endpoint has no idempotency key, so sending the same booking twice can book it twice.
The hook therefore never replays a booking POST whose outcome is unknown (timeout, dropped connection or
5xx after sending). This module decides what happens next by asking HubSpot's CRM whether the meeting
exists: every booking creates a CRM meeting associated to the booker's contact, so "contact with this
email has a meeting starting at this instant (with this duration)" means "already booked".

* First attempt: POST. If the outcome is unknown, reconcile: found -> return it; not found -> raise
  :class:`BookingOutcomeUnknownError` (not re-sent: the CRM can lag a booking by a few seconds), unless
  ``allow_resend``, which re-sends once.
* Repeated attempt (Airflow retry, cleared task): reconcile FIRST (with the same re-checks: the CRM's
  search lags); found -> return it, else POST as above.
* A re-sent booking (repeated attempt, or ``allow_resend``) that HubSpot refuses with
  ``MEETING_START_TIME_NOT_VALID`` is looked for in the CRM once more: the slot may be taken by our own
  earlier send that the CRM did not show yet.
  A booking whose slot is chosen at run time (``start_time="next_available"``) is looked for anywhere
  in its window instead (:func:`find_earlier_booking`): an earlier attempt may have chosen another slot.
* Reconciliation impossible (scope ``crm.objects.contacts.read`` missing, CRM unreachable): raise
  :class:`BookingOutcomeUnknownError` naming what to check, unless ``allow_resend``.
* A CRM meeting that was cancelled or rescheduled away (``hs_meeting_outcome``, see
  :data:`~hubspot_scheduler_provider.hooks.crm.VOID_OUTCOMES`) is not a booking that stands: it never
  counts as "already booked". A no-show or completed meeting does.

:func:`reconcile_first` (look before sending, on a repeated attempt) is shared with calendar meetings
(:func:`find_earlier_calendar_meeting`), which are recognised by owner, start time and title.

A reconciled result is a dict with the booking answer's keys the CRM can fill (``contactId``, ``start``,
``end``, ``duration`` in ms, ``subject``, ``location`` when set) plus ``crmMeetingId`` and
``"reconciled": True``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.errors import (
    BookingOutcomeUnknownError,
    HubSpotError,
    HubSpotMissingScopesError,
    HubSpotValidationError,
    mask_emails,
)
from hubspot_scheduler_provider.hooks.crm import CRM_READ_SCOPE, CrmLookup, CrmMeeting

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping, Sequence

    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
    from hubspot_scheduler_provider.models import CalendarMeetingCreateRequest, MeetingBooking

#: Seconds to wait before each CRM check after a booking's outcome became unknown. HubSpot's CRM search
#: index can show a new meeting a few seconds after the booking; the total stays well under a minute.
RECHECK_DELAYS: tuple[float, ...] = (0.0, 2.0, 5.0)
#: HubSpot's answer when the slot is not (or no longer) free: after a re-send, maybe taken by ourselves.
SLOT_NOT_VALID = "MEETING_START_TIME_NOT_VALID"


@dataclass(frozen=True)
class BookingOutcome:
    """What :func:`book_exactly_once` returns: HubSpot's booking answer, or the reconciled CRM view (also
    what :func:`find_earlier_calendar_meeting` returns for a calendar meeting)."""

    #: HubSpot's booking JSON (``duration`` in ms), or the reconciled dict (``"reconciled": True``).
    raw: dict[str, Any]
    #: Correlation id of the booking answer; for a reconciled booking, of the failed POST (if any).
    correlation_id: str | None
    #: True when the meeting was found in HubSpot's CRM instead of being booked by this call.
    reconciled: bool


def is_repeat_attempt(context: Mapping[str, Any]) -> bool:
    """Whether an earlier attempt of this task instance may have run: an Airflow retry or a cleared task
    (both run with ``try_number`` > 1 on Airflow 2.10+ and 3.x)."""
    ti = context.get("ti") or context.get("task_instance")
    try_number = getattr(ti, "try_number", None)
    return isinstance(try_number, int) and try_number > 1


def book_exactly_once(
    hook: HubSpotSchedulerHook,
    booking: MeetingBooking,
    *,
    attempt_is_repeat: bool,
    allow_resend: bool = False,
    log: logging.Logger | Any,
    recheck_delays: Sequence[float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BookingOutcome:
    """Book ``booking`` unless HubSpot already has it; see the module docstring for the rules.

    :param attempt_is_repeat: an earlier attempt for this same booking may have sent it
        (:func:`is_repeat_attempt`); the CRM is checked before anything is sent.
    :param allow_resend: when the outcome cannot be settled, send the booking (again) instead of failing.
        Risks a duplicate; for pages where a duplicate is harmless or HubSpot rejects it anyway.
    :param recheck_delays: waits before each CRM check (default :data:`RECHECK_DELAYS`).
    """
    reconciler = _BookingReconciler(hook, booking, log)
    delays = RECHECK_DELAYS if recheck_delays is None else recheck_delays
    if attempt_is_repeat:
        earlier = reconcile_first(reconciler, allow_resend=allow_resend, delays=delays, sleep=sleep)
        if earlier is not None:
            return earlier

    sends_left = 2 if allow_resend else 1
    resending = attempt_is_repeat
    while True:
        sends_left -= 1
        try:
            result = hook.book_meeting(booking)
        except HubSpotError as post_error:
            if resending and _slot_refused(post_error):
                earlier = reconciler.find_after_refusal(post_error, delays, sleep)
                if earlier is not None:
                    return earlier
            if not post_error.outcome_unknown:
                raise
            unknown = post_error
        else:
            return BookingOutcome(raw=result.raw, correlation_id=result.correlation_id, reconciled=False)
        resending = True

        log.warning(
            "The booking's outcome is unknown (%s); checking HubSpot's CRM instead of sending it again",
            unknown,
        )
        lookup_error: HubSpotError | None = None
        try:
            found = reconciler.find_with_rechecks(delays, sleep)
        except HubSpotError as unreadable:
            lookup_error, found = unreadable, None
        if found is not None:
            return reconciler.reconciled(found, unknown.correlation_id, "the unanswered request booked it")
        if sends_left <= 0:
            raise reconciler.unknown("the booking request got no reliable answer", unknown, lookup_error)
        log.warning(
            "HubSpot's CRM %s; sending the booking once more because allow_resend=True",
            "could not be checked" if lookup_error else "shows no such meeting",
        )


def find_earlier_booking(
    hook: HubSpotSchedulerHook,
    booking: MeetingBooking,
    *,
    allow_resend: bool = False,
    log: logging.Logger | Any,
    start_between: tuple[datetime | None, datetime | None] | None = None,
    recheck_delays: Sequence[float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BookingOutcome | None:
    """What a repeated attempt checks before sending: the earlier attempt's meeting from the CRM, or None.

    :param start_between: look for the contact's meeting (of the booking's length) starting anywhere in
        this range (``None``: open side) instead of at ``booking.start_time``: for a booking whose slot is
        chosen at run time, where an earlier attempt may have booked another slot than this one would.
    :raises BookingOutcomeUnknownError: when the CRM cannot be read, unless ``allow_resend``.
    """
    return reconcile_first(
        _BookingReconciler(hook, booking, log, start_between),
        allow_resend=allow_resend,
        delays=RECHECK_DELAYS if recheck_delays is None else recheck_delays,
        sleep=sleep,
    )


def find_earlier_calendar_meeting(
    hook: HubSpotSchedulerHook,
    request: CalendarMeetingCreateRequest,
    *,
    log: logging.Logger | Any,
    recheck_delays: Sequence[float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BookingOutcome | None:
    """What a repeated attempt of a calendar meeting checks before creating it: a CRM meeting of the same
    owner, start time and title (``{"id", "properties", "reconciled": True}``), or None. Raises
    :class:`BookingOutcomeUnknownError` when the CRM cannot be read."""
    return reconcile_first(
        _CalendarReconciler(hook, request, log),
        allow_resend=False,
        delays=RECHECK_DELAYS if recheck_delays is None else recheck_delays,
        sleep=sleep,
    )


def reconcile_first(
    reconciler: _Reconciler,
    *,
    allow_resend: bool,
    delays: Sequence[float],
    sleep: Callable[[float], None],
) -> BookingOutcome | None:
    """Look in the CRM (re-checking at ``delays``) before a repeated attempt sends anything.

    Returns the earlier attempt's meeting, or None (nothing found: send). Raises
    :class:`BookingOutcomeUnknownError` when the CRM cannot be read, unless ``allow_resend``.
    """
    reconciler.log.info(
        "Repeated attempt: checking HubSpot's CRM for %s before sending it", reconciler.description
    )
    try:
        found = reconciler.find_with_rechecks(delays, sleep)
    except HubSpotError as unreadable:
        if not allow_resend:
            raise reconciler.unknown(
                "this is a repeated attempt and an earlier one may have sent it", None, unreadable
            ) from None
        reconciler.log.warning(
            "Could not check HubSpot's CRM (%s); sending anyway because allow_resend=True", unreadable
        )
        return None
    if found is None:
        return None
    return reconciler.reconciled(found, None, "an earlier attempt of this task sent it")


def _slot_refused(error: HubSpotError) -> bool:
    return isinstance(error, HubSpotValidationError) and (error.sub_category or "").endswith(SLOT_NOT_VALID)


class _Reconciler:
    """Finds one request's meeting in the CRM and words the outcomes; subclasses say what to look for."""

    #: Starts the messages: "<kind> reconciled", "<kind> outcome unknown".
    kind = "Request"

    def __init__(self, hook: HubSpotSchedulerHook, log: logging.Logger | Any):
        self._hook = hook
        self._crm: CrmLookup | None = None
        self.log = log

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

    def oldest(self, meetings: list[CrmMeeting]) -> CrmMeeting | None:
        """The earliest created of the matching meetings that still stand (not cancelled)."""
        standing = [m for m in meetings if m.stands]
        if len(standing) > 1:
            self.log.warning(
                "HubSpot's CRM has %d meetings for %s (ids %s); using the oldest",
                len(standing),
                self.description,
                ", ".join(m.id for m in standing),
            )
        return min(standing, key=lambda m: (len(m.id), m.id)) if standing else None

    def find_with_rechecks(
        self, delays: Sequence[float], sleep: Callable[[float], None]
    ) -> dict[str, Any] | None:
        """:meth:`find`, again after each of ``delays`` while nothing is found: HubSpot's CRM search
        shows a new meeting a few seconds late."""
        for delay in delays or (0.0,):
            if delay > 0:
                sleep(delay)
            found = self.find()
            if found is not None:
                return found
        return None

    def find_after_refusal(
        self, refusal: HubSpotError, delays: Sequence[float], sleep: Callable[[float], None]
    ) -> BookingOutcome | None:
        """After HubSpot refused a re-sent request's slot: our own earlier send may hold it."""
        self.log.warning(
            "HubSpot refused the re-sent request (%s); checking HubSpot's CRM: an earlier send may hold it",
            refusal,
        )
        try:
            found = self.find_with_rechecks(delays, sleep)
        except HubSpotError as unreadable:
            self.log.warning("Could not check HubSpot's CRM (%s)", unreadable)
            return None
        if found is None:
            return None
        return self.reconciled(
            found, refusal.correlation_id, "an earlier send took the slot the re-sent request was refused"
        )

    def reconciled(self, answer: dict[str, Any], correlation_id: str | None, why: str) -> BookingOutcome:
        self.log.info(
            "%s reconciled, not sent again: HubSpot's CRM already has meeting %s for %s; %s.",
            self.kind,
            answer.get("crmMeetingId") or answer.get("id"),
            self.description,
            why,
        )
        return BookingOutcome(raw=answer, correlation_id=correlation_id, reconciled=True)

    def unknown(
        self, why: str, post_error: HubSpotError | None, lookup_error: HubSpotError | None
    ) -> BookingOutcomeUnknownError:
        parts = [f"{self.kind} outcome unknown, not re-sent: {self.description}; {why}."]
        if post_error is not None:
            parts.append(f"The request: {post_error.message.rstrip('.')}.")
        if lookup_error is None:
            parts.append(
                "HubSpot's CRM shows no meeting like it yet (the CRM can lag a request by a few seconds)."
            )
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


class _BookingReconciler(_Reconciler):
    """A meeting-page booking: the booker's contact has a meeting of that length at that start."""

    kind = "Booking"

    def __init__(
        self,
        hook: HubSpotSchedulerHook,
        booking: MeetingBooking,
        log: logging.Logger | Any,
        start_between: tuple[datetime | None, datetime | None] | None = None,
    ):
        super().__init__(hook, log)
        self.booking = booking
        self.start_between = start_between
        #: Completes "a meeting ...": "at <start>", or "starting between <earliest> and <latest>".
        self.when = f"at {_iso_utc(booking)}" if start_between is None else _describe_range(start_between)

    @property
    def description(self) -> str:
        return f"page {self.booking.slug!r} {self.when} for {mask_emails(self.booking.email)}"

    @property
    def advice(self) -> str:
        return (
            f"Check the contact's meetings in HubSpot for one {self.when}: if it is there, mark this "
            "task successful; if not, retry the task (every repeated attempt checks the CRM before "
            "booking), or set allow_resend=True to send the booking without that check (risks a duplicate)."
        )

    def find(self) -> dict[str, Any] | None:
        contact_id = self.crm.contact_id_by_email(self.booking.email)
        if contact_id is None:
            return None
        if self.start_between is None:
            meetings = self.crm.meetings_of_contact_at(contact_id, self.booking.start_time)
        else:
            meetings = self.crm.meetings_of_contact_between(contact_id, *self.start_between)
        # Same start; same length when HubSpot knows the end (another page's meeting may share the start).
        found = self.oldest([m for m in meetings if m.duration_ms in (None, self.booking.duration)])
        return None if found is None else reconciled_answer(found, contact_id, self.booking)


class _CalendarReconciler(_Reconciler):
    """A calendar meeting: the owner has a meeting with this title at this start."""

    kind = "Calendar meeting"

    def __init__(
        self, hook: HubSpotSchedulerHook, request: CalendarMeetingCreateRequest, log: logging.Logger | Any
    ):
        super().__init__(hook, log)
        properties = request.properties
        self.owner_id = str(properties.hubspot_owner_id)
        self.start = properties.hs_meeting_start_time
        self.title = properties.hs_meeting_title
        from hubspot_scheduler_provider.models.booking import format_utc

        self.when = f"at {format_utc(self.start)}"

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
        found = self.oldest(self.crm.meetings_of_owner_at(self.owner_id, self.start, self.title))
        if found is None:
            return None
        return {"id": found.id, "properties": dict(found.properties), "reconciled": True}


def reconciled_answer(meeting: CrmMeeting, contact_id: str, booking: MeetingBooking) -> dict[str, Any]:
    """The booking answer's keys that the CRM meeting can fill, plus ``crmMeetingId`` and ``reconciled``."""
    from hubspot_scheduler_provider.models.booking import format_utc

    duration = meeting.duration_ms or booking.duration
    end = meeting.end or meeting.start + timedelta(milliseconds=duration)
    answer: dict[str, Any] = {
        "contactId": contact_id,
        "start": format_utc(meeting.start),
        "end": format_utc(end),
        "duration": duration,
    }
    for key, prop in (("subject", "hs_meeting_title"), ("location", "hs_meeting_location")):
        value = meeting.properties.get(prop)
        if isinstance(value, str) and value:
            answer[key] = value
    answer["crmMeetingId"] = meeting.id
    answer["reconciled"] = True
    return answer


def _iso_utc(booking: MeetingBooking) -> str:
    from hubspot_scheduler_provider.models.booking import format_utc

    return format_utc(booking.start_time)


def _describe_range(start_between: tuple[datetime | None, datetime | None]) -> str:
    from hubspot_scheduler_provider.models.booking import format_utc

    earliest, latest = start_between
    return (
        f"starting between {format_utc(earliest) if earliest else 'any time'} and "
        f"{format_utc(latest) if latest else 'any later time'}"
    )
