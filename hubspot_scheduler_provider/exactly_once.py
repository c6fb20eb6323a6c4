"""Book a meeting at most once per request, across lost answers, Airflow retries and cleared tasks.

HubSpot's booking endpoint has no idempotency key, so sending the same booking twice can book it twice.
The hook therefore never replays a booking POST whose outcome is unknown (timeout, dropped connection or
5xx after sending). This module decides what happens next by asking HubSpot's CRM whether the meeting
exists: every booking creates a CRM meeting associated to the booker's contact, so "contact with this
email has a meeting starting at this instant (with this duration)" means "already booked".

* First attempt: POST. If the outcome is unknown, reconcile: found -> return it; not found -> raise
  :class:`BookingOutcomeUnknownError` (not re-sent: the CRM can lag a booking by a few seconds), unless
  ``allow_resend``, which re-sends once.
* Repeated attempt (Airflow retry, cleared task): reconcile FIRST; found -> return it, else POST as above.
  A booking whose slot is chosen at run time (``start_time="next_available"``) is looked for anywhere
  in its window instead (:func:`find_earlier_booking`): an earlier attempt may have chosen another slot.
* Reconciliation impossible (scope ``crm.objects.contacts.read`` missing, CRM unreachable): raise
  :class:`BookingOutcomeUnknownError` naming what to check, unless ``allow_resend``.

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
    mask_emails,
)
from hubspot_scheduler_provider.hooks.crm import CRM_READ_SCOPE, CrmLookup, CrmMeeting

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping, Sequence

    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
    from hubspot_scheduler_provider.models import MeetingBooking

#: Seconds to wait before each CRM check after a booking's outcome became unknown. HubSpot's CRM search
#: index can show a new meeting a few seconds after the booking; the total stays well under a minute.
RECHECK_DELAYS: tuple[float, ...] = (0.0, 2.0, 5.0)


@dataclass(frozen=True)
class BookingOutcome:
    """What :func:`book_exactly_once` returns: HubSpot's booking answer, or the reconciled CRM view."""

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
    :param recheck_delays: waits before each CRM check after an unknown outcome (default
        :data:`RECHECK_DELAYS`).
    """
    if attempt_is_repeat:
        earlier = find_earlier_booking(hook, booking, allow_resend=allow_resend, log=log)
        if earlier is not None:
            return earlier

    reconciler = _Reconciler(hook, booking, log)
    sends_left = 2 if allow_resend else 1
    while True:
        sends_left -= 1
        try:
            result = hook.book_meeting(booking)
        except HubSpotError as post_error:
            if not post_error.outcome_unknown:
                raise
            unknown = post_error
        else:
            return BookingOutcome(raw=result.raw, correlation_id=result.correlation_id, reconciled=False)

        log.warning(
            "The booking's outcome is unknown (%s); checking HubSpot's CRM instead of sending it again",
            unknown,
        )
        lookup_error: HubSpotError | None = None
        try:
            found = reconciler.find_with_rechecks(
                RECHECK_DELAYS if recheck_delays is None else recheck_delays, sleep
            )
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
) -> BookingOutcome | None:
    """What a repeated attempt checks before sending: the earlier attempt's meeting from the CRM, or None.

    :param start_between: look for the contact's meeting (of the booking's length) starting anywhere in
        this range (``None``: open side) instead of at ``booking.start_time``: for a booking whose slot is
        chosen at run time, where an earlier attempt may have booked another slot than this one would.
    Raises :class:`BookingOutcomeUnknownError` when the CRM cannot be read, unless ``allow_resend``.
    """
    reconciler = _Reconciler(hook, booking, log, start_between)
    log.info(
        "Repeated attempt: checking HubSpot's CRM for a meeting of %s %s before booking",
        reconciler.who,
        reconciler.when,
    )
    try:
        found = reconciler.find()
    except HubSpotError as unreadable:
        if not allow_resend:
            raise reconciler.unknown(
                "this is a repeated attempt and an earlier one may have booked it", None, unreadable
            ) from None
        log.warning(
            "Could not check HubSpot's CRM (%s); booking anyway because allow_resend=True", unreadable
        )
        return None
    if found is None:
        return None
    return reconciler.reconciled(found, None, "an earlier attempt of this task booked it")


class _Reconciler:
    """Finds the booking's meeting in the CRM and words the outcomes."""

    def __init__(
        self,
        hook: HubSpotSchedulerHook,
        booking: MeetingBooking,
        log: logging.Logger | Any,
        start_between: tuple[datetime | None, datetime | None] | None = None,
    ):
        self._hook = hook
        self._crm: CrmLookup | None = None
        self.booking = booking
        self.log = log
        self.start_between = start_between
        self.who = mask_emails(booking.email)
        #: Completes "a meeting of <who> ...": "at <start>", or "starting between <earliest> and <latest>".
        self.when = f"at {_iso_utc(booking)}" if start_between is None else _describe_range(start_between)

    @property
    def crm(self) -> CrmLookup:
        if self._crm is None:
            self._crm = CrmLookup(self._hook.transport)
        return self._crm

    def find(self) -> dict[str, Any] | None:
        """The reconciled answer when the CRM has this booking's meeting, else None."""
        contact_id = self.crm.contact_id_by_email(self.booking.email)
        if contact_id is None:
            return None
        if self.start_between is None:
            meetings = self.crm.meetings_of_contact_at(contact_id, self.booking.start_time)
        else:
            meetings = self.crm.meetings_of_contact_between(contact_id, *self.start_between)
        # Same start; same length when HubSpot knows the end (another page's meeting may share the start).
        matching = [m for m in meetings if m.duration_ms in (None, self.booking.duration)]
        if not matching:
            return None
        if len(matching) > 1:
            self.log.warning(
                "HubSpot's CRM has %d meetings of %s %s (ids %s); using the oldest",
                len(matching),
                self.who,
                self.when,
                ", ".join(m.id for m in matching),
            )
        oldest = min(matching, key=lambda m: (len(m.id), m.id))
        return reconciled_answer(oldest, contact_id, self.booking)

    def find_with_rechecks(
        self, delays: Sequence[float], sleep: Callable[[float], None]
    ) -> dict[str, Any] | None:
        for delay in delays or (0.0,):
            if delay > 0:
                sleep(delay)
            found = self.find()
            if found is not None:
                return found
        return None

    def reconciled(self, answer: dict[str, Any], correlation_id: str | None, why: str) -> BookingOutcome:
        self.log.info(
            "Booking reconciled, not sent again: HubSpot's CRM already has meeting %s of contact %s "
            "(%s) on page %r %s; %s.",
            answer["crmMeetingId"],
            answer["contactId"],
            self.who,
            self.booking.slug,
            self.when,
            why,
        )
        return BookingOutcome(raw=answer, correlation_id=correlation_id, reconciled=True)

    def unknown(
        self, why: str, post_error: HubSpotError | None, lookup_error: HubSpotError | None
    ) -> BookingOutcomeUnknownError:
        parts = [
            f"Booking outcome unknown, not re-sent: page {self.booking.slug!r} {self.when} "
            f"for {self.who}; {why}."
        ]
        if post_error is not None:
            parts.append(f"The request: {post_error.message}.")
        if lookup_error is None:
            parts.append(
                "HubSpot's CRM shows no meeting of this contact at that time yet (the CRM can lag a "
                "booking by a few seconds)."
            )
        elif isinstance(lookup_error, HubSpotMissingScopesError):
            parts.append(
                f"Checking the CRM needs the scope {CRM_READ_SCOPE}, which the token lacks ({lookup_error}); "
                "add it to the app and re-issue the token."
            )
        else:
            parts.append(f"Checking HubSpot's CRM for the meeting failed: {lookup_error}")
        parts.append(
            f"Check the contact's meetings in HubSpot for one {self.when}: if it is there, mark this "
            "task successful; if not, retry the task (every repeated attempt checks the CRM before "
            "booking), or set allow_resend=True to send the booking without that check (risks a duplicate)."
        )
        source = post_error or lookup_error
        return BookingOutcomeUnknownError(
            " ".join(parts),
            status=source.status if source else None,
            category=source.category if source else None,
            sub_category=source.sub_category if source else None,
            correlation_id=source.correlation_id if source else None,
            outcome_unknown=True,
        )


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
