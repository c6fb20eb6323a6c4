"""Check a built booking against its meeting page's own options, before booking it.

Optional (``validate_against_page``): costs one ``get_booking_info`` read, and turns what HubSpot would
refuse (a duration the page does not offer, an unanswered required question or consent, a start time
that is not a free slot) into a :class:`~hubspot_scheduler_provider.errors.BookingInputError` quoting the
page's options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.fields import format_in_zone
from hubspot_scheduler_provider.units import duration_not_offered, minutes_text

if TYPE_CHECKING:
    from hubspot_scheduler_provider.models import BookingInfo, MeetingBooking

#: Page questions answered by the booking's top-level attributes rather than ``formFields``.
_TOP_LEVEL_QUESTIONS = frozenset({"email", "firstName", "lastName"})
_MAX_OPTIONS_SHOWN = 8


def check_against_page(booking: MeetingBooking, info: BookingInfo) -> list[str]:
    """Reject what the page would refuse, quoting the page's own options.

    ``info`` is ``get_booking_info(slug, timezone)`` (durations and times in milliseconds). Returns
    notes about what could not be checked (a start beyond the availability HubSpot returned).
    """
    settings = info.custom_params
    if booking.duration not in settings.durations:
        raise BookingInputError(
            "duration", duration_not_offered(booking.slug, booking.duration, list(settings.durations))
        )
    answered = {field.name for field in booking.form_fields}
    unanswered = [
        question
        for question in settings.form_fields
        if question.is_required
        and question.name not in _TOP_LEVEL_QUESTIONS
        and question.name not in answered
    ]
    if unanswered:
        names = ", ".join(f"{question.name!r} ({question.label})" for question in unanswered)
        raise BookingInputError("form_fields", f"page {booking.slug!r} requires an answer to {names}")
    if settings.legal_consent_enabled and settings.legal_consent_options is not None:
        consented = {
            response.communication_type_id
            for response in booking.legal_consent_responses
            if response.consented
        }
        missing = [
            box
            for box in settings.legal_consent_options.communication_consent_checkboxes
            if box.required and box.communication_type_id not in consented
        ]
        if missing:
            boxes = ", ".join(f"{box.communication_type_id!r} ({box.label})" for box in missing)
            raise BookingInputError(
                "legal_consent_responses",
                f"page {booking.slug!r} requires consent (consented: true) to {boxes}",
            )
    return _check_start_offered(booking, info)


def _check_start_offered(booking: MeetingBooking, info: BookingInfo) -> list[str]:
    availability = info.link_availability
    slots_by_duration = availability.link_availability_by_duration if availability else {}
    for_duration = next(
        (slots for slots in slots_by_duration.values() if slots.meeting_duration_millis == booking.duration),
        None,
    )
    starts = sorted(slot.start_millis_utc for slot in for_duration.availabilities) if for_duration else []
    start_ms = int(booking.start_time.timestamp() * 1000)
    if start_ms in starts:
        return []
    when = format_in_zone(start_ms, booking.timezone)
    if availability is not None and availability.has_more and (not starts or start_ms > starts[-1]):
        return [f"start_time {when} is later than the availability HubSpot listed; not checked"]
    nearest = sorted(sorted(starts, key=lambda slot: abs(slot - start_ms))[:_MAX_OPTIONS_SHOWN])
    options = ", ".join(format_in_zone(slot, booking.timezone) for slot in nearest) or "none"
    raise BookingInputError(
        "start_time",
        f"{when} is not an available {minutes_text(booking.duration)} slot on page {booking.slug!r}; "
        f"nearest available: {options}",
    )
