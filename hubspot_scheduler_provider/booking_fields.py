"""The inputs of a booking and their three names (attribute, operator keyword, HubSpot's JSON name).

Stdlib only: the booking operators build their signatures and ``template_fields`` from
:data:`BOOKING_KEYWORDS` at DAG-parse time.
"""

from __future__ import annotations

from dataclasses import dataclass


def _to_camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class BookingField:
    """One input of a booking under its three names."""

    #: Attribute of ``MeetingBooking``.
    name: str
    #: Keyword argument of the operators (``contact_email``, because ``email`` is Airflow's alert address).
    keyword: str
    #: HubSpot's JSON name.
    wire: str
    required: bool

    @property
    def spellings(self) -> tuple[str, ...]:
        """Keys accepted in ``payload``: HubSpot's camelCase, snake_case and the operator keyword."""
        return tuple(dict.fromkeys((self.wire, self.name, self.keyword, _to_camel(self.keyword))))

    @property
    def label(self) -> str:
        """How messages name a field that was not given at all."""
        if self.keyword == self.wire:
            return self.keyword
        return f"{self.keyword} (payload key {self.wire!r})"


BOOKING_FIELDS: tuple[BookingField, ...] = (
    BookingField("slug", "slug", "slug", required=True),
    BookingField("email", "contact_email", "email", required=True),
    BookingField("first_name", "first_name", "firstName", required=True),
    BookingField("last_name", "last_name", "lastName", required=True),
    # Before start_time, which needs it to read naive times.
    BookingField("timezone", "timezone", "timezone", required=False),
    BookingField("start_time", "start_time", "startTime", required=True),
    BookingField("duration", "duration", "duration", required=True),
    BookingField("locale", "locale", "locale", required=False),
    BookingField("form_fields", "form_fields", "formFields", required=False),
    BookingField(
        "legal_consent_responses", "legal_consent_responses", "legalConsentResponses", required=False
    ),
    BookingField(
        "likely_available_user_ids", "likely_available_user_ids", "likelyAvailableUserIds", required=False
    ),
)
#: Keyword arguments an operator takes for the booking's fields, in ``BOOKING_FIELDS`` order.
BOOKING_KEYWORDS: tuple[str, ...] = tuple(field.keyword for field in BOOKING_FIELDS)
