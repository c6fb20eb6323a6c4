"""The one booking flow: ledger, cross-run key, CRM reconciliation, send, record.

Every booking goes through :class:`BookingFlow`: a fixed start (:meth:`BookingFlow.book`), the first
free slot of a window (:meth:`BookingFlow.book_next_available`, which asks
:mod:`~hubspot_scheduler_provider.availability` for slots and nothing else), and each item of a batch.
For one booking the order is:

1. **This task's record** (:mod:`~hubspot_scheduler_provider.ledger`): an answer recorded by an earlier
   try is returned as it is, with no HubSpot call. A ``sending`` record without an answer means an
   earlier send's outcome is unknown, or that send is still in flight: the CRM is asked until HubSpot's
   index has had :data:`~hubspot_scheduler_provider.reconcile.CRM_INDEX_LAG_SECONDS` since that request
   ended (never raced, never re-sent on a guess). Found: recorded and returned. Still not there: nothing
   was booked, so it is sent (unless the earlier try, still running, recorded its answer meanwhile).
   The CRM unreadable: "outcome unknown, not re-sent" (unless ``allow_resend``).
   Without a durable ledger (Airflow < 3.3), a repeated try asks the CRM the same way before sending.
2. **The booking key** (``booking_key``): held by another run -> its booking is returned (reconciled);
   being sent by another run -> settled like a ``sending`` record.
3. **Send**: the ``sending`` record is written first, then the POST. HubSpot's answer is recorded; a
   definitive refusal clears the record; an unknown outcome (timeout, dropped connection, 5xx, an
   unreadable 200) is settled through the CRM at once, and the task fails "outcome unknown, not re-sent"
   when the CRM does not show it yet (the record stays, so the next try settles it).

Never retried here: anything HubSpot may have processed (see :mod:`~hubspot_scheduler_provider.retry_rules`).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider import reconcile
from hubspot_scheduler_provider.booking_keys import BookingKeys
from hubspot_scheduler_provider.errors import BookingInputError, HubSpotError
from hubspot_scheduler_provider.ledger import LedgerRecord, NoLedger, booking_entry, fingerprint, new_token
from hubspot_scheduler_provider.reconcile import BookingReconciler
from hubspot_scheduler_provider.retry_rules import Disposition, classify
from hubspot_scheduler_provider.units import parse_iso_instant, utc_text

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    from hubspot_scheduler_provider.availability import SlotQuery
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
    from hubspot_scheduler_provider.ledger import KeyLedger, Ledger
    from hubspot_scheduler_provider.models import MeetingBooking


@dataclass(frozen=True)
class BookingOutcome:
    """HubSpot's booking answer (``duration`` in ms), or the reconciled CRM view (``"reconciled": True``)."""

    raw: dict[str, Any]
    #: Correlation id of HubSpot's booking answer; for a reconciled one, of the failed POST (if any).
    correlation_id: str | None
    #: True when the meeting was found in HubSpot's CRM or taken from another run's booking key.
    reconciled: bool
    #: HubSpot answered ``isOffline: true``: the host's calendar is disconnected, nothing is on it.
    is_offline: bool = False
    #: Where the answer came from: ``"hubspot"`` (this send), ``"ledger"`` (an earlier try's answer),
    #: ``"crm"`` (reconciled) or ``"booking_key"`` (another run's booking with the same key).
    source: str = "hubspot"
    #: Extra links recorded with an earlier try's answer (``source == "ledger"``), else None.
    links: dict[str, str] | None = None
    #: This booking's ledger entry (see :func:`~hubspot_scheduler_provider.ledger.booking_entry`).
    entry: str | None = None


