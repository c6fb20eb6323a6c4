"""Step 2 of the booking flow: a ``booking_key`` held by another run (see
:mod:`~hubspot_scheduler_provider.booking_flow` for the whole order, and the guarantees page for what a
key promises on each Airflow version).

Airflow 3.3+: the key's record is in the asset state store (:class:`~hubspot_scheduler_provider.ledger.
KeyLedger`). Held and booked by another task: that booking is returned. Being sent by another task: its
answer (or its meeting in the CRM) is awaited until that send has surely ended and reached the CRM's
index; then the key is taken over. Older Airflow: HubSpot's CRM is the only witness of another run's
booking (this contact, page and start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.units import utc_text

if TYPE_CHECKING:
    from datetime import datetime

    from hubspot_scheduler_provider.booking_flow import BookingFlow, BookingOutcome
    from hubspot_scheduler_provider.ledger import LedgerRecord
    from hubspot_scheduler_provider.models import MeetingBooking


class BookingKeys:
    """The booking-key step of one :class:`~hubspot_scheduler_provider.booking_flow.BookingFlow`."""

    def __init__(self, flow: BookingFlow) -> None:
        self._flow = flow
        #: booking key -> the token this flow holds it with.
        self.claimed: dict[str, str] = {}

    def _in_crm(
        self,
        booking_key: str,
        booking: MeetingBooking,
        start_between: tuple[datetime | None, datetime | None] | None,
    ) -> BookingOutcome | None:
        reconciler = self._flow.reconciler(booking, start_between=start_between)
        found = self._flow.ask_crm(reconciler, self._flow.clock())
        if found is None:
            return None
        reconciler.reconciled_log(found, f"booking key {shown(booking_key)} was booked before (in the CRM)")
        return _outcome(raw=found, correlation_id=None, reconciled=True, source="crm")

    def still_ours(self, booking_key: str) -> None:
        """Right before the POST: the key must still carry this flow's token (not taken over)."""
        from airflow.providers.common.compat.sdk import AirflowException

        assert self._flow.key_ledger is not None
        now = self._flow.key_ledger.read(booking_key)
        if now is None or now.token != self.claimed.get(booking_key):
            raise AirflowException(
                f"Booking key {shown(booking_key)} was taken over by {now.writer if now else 'nobody'} while "
                "this task prepared its booking; nothing was sent. Retry the task: it returns that "
                "booking once it is recorded."
            )

    def held_by_key(
        self,
        booking_key: str,
        booking: MeetingBooking,
        *,
        start_between: tuple[datetime | None, datetime | None] | None = None,
    ) -> BookingOutcome | None:
        if self._flow.key_ledger is None:
            # No shared record (Airflow < 3.3): HubSpot's CRM is the only witness of another run's booking.
            return self._in_crm(booking_key, booking, start_between)
        claim = self._flow.new_record(booking, fingerprint_of="", token=_new_token())
        while True:
            held = self._flow.key_ledger.claim(booking_key, claim)
            if held is None:
                # Ours now; the send keeps this token and checks it is still ours right before the POST.
                self.claimed[booking_key] = claim.token or ""
                # The cross-check: a booking made under this key some other way (or lost from the store).
                found = self._in_crm(booking_key, booking, start_between)
                if found is not None:
                    self._flow.key_ledger.write(booking_key, claim.booked(found.raw, reconciled=True))
                return found
            if held.state == "booked" and held.answer is not None:
                self._flow.log.info(
                    "Booking key %s was booked by %s (calendarEventId %s); returning that booking, not "
                    "booking again",
                    shown(booking_key),
                    held.writer or "another task",
                    held.answer.get("calendarEventId") or "-",
                )
                return _outcome(
                    raw={**held.answer, "reconciled": True},
                    correlation_id=None,
                    reconciled=True,
                    source="booking_key",
                )
            settled = self._settle(booking_key, held, booking)
            if settled is not None:
                return settled

    def _settle(self, booking_key: str, held: LedgerRecord, booking: MeetingBooking) -> BookingOutcome | None:
        """Another task is sending this key: wait for its answer or meeting; None once it booked nothing."""
        assert self._flow.key_ledger is not None
        if held.start:
            sent: MeetingBooking | None = _at(booking, held.start).model_copy(
                update={"slug": held.slug, "duration": held.duration_ms}
            )
        else:
            sent = None  # it had not chosen its slot yet
        deadline = self._flow.index_deadline(held)
        self._flow.log.warning(
            "Booking key %s is being sent by %s (since %s); waiting for its answer until %s",
            shown(booking_key),
            held.writer or "another task",
            utc_text(held.sent_at),
            utc_text(deadline),
        )
        reconciler = None if sent is None else self._flow.reconciler(sent)
        from hubspot_scheduler_provider.reconcile import RECHECK_STEPS

        steps = iter(RECHECK_STEPS)
        while True:
            now = self._flow.key_ledger.read(booking_key)
            if now is None or now.token != held.token:
                return None  # it was refused (cleared) or another sender took over: claim again
            if now.state == "booked" and now.answer is not None:
                return _outcome(
                    raw={**now.answer, "reconciled": True},
                    correlation_id=None,
                    reconciled=True,
                    source="booking_key",
                )
            found = None if reconciler is None else self._flow.ask_crm(reconciler, self._flow.clock())
            if found is not None and reconciler is not None:
                self._flow.key_ledger.write(booking_key, now.booked(found, reconciled=True))
                reconciler.reconciled_log(
                    found, f"booking key {shown(booking_key)} was booked by {held.writer}"
                )
                return _outcome(raw=found, correlation_id=None, reconciled=True, source="crm")
            left = deadline - self._flow.clock()
            if left <= 0:
                self._flow.log.warning(
                    "Booking key %s: the other send booked nothing; taking the key over", shown(booking_key)
                )
                self._flow.key_ledger.forget(booking_key)
                return None
            self._flow._sleep(min(next(steps, RECHECK_STEPS[-1]), left))


def shown(booking_key: str) -> str:
    """How a key appears in logs and errors: a key may carry an email (``"lead-{email}-..."``)."""
    from hubspot_scheduler_provider.errors import mask_emails

    return repr(mask_emails(booking_key))


def _outcome(**fields: Any) -> BookingOutcome:
    from hubspot_scheduler_provider.booking_flow import BookingOutcome

    return BookingOutcome(**fields)


def _at(booking: MeetingBooking, start: str) -> MeetingBooking:
    from hubspot_scheduler_provider.booking_flow import at
    from hubspot_scheduler_provider.units import parse_iso_instant

    return at(booking, parse_iso_instant(start))


def _new_token() -> str:
    from hubspot_scheduler_provider.ledger import new_token

    return new_token()
