"""Turn what a DAG author wrote into a valid :class:`~hubspot_scheduler_provider.models.MeetingBooking`.

Pure: no HTTP, no connection lookup. Every mistake a client can detect raises
:class:`~hubspot_scheduler_provider.errors.BookingInputError` with ``"<field>: <problem>"`` *before* any
request is sent, so a bad row never reaches HubSpot and Airflow does not retry it.

Two steps, usable on their own (the seam for features that must look at raw input first, such as a
``start_time="next_available"`` mode that asks HubSpot for a slot):

* :func:`collect_booking_input` merges ``payload`` and keyword overrides into raw values per field;
* :func:`normalise_booking` parses and validates those values into a ``MeetingBooking``.

:func:`build_booking` does both. The field parsers live in :mod:`hubspot_scheduler_provider.fields`,
the check against the page's options in :mod:`hubspot_scheduler_provider.page_check`.

This module is imported by operator modules at DAG-parse time, so it imports pydantic models lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.booking_fields import BOOKING_FIELDS, BOOKING_KEYWORDS, BookingField
from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.fields import (
    check_nesting,
    decode_text,
    format_in_zone,
    kind,
    parse_duration,
    parse_email,
    parse_form_fields,
    parse_legal_consent_responses,
    parse_locale,
    parse_name,
    parse_slug,
    parse_start_time,
    parse_timezone,
    parse_user_ids,
    quote,
)
from hubspot_scheduler_provider.fields._common import close_match
from hubspot_scheduler_provider.page_check import check_against_page

if TYPE_CHECKING:
    from hubspot_scheduler_provider.models import MeetingBooking

#: The merge's own names, and (until the booking operators and availability import them from their own
#: modules: ``booking_fields``, ``fields``, ``page_check``) the parsers and page check they use.
__all__ = [
    "BOOKING_FIELDS",
    "BOOKING_KEYWORDS",
    "BookingField",
    "RawValue",
    "build_booking",
    "check_against_page",
    "collect_booking_input",
    "decode_text",
    "format_in_zone",
    "normalise_booking",
    "parse_duration",
    "parse_slug",
    "parse_start_time",
    "parse_timezone",
]

_FIELDS_BY_KEYWORD = {field.keyword: field for field in BOOKING_FIELDS}
_FIELDS_BY_SPELLING = {spelling: field for field in BOOKING_FIELDS for spelling in field.spellings}
#: Unknown payload keys quoted in one message at most; the rest are counted.
_MAX_UNKNOWN_SHOWN = 5


@dataclass(frozen=True)
class RawValue:
    """A value as the user gave it, with the name it was given under (for messages)."""

    source: str
    value: Any


def build_booking(payload: Any = None, overrides: Mapping[str, Any] | None = None) -> MeetingBooking:
    """Merge ``payload`` with keyword ``overrides`` (keywords win; ``None`` means "not given") and validate.

    ``payload`` may be a mapping, a JSON (or Python-literal) object string as Jinja renders it, or a
    ``MeetingBooking``; keys in camelCase or snake_case. Raises :class:`BookingInputError`.
    """
    return normalise_booking(collect_booking_input(payload, overrides))


def collect_booking_input(
    payload: Any = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, RawValue]:
    """Raw value per ``MeetingBooking`` field from ``payload`` and keyword ``overrides``; nothing parsed."""
    collected = _payload_values(_payload_as_mapping(payload))
    for keyword, value in (overrides or {}).items():
        field = _FIELDS_BY_KEYWORD.get(keyword)
        if field is None:
            # The caller's code is wrong, not the user's data.
            raise TypeError(f"unknown booking keyword {keyword!r}; known: {', '.join(BOOKING_KEYWORDS)}")
        if value is not None:
            collected[field.name] = RawValue(keyword, value)
    return collected


def normalise_booking(collected: Mapping[str, RawValue]) -> MeetingBooking:
    """Parse and validate every field; report all problems in one :class:`BookingInputError`."""
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for field in BOOKING_FIELDS:
        raw = collected.get(field.name)
        if raw is None:
            if field.required:
                problems.append((field.label, _missing_hint(field)))
            continue
        if field.name == "start_time" and "timezone" in collected and "timezone" not in values:
            continue  # the zone is wrong and already reported; a naive time cannot be checked without it
        try:
            if field.name == "start_time":
                values[field.name] = parse_start_time(raw.source, raw.value, values.get("timezone"))
            else:
                values[field.name] = _PARSERS[field.name](raw.source, raw.value)
        except BookingInputError as err:
            problems.append((err.field, err.problem))
    if problems:
        first_field, first_problem = problems[0]
        rest = "".join(f"; {other}: {what}" for other, what in problems[1:])
        raise BookingInputError(first_field, first_problem + rest)
    from hubspot_scheduler_provider.models import MeetingBooking

    return MeetingBooking(**values)


def _missing_hint(field: BookingField) -> str:
    if field.name == "email":
        # Operators' own ``email`` argument is Airflow's failure-alert address, never the booker.
        return "required: the booker's email address (not the operator's email=, the alert recipient)"
    return "required but not given"


# --- payload ---------------------------------------------------------------------------------------


def _payload_as_mapping(payload: Any) -> Mapping[Any, Any]:
    if payload is None:
        return {}
    if isinstance(payload, Mapping):
        return check_nesting("payload", payload)
    if isinstance(payload, str):
        decoded = decode_text("payload", payload)
        if not isinstance(decoded, Mapping):
            raise BookingInputError("payload", f"expected a JSON object, got {kind(decoded)}")
        return decoded
    from hubspot_scheduler_provider.models import MeetingBooking

    if isinstance(payload, MeetingBooking):
        return payload.model_dump(exclude_none=True)
    raise BookingInputError(
        "payload",
        f"expected a dict, a JSON object string or a MeetingBooking, got {kind(payload)}",
    )


def _payload_values(payload: Mapping[Any, Any]) -> dict[str, RawValue]:
    values: dict[str, RawValue] = {}
    unknown: list[Any] = []
    for key, value in payload.items():
        field = _FIELDS_BY_SPELLING.get(key) if isinstance(key, str) else None
        if field is None:
            unknown.append(key)
            continue
        if field.name in values:
            raise BookingInputError(
                "payload", f"{values[field.name].source!r} and {key!r} both give {field.wire!r}; keep one"
            )
        if value is not None:  # JSON null is "not given", like a keyword left at None
            values[field.name] = RawValue(key, value)
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        shown = ", ".join(_unknown_key(key) for key in unknown[:_MAX_UNKNOWN_SHOWN])
        more = f" and {len(unknown) - _MAX_UNKNOWN_SHOWN} more" if len(unknown) > _MAX_UNKNOWN_SHOWN else ""
        raise BookingInputError("payload", f"unknown key{plural} {shown}{more}")
    return values


def _unknown_key(key: Any) -> str:
    shown = quote(key) if isinstance(key, str) else kind(key)
    close = close_match(key, _FIELDS_BY_SPELLING)
    return f"{shown} (did you mean {close!r}?)" if close else shown


#: Parser per field taking ``(name the value was given under, value)``; start_time also needs the zone.
_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "slug": parse_slug,
    "email": parse_email,
    "first_name": parse_name,
    "last_name": parse_name,
    "timezone": parse_timezone,
    "duration": parse_duration,
    "locale": parse_locale,
    "form_fields": parse_form_fields,
    "legal_consent_responses": parse_legal_consent_responses,
    "likely_available_user_ids": parse_user_ids,
}