class BookingFlow:
    """Books meetings exactly once for one task try; see the module docstring for the order of checks.

    :param ledger: this task instance's records (:class:`~hubspot_scheduler_provider.ledger.NoLedger`
        where Airflow has no task state store).
    :param repeat: this is a retry or a cleared task (``try_number > 1``).
    :param allow_resend: when the CRM cannot be read, or an unknown outcome is not found, send (once
        more) instead of failing. Risks a duplicate.
    :param key_ledger: cross-run booking key records (Airflow 3.3+); without one, a booking key is
        checked against the CRM only.
    :param index_lag_seconds: how long HubSpot's CRM search may take to show a new meeting
        (default :data:`~hubspot_scheduler_provider.reconcile.CRM_INDEX_LAG_SECONDS`).
    :param index_settled: the caller already waited out the index lag (a retried batch waits once for
        all its items), so each CRM check is made once.
    :param writer: names this task instance in records (``dag/run/task[map]``).
    :param pace: a context manager factory entered around recording and sending each booking: a batch's
        ``SlidingWindowLimiter.reserved``, so the rate limiter lets the POST through BEFORE its "sending"
        record is written (a killed worker then leaves records only for requests really sent).
    """

    def __init__(
        self,
        hook: HubSpotSchedulerHook,
        *,
        log: logging.Logger | Any,
        ledger: Ledger | None = None,
        repeat: bool = False,
        allow_resend: bool = False,
        key_ledger: KeyLedger | None = None,
        index_lag_seconds: float | None = None,
        index_settled: bool = False,
        writer: str | None = None,
        pace: Callable[[], AbstractContextManager[Any]] = nullcontext,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.hook = hook
        self.log = log
        self.ledger: Ledger = ledger if ledger is not None else NoLedger()
        self.repeat = repeat
        self.allow_resend = allow_resend
        self.key_ledger = key_ledger
        self.index_lag_seconds = (
            reconcile.CRM_INDEX_LAG_SECONDS if index_lag_seconds is None else index_lag_seconds
        )
        self.index_settled = index_settled
        self.writer = writer
        self._pace = pace
        self._sleep = sleep
        self.clock = clock
        #: The last record written per entry, so :meth:`record_links` can complete it without a read.
        self._written: dict[str, LedgerRecord] = {}
        #: slug -> linkId for the CRM's page check, read once per page (a batch settles many items).
        self._link_ids: dict[str, str] = {}
        self._keys = BookingKeys(self)

    def record_links(self, outcome: BookingOutcome, links: dict[str, str]) -> None:
        """Add the task's extra links to the recorded answer, for a replay without HubSpot calls."""
        record = self._written.get(outcome.entry or "")
        if record is not None and record.state == "booked" and links and outcome.entry:
            self.ledger.write(outcome.entry, replace(record, links=links))

    # --- the two entry points ---------------------------------------------------------------------

    def book(
        self,
        booking: MeetingBooking,
        *,
        booking_key: str | None = None,
        prepare: Callable[[MeetingBooking], None] | None = None,
    ) -> BookingOutcome:
        """Book ``booking`` at its start time, unless this task or ``booking_key`` already booked it.

        ``prepare`` checks the booking just before it is sent (not when an earlier booking is returned).
        """
        entry = booking_entry(booking)
        earlier = self._earlier(entry, booking, start_between=None)
        if earlier is None and booking_key is not None:
            earlier = self._keys.held_by_key(booking_key, booking)
        if earlier is not None:
            return replace(earlier, entry=entry)
        if prepare is not None:
            prepare(booking)
        return replace(self._send(entry, booking, booking_key), entry=entry)

    def book_next_available(
        self,
        template: MeetingBooking,
        query: SlotQuery,
        *,
        max_attempts: int,
        booking_key: str | None = None,
        start_between: tuple[datetime | None, datetime | None] | None = None,
        prepare: Callable[[MeetingBooking], None] | None = None,
    ) -> tuple[MeetingBooking, BookingOutcome]:
        """Book the first free slot of ``query`` (the next one when another booker wins it first).

        HubSpot refuses a slot taken between our read and our POST (``MEETING_START_TIME_NOT_VALID``,
        nothing booked), so reading availability again is safe; at most ``max_attempts`` POSTs.
        ``start_between``: where an earlier try's slot can start (a repeated try without a durable
        ledger looks for the contact's meeting there). ``prepare`` checks each booking before it is sent.
        """
        from hubspot_scheduler_provider.availability import NoFreeSlotError, find_slot_starts, is_slot_taken

        entry = booking_entry(template, chosen_in=query.describe_window())
        earlier = self._earlier(entry, template, start_between=start_between)
        if earlier is None and booking_key is not None:
            earlier = self._keys.held_by_key(booking_key, template, start_between=start_between)
        if earlier is not None:
            return at(template, parse_iso_instant(earlier.raw["start"])), replace(earlier, entry=entry)
        refused: set[int] = set()
        while True:
            starts = find_slot_starts(self.hook, query, limit=len(refused) + 1)
            start_ms = next((ms for ms in starts if ms not in refused), None)
            if start_ms is None:
                raise query.no_free_slot(
                    f"{len(refused)} slot(s) were taken by others first" if refused else ""
                )
            slot = query.to_datetime(start_ms)
            booking = at(template, slot)
            if prepare is not None:
                prepare(booking)
            self.log.info(
                "Next available slot on page %r: %s; booking it, attempt %d/%d",
                query.slug,
                slot.isoformat(),
                len(refused) + 1,
                max_attempts,
            )
            try:
                return booking, replace(self._send(entry, booking, booking_key), entry=entry)
            except HubSpotError as error:
                if not is_slot_taken(error):
                    raise
                refused.add(start_ms)
                if len(refused) >= max_attempts:
                    raise NoFreeSlotError(
                        f"Every slot tried on page {query.slug!r} was taken before our booking arrived "
                        f"({max_attempts} attempts); last refusal: {error}"
                    ) from error
                self.log.warning(
                    "Slot %s on page %r was taken before our booking arrived (%s); reading availability "
                    "again",
                    slot.isoformat(),
                    query.slug,
                    error.correlation_id or "-",
                )

    # --- 1. this task's record ----------------------------------------------------------------------

    def _earlier(
        self,
        entry: str,
        booking: MeetingBooking,
        *,
        start_between: tuple[datetime | None, datetime | None] | None,
    ) -> BookingOutcome | None:
        record = self.ledger.read(entry)
        if record is not None and record.state == "booked" and record.answer is not None:
            self.log.info(
                "An earlier try of this task booked it (calendarEventId %s); returning its recorded answer "
                "without calling HubSpot. It is not booked again even if it was cancelled since.",
                record.answer.get("calendarEventId") or record.answer.get("crmMeetingId") or "-",
            )
            return BookingOutcome(
                raw=record.answer,
                correlation_id=None,
                reconciled=record.reconciled,
                is_offline=record.answer.get("isOffline") is True,
                source="ledger",
                links=record.links,
            )
        if record is not None:
            return self._settle_recorded(entry, record, booking)
        if self.ledger.durable or not self.repeat:
            return None  # nothing recorded, so nothing was sent
        reconciler = self.reconciler(booking, start_between=start_between)
        self.log.info(
            "Repeated attempt without a task state store: checking HubSpot's CRM for %s before sending it",
            reconciler.description,
        )
        found = self.ask_crm(
            reconciler, self.clock() + (0.0 if self.index_settled else self.index_lag_seconds)
        )
        if found is None:
            return None
        reconciler.reconciled_log(found, "an earlier attempt of this task sent it")
        return BookingOutcome(raw=found, correlation_id=None, reconciled=True, source="crm")

    def _settle_recorded(
        self, entry: str, record: LedgerRecord, booking: MeetingBooking
    ) -> BookingOutcome | None:
        """An earlier send without a recorded answer: find it in the CRM, or conclude it booked nothing."""
        sent = at(booking, parse_iso_instant(record.start)).model_copy(
            update={"slug": record.slug, "duration": record.duration_ms}
        )
        # A cancelled meeting cannot be told apart from an older booking of the same lead here.
        reconciler = self.reconciler(sent, count_void=False)
        deadline = self.index_deadline(record)
        self.log.warning(
            "An earlier try sent %s at %s and recorded no answer (its outcome is unknown, or it is still "
            "in flight); asking HubSpot's CRM until %s instead of sending it again",
            reconciler.description,
            utc_text(record.sent_at),
            utc_text(deadline),
        )
        found = self.ask_crm(reconciler, deadline)
        if found is not None:
            self.ledger.write(entry, record.booked(found, reconciled=True))
            reconciler.reconciled_log(found, "the earlier try's request booked it")
            return BookingOutcome(raw=found, correlation_id=None, reconciled=True, source="crm")
        if self.ledger.reread(entry) != record:  # the earlier try still runs: it wrote an answer or re-sent
            self.log.info("The earlier try updated its record while HubSpot's CRM was asked; reading it")
            return self._earlier(entry, booking, start_between=None)
        self.log.warning(
            "Settled: the earlier send booked nothing (HubSpot's CRM shows no such meeting %.0f s after that "
            "request ended); sending the booking",
            self.index_lag_seconds,
        )
        self.ledger.forget(entry)
        return None

    # --- 3. send ----------------------------------------------------------------------------------------

    def _send(
        self, entry: str, booking: MeetingBooking, booking_key: str | None, *, resend: bool = False
    ) -> BookingOutcome:
        from hubspot_scheduler_provider.availability import is_slot_taken

        body = booking.to_wire(self.hook.api_version)
        keyed = booking_key is not None and self.key_ledger is not None
        token = self._keys.claimed.get(booking_key or "") if keyed else None
        record = self.new_record(booking, fingerprint_of=fingerprint(body), token=token or new_token())

        def stamp(attempt: int) -> None:
            # A retried POST (429, 423, a renewed token) leaves later: its outcome is unknown from then.
            nonlocal record
            if attempt > 1:
                record = replace(record, sent_at=self.clock())
                self.ledger.write(entry, record)

        try:
            with self._pace():
                if keyed:
                    assert booking_key is not None and self.key_ledger is not None
                    self._keys.still_ours(booking_key)
                    self.key_ledger.write(booking_key, record)
                self.ledger.write(entry, record)
                result = self.hook.book_meeting(booking, before_each_attempt=stamp)
        except (HubSpotError, BookingInputError) as error:
            if isinstance(error, HubSpotError) and classify(error).disposition is Disposition.OUTCOME_UNKNOWN:
                return self._settle_unknown(entry, record, booking, booking_key, error, resend=resend)
            if isinstance(error, HubSpotError) and is_slot_taken(error) and (self.repeat or resend):
                # A re-sent booking refused for its slot: our own earlier send may hold that slot.
                found = self.ask_crm(self.reconciler(booking), self.clock() + self.index_lag_seconds)
                if found is not None:
                    return self._reconciled_send(entry, record, booking_key, found, error.correlation_id)
            self._forget(entry, booking_key)
            raise
        outcome = BookingOutcome(
            raw=result.raw,
            correlation_id=result.correlation_id,
            reconciled=False,
            is_offline=result.is_offline,
        )
        self._record_booked(entry, record, booking_key, result.raw, reconciled=False)
        return outcome

    def _settle_unknown(
        self,
        entry: str,
        record: LedgerRecord,
        booking: MeetingBooking,
        booking_key: str | None,
        error: HubSpotError,
        *,
        resend: bool,
    ) -> BookingOutcome:
        reconciler = self.reconciler(booking, count_void=False)
        self.log.warning(
            "The booking's outcome is unknown (%s); checking HubSpot's CRM instead of sending it again", error
        )
        lookup_error: HubSpotError | None = None
        try:
            found = reconciler.find_until(self.clock() + self.index_lag_seconds)
        except HubSpotError as unreadable:
            lookup_error, found = unreadable, None
        if found is not None:
            reconciler.reconciled_log(found, "the unanswered request booked it")
            return self._reconciled_send(entry, record, booking_key, found, error.correlation_id)
        if self.allow_resend and not resend:
            self.log.warning(
                "HubSpot's CRM %s; sending the booking once more because allow_resend=True",
                "could not be checked" if lookup_error else "shows no such meeting",
            )
            return self._send(entry, booking, booking_key, resend=True)
        raise reconciler.unknown("the booking request got no reliable answer", error, lookup_error)

    # --- helpers (also the booking-key step's: booking_keys.BookingKeys) ---------------------------------

    def reconciler(
        self,
        booking: MeetingBooking,
        *,
        start_between: tuple[datetime | None, datetime | None] | None = None,
        count_void: bool = True,
    ) -> BookingReconciler:
        return BookingReconciler(
            self.hook,
            booking,
            self.log,
            start_between=start_between,
            count_void=count_void,
            link_ids=self._link_ids,
            sleep=self._sleep,
            clock=self.clock,
        )

    def ask_crm(self, reconciler: BookingReconciler, deadline: float) -> dict[str, Any] | None:
        """The CRM's answer until ``deadline``; an unreadable CRM is "outcome unknown" unless allow_resend."""
        try:
            return reconciler.find_until(deadline)
        except HubSpotError as unreadable:
            if not self.allow_resend:
                raise reconciler.unknown(
                    "an earlier attempt may have sent it and HubSpot's CRM cannot say", None, unreadable
                ) from None
            self.log.warning(
                "Could not check HubSpot's CRM (%s); sending anyway because allow_resend=True", unreadable
            )
            return None

    def index_deadline(self, record: LedgerRecord) -> float:
        """When a send recorded at ``record.sent_at`` has surely ended and reached the CRM's index."""
        return record.sent_at + self.hook.transport.timeout + self.index_lag_seconds

    def new_record(self, booking: MeetingBooking, *, fingerprint_of: str, token: str) -> LedgerRecord:
        from hubspot_scheduler_provider.models.booking import format_utc

        return LedgerRecord(
            state="sending",
            fingerprint=fingerprint_of,
            slug=booking.slug,
            start=format_utc(booking.start_time) if fingerprint_of else "",
            duration_ms=booking.duration,
            sent_at=self.clock(),
            writer=self.writer,
            token=token,
        )

    def _reconciled_send(
        self,
        entry: str,
        record: LedgerRecord,
        booking_key: str | None,
        found: dict[str, Any],
        correlation_id: str | None,
    ) -> BookingOutcome:
        self._record_booked(entry, record, booking_key, found, reconciled=True)
        return BookingOutcome(raw=found, correlation_id=correlation_id, reconciled=True, source="crm")

    def _record_booked(
        self,
        entry: str,
        record: LedgerRecord,
        booking_key: str | None,
        answer: dict[str, Any],
        *,
        reconciled: bool,
    ) -> None:
        booked = record.booked(answer, reconciled=reconciled)
        self.ledger.write(entry, booked)
        self._written[entry] = booked
        if booking_key is not None and self.key_ledger is not None:
            self.key_ledger.write(booking_key, booked)

    def _forget(self, entry: str, booking_key: str | None) -> None:
        self.ledger.forget(entry)
        if booking_key is not None and self.key_ledger is not None:
            self.key_ledger.forget(booking_key)


def at(template: MeetingBooking, slot: datetime) -> MeetingBooking:
    """``template`` starting at ``slot`` (kept in UTC, as parsed start times are)."""
    return template.model_copy(update={"start_time": slot.astimezone(timezone.utc)})
