"""Turn what a DAG author wrote into a valid :class:`~hubspot_scheduler_provider.models.MeetingBooking`.

Pure: no HTTP, no connection lookup. Every mistake a client can detect raises
:class:`~hubspot_scheduler_provider.errors.BookingInputError` with ``"<field>: <problem>"`` *before* any
request is sent, so a bad row never reaches HubSpot and Airflow does not retry it.

Two steps, usable on their own (the seam for features that must look at raw input first, such as a
``start_time="next_available"`` mode that asks HubSpot for a slot):

* :func:`collect_booking_input` merges ``payload`` and keyword overrides into raw values per field;
* :func:`normalise_booking` parses and validates those values into a ``MeetingBooking``.

:func:`build_booking` does both. :func:`check_against_page` optionally checks a built booking against
the page's own options (durations, required questions and consents, availability).

This module is imported by operator modules at DAG-parse time, so it imports pydantic models lazily.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import TYPE_CHECKING, Any

import pendulum

from hubspot_scheduler_provider.errors import BookingInputError

if TYPE_CHECKING:
    from hubspot_scheduler_provider.models import BookingInfo, MeetingBooking


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

_FIELDS_BY_KEYWORD = {field.keyword: field for field in BOOKING_FIELDS}
_FIELDS_BY_SPELLING = {spelling: field for field in BOOKING_FIELDS for spelling in field.spellings}

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_MS_PER_MINUTE = 60_000
#: Epoch milliseconds below this (March 1973) are almost certainly epoch *seconds*.
_SMALLEST_PLAUSIBLE_EPOCH_MS = 100_000_000_000
_MAX_OPTIONS_SHOWN = 8


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
        return payload
    if isinstance(payload, str):
        decoded = decode_text("payload", payload)
        if not isinstance(decoded, Mapping):
            raise BookingInputError("payload", f"expected a JSON object, got {_kind(decoded)}")
        return decoded
    from hubspot_scheduler_provider.models import MeetingBooking

    if isinstance(payload, MeetingBooking):
        return payload.model_dump(exclude_none=True)
    raise BookingInputError(
        "payload",
        f"expected a dict, a JSON object string or a MeetingBooking, got {_kind(payload)}",
    )


def _payload_values(payload: Mapping[Any, Any]) -> dict[str, RawValue]:
    values: dict[str, RawValue] = {}
    unknown: list[str] = []
    for key, value in payload.items():
        field = _FIELDS_BY_SPELLING.get(key) if isinstance(key, str) else None
        if field is None:
            unknown.append(_unknown_key(key))
            continue
        if field.name in values:
            raise BookingInputError(
                "payload", f"{values[field.name].source!r} and {key!r} both give {field.wire!r}; keep one"
            )
        if value is not None:  # JSON null is "not given", like a keyword left at None
            values[field.name] = RawValue(key, value)
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise BookingInputError("payload", f"unknown key{plural} {', '.join(unknown)}")
    return values


def _unknown_key(key: Any) -> str:
    close = difflib.get_close_matches(str(key), _FIELDS_BY_SPELLING, n=1, cutoff=0.6)
    return f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key)


def decode_text(field: str, text: str) -> Any:
    """Decode a structure that Jinja rendered to text: JSON, or Python literal syntax (``str(dict)``)."""
    stripped = text.strip()
    if stripped in ("", "None", "null"):
        raise BookingInputError(
            field,
            f"rendered to {text!r}: nothing to book. The template probably pulls an empty XCom "
            "(wrong task_ids or key?)",
        )
    try:
        return json.loads(stripped)
    except ValueError as json_error:
        try:
            # Without render_template_as_native_obj, Jinja renders a dict as its Python repr.
            return ast.literal_eval(stripped)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise BookingInputError(field, f"not valid JSON ({json_error})") from None


# --- per-field parsers ------------------------------------------------------------------------------


def parse_text(field: str, value: Any) -> str:
    """A non-empty string, stripped of surrounding whitespace."""
    if not isinstance(value, str):
        raise BookingInputError(field, f"expected text, got {_kind(value)}")
    text = value.strip()
    if not text:
        raise BookingInputError(field, "must not be empty")
    return text


def parse_slug(field: str, value: Any) -> str:
    """A meeting page slug; team pages contain ``/`` (``sales-team/round-robin``)."""
    slug = parse_text(field, value)
    if any(char.isspace() for char in slug):
        raise BookingInputError(field, f"{slug!r} contains whitespace; a meeting page slug never does")
    if slug.startswith(("/", "http:", "https:")):
        raise BookingInputError(
            field, f"{slug!r} looks like a URL or path; give only the slug (the part after /meetings/)"
        )
    return slug


def parse_email(field: str, value: Any) -> str:
    email = parse_text(field, value)
    if not _EMAIL.fullmatch(email):
        raise BookingInputError(field, f"{email!r} is not an email address (expected name@domain.tld)")
    return email


def parse_timezone(field: str, value: Any) -> str:
    """An IANA time zone name such as ``Europe/Berlin`` (what HubSpot expects)."""
    name = parse_text(field, value)
    try:
        pendulum.timezone(name)
    except (ValueError, LookupError):
        pass
    else:
        if "/" in name or name in ("UTC", "GMT"):
            return name
    raise BookingInputError(field, f"unknown time zone {name!r}{_zone_suggestion(name)}")


#: Abbreviations people write for a place's zone. They name fixed offsets (``EST`` is UTC-5 all year),
#: which would put summer meetings an hour off, so they are refused with the place's zone as a hint.
_ZONE_FOR_ABBREVIATION = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "CET": "Europe/Berlin",
    "CEST": "Europe/Berlin",
    "BST": "Europe/London",
}


def _zone_suggestion(name: str) -> str:
    import zoneinfo

    abbreviation_zone = _ZONE_FOR_ABBREVIATION.get(name.upper())
    if abbreviation_zone is not None:
        return (
            f"; {name!r} is an abbreviation, not a place's zone (it ignores daylight saving time); "
            f"use an IANA name such as {abbreviation_zone!r}"
        )
    # Only names parse_timezone accepts: suggesting 'EST' for 'est' would be refused again.
    zones = {
        zone.lower(): zone for zone in zoneinfo.available_timezones() if "/" in zone or zone in ("UTC", "GMT")
    }
    close = difflib.get_close_matches(name.lower(), zones, n=1, cutoff=0.6)
    hint = f"did you mean {zones[close[0]]!r}? " if close else ""
    return f"; {hint}Use an IANA name such as 'Europe/Berlin' or 'UTC'"


def parse_start_time(field: str, value: Any, zone: str | None) -> datetime:
    """An aware UTC datetime from an aware/naive datetime, an ISO 8601 string or epoch milliseconds.

    Naive values are wall-clock time in ``zone``.
    """
    if isinstance(value, bool):
        raise BookingInputError(field, f"expected a date and time, got {_kind(value)}")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)):
        return _from_epoch_ms(field, value)
    if isinstance(value, str):
        value = _parse_iso_datetime(field, value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        raise BookingInputError(field, f"{value.isoformat()} is a date without a time of day")
    elif not isinstance(value, datetime):
        raise BookingInputError(
            field, f"expected a datetime, an ISO 8601 string or epoch milliseconds, got {_kind(value)}"
        )
    if value.utcoffset() is None:
        value = _localise(field, value, zone)
    # Always a pendulum DateTime in pendulum's UTC: a pendulum DateTime carrying the stdlib's
    # timezone.utc silently drops its zone on ``+ timedelta``.
    return pendulum.instance(value).in_timezone("UTC")


def _from_epoch_ms(field: str, value: float) -> datetime:
    if value != int(value):
        raise BookingInputError(field, f"{value!r} is not a whole number of epoch milliseconds")
    if value < _SMALLEST_PLAUSIBLE_EPOCH_MS:
        raise BookingInputError(
            field,
            f"{int(value)} is not plausible epoch milliseconds (before 1973); seconds? multiply by 1000",
        )
    try:
        return pendulum.from_timestamp(int(value) / 1000, tz="UTC")
    except (OverflowError, OSError, ValueError):
        raise BookingInputError(field, f"{int(value)} is out of range for epoch milliseconds") from None


def _parse_iso_datetime(field: str, text: str) -> datetime:
    stripped = text.strip()
    if not stripped:
        raise BookingInputError(field, "must not be empty")
    try:
        parsed = pendulum.parse(stripped, exact=True, tz=None)
    except (ValueError, TypeError, OverflowError):
        parsed = None
    if isinstance(parsed, datetime):
        return parsed
    if isinstance(parsed, date):
        raise BookingInputError(field, f"{text!r} is a date without a time of day")
    if isinstance(parsed, time):
        raise BookingInputError(field, f"{text!r} is a time of day without a date")
    raise BookingInputError(
        field, f"cannot parse {text!r} as an ISO 8601 date and time (e.g. '2026-12-01T14:00:00Z')"
    )


def _localise(field: str, naive: datetime, zone: str | None) -> datetime:
    if zone is None:
        raise BookingInputError(
            field,
            f"{naive.isoformat()} has no UTC offset; give timezone= (e.g. 'Europe/Berlin') "
            "or an offset ('...Z', '...+01:00')",
        )
    from zoneinfo import ZoneInfo

    # A plain datetime, whatever the input type: pendulum's DateTime resolves an ambiguous wall time to
    # the later instant and the stdlib to the earlier one, so a string and a datetime would disagree.
    wall = datetime(*naive.timetuple()[:6], naive.microsecond)
    local_zone = ZoneInfo(zone)
    earlier, later = (wall.replace(tzinfo=local_zone, fold=fold) for fold in (0, 1))
    if earlier.utcoffset() == later.utcoffset():
        return earlier
    # A wall-clock time skipped by a DST change does not survive the round trip through UTC.
    if earlier.astimezone(dt_timezone.utc).astimezone(local_zone).replace(tzinfo=None) != wall:
        raise BookingInputError(
            field, f"{wall.isoformat()} does not exist in {zone} (clocks skip it for daylight saving time)"
        )
    raise BookingInputError(
        field,
        f"{wall.isoformat()} occurs twice in {zone} (clocks repeat it when daylight saving time ends): "
        f"{_utc_text(earlier)} or {_utc_text(later)}; give a UTC offset, "
        f"e.g. {earlier.isoformat(timespec='minutes')!r}",
    )


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def parse_duration(field: str, value: Any) -> int:
    """Milliseconds from an int / numeric string (HubSpot's unit), a timedelta or an ISO 8601 duration."""
    if isinstance(value, bool):
        raise BookingInputError(field, f"expected milliseconds, got {_kind(value)}")
    if isinstance(value, str):
        value = _parse_duration_text(field, value)
    if isinstance(value, timedelta):
        if isinstance(value, pendulum.Duration) and (value.years or value.months):
            raise BookingInputError(field, f"{value!r} uses years or months, which have no fixed length")
        # timedelta's own division: pendulum's Duration cannot divide by a plain timedelta.
        milliseconds = timedelta.__truediv__(value, timedelta(milliseconds=1))
    elif isinstance(value, (int, float)):
        milliseconds = value
    else:
        raise BookingInputError(
            field, f"expected milliseconds, a timedelta or an ISO 8601 duration ('PT30M'), got {_kind(value)}"
        )
    if milliseconds <= 0:
        raise BookingInputError(field, f"must be positive, got {_ms_text(milliseconds)} ms")
    if milliseconds < _MS_PER_MINUTE:
        raise BookingInputError(
            field,
            f"{_ms_text(milliseconds)} ms is less than a minute; HubSpot counts in milliseconds "
            f"(30 minutes = 1800000, or write 'PT30M')",
        )
    if milliseconds % _MS_PER_MINUTE:
        raise BookingInputError(field, f"{_ms_text(milliseconds)} ms is not a whole number of minutes")
    return int(milliseconds)


def _ms_text(milliseconds: float) -> str:
    """``1801000``, not ``1.801e+06``: a number the user can compare with what they wrote."""
    return str(int(milliseconds)) if float(milliseconds).is_integer() else repr(milliseconds)


def _parse_duration_text(field: str, text: str) -> int | timedelta:
    stripped = text.strip()
    if stripped.isdigit():
        return int(stripped)
    if stripped[:1] in ("P", "p"):
        try:
            parsed = pendulum.parse(stripped.upper(), exact=True)
        except (ValueError, TypeError, OverflowError):
            parsed = None
        if isinstance(parsed, pendulum.Duration):
            return parsed
    raise BookingInputError(
        field, f"cannot parse {text!r}: give milliseconds (1800000) or an ISO 8601 duration ('PT30M')"
    )


def parse_form_fields(field: str, value: Any) -> list[dict[str, str]]:
    """``[{"name": ..., "value": ...}]`` from that list or a plain ``{name: value}`` mapping."""
    value = _decoded(field, value)
    if isinstance(value, Mapping):
        items: Iterator[tuple[str, Any, Any]] = (
            (f"{field}[{name!r}]", name, answer) for name, answer in value.items()
        )
    elif _is_list(value):
        items = (_form_field_item(f"{field}[{index}]", item) for index, item in enumerate(value))
    else:
        raise BookingInputError(
            field, f"expected a list of {{name, value}} or a {{name: value}} mapping, got {_kind(value)}"
        )
    answers: dict[str, str] = {}
    for where, name, answer in items:
        name = parse_text(f"{where}.name", name)
        if name in answers:
            raise BookingInputError(where, f"question {name!r} is answered twice")
        answers[name] = _form_value(f"{where}.value", answer)
    return [{"name": name, "value": answer} for name, answer in answers.items()]


def _form_field_item(where: str, item: Any) -> tuple[str, Any, Any]:
    if not isinstance(item, Mapping):
        raise BookingInputError(where, f"expected {{'name': ..., 'value': ...}}, got {_kind(item)}")
    _reject_unknown_keys(where, item, ("name", "value"))
    for key in ("name", "value"):
        if item.get(key) is None:
            raise BookingInputError(f"{where}.{key}", "required but not given")
    return where, item["name"], item["value"]


def _form_value(where: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    if value is None:
        raise BookingInputError(where, "required but not given")
    raise BookingInputError(where, f"expected text, a number or a boolean, got {_kind(value)}")


_CONSENT_KEYS = {
    "communicationTypeId": "communication_type_id",
    "communication_type_id": "communication_type_id",
    "consented": "consented",
}


def parse_legal_consent_responses(field: str, value: Any) -> list[dict[str, Any]]:
    """``[{"communicationTypeId": ..., "consented": bool}]``; snake_case keys accepted."""
    value = _decoded(field, value)
    if not _is_list(value):
        raise BookingInputError(
            field, f"expected a list of {{communicationTypeId, consented}}, got {_kind(value)}"
        )
    responses: dict[str, bool] = {}
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping):
            raise BookingInputError(
                where, f"expected {{'communicationTypeId': ..., 'consented': ...}}, got {_kind(item)}"
            )
        _reject_unknown_keys(where, item, tuple(_CONSENT_KEYS))
        normalised = {_CONSENT_KEYS[key]: answer for key, answer in item.items() if answer is not None}
        if "communication_type_id" not in normalised:
            raise BookingInputError(f"{where}.communicationTypeId", "required but not given")
        type_id = _identifier(f"{where}.communicationTypeId", normalised["communication_type_id"])
        consented = normalised.get("consented")
        if not isinstance(consented, bool):
            got = "nothing" if consented is None else _kind(consented)
            raise BookingInputError(f"{where}.consented", f"expected true or false, got {got}")
        if type_id in responses:
            raise BookingInputError(where, f"communication type {type_id!r} is answered twice")
        responses[type_id] = consented
    return [{"communication_type_id": type_id, "consented": given} for type_id, given in responses.items()]


def parse_user_ids(field: str, value: Any) -> list[str]:
    """HubSpot user IDs (numbers or strings) as strings."""
    value = _decoded(field, value)
    if not _is_list(value):
        raise BookingInputError(field, f"expected a list of HubSpot user IDs, got {_kind(value)}")
    return [_identifier(f"{field}[{index}]", item) for index, item in enumerate(value)]


def _identifier(where: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise BookingInputError(where, f"expected a non-empty ID, got {_kind(value)}")


def _decoded(field: str, value: Any) -> Any:
    """Structured inputs may arrive as text when a whole Jinja expression renders them."""
    return decode_text(field, value) if isinstance(value, str) else value


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _reject_unknown_keys(where: str, item: Mapping[Any, Any], known: Sequence[str]) -> None:
    for key in item:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            raise BookingInputError(where, f"unknown key {key!r} ({hint})")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (None)"
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{type(value).__name__} {shown}"


#: Parser per field taking ``(name the value was given under, value)``; start_time also needs the zone.
_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "slug": parse_slug,
    "email": parse_email,
    "first_name": parse_text,
    "last_name": parse_text,
    "timezone": parse_timezone,
    "duration": parse_duration,
    "locale": parse_text,
    "form_fields": parse_form_fields,
    "legal_consent_responses": parse_legal_consent_responses,
    "likely_available_user_ids": parse_user_ids,
}


# --- checks against the meeting page ---------------------------------------------------------------


#: Page questions answered by the booking's top-level attributes rather than ``formFields``.
_TOP_LEVEL_QUESTIONS = frozenset({"email", "firstName", "lastName"})


def check_against_page(booking: MeetingBooking, info: BookingInfo) -> list[str]:
    """Reject what the page would refuse, quoting the page's own options.

    ``info`` is ``get_booking_info(slug, timezone)`` (durations and times in milliseconds). Returns
    notes about what could not be checked (a start beyond the availability HubSpot returned).
    """
    settings = info.custom_params
    offered = sorted(settings.durations)
    if booking.duration not in offered:
        raise BookingInputError(
            "duration",
            f"{_minutes(booking.duration)} is not offered by page {booking.slug!r}; "
            f"it offers {', '.join(_minutes(ms) for ms in offered)}",
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
        f"{when} is not an available {_minutes(booking.duration)} slot on page {booking.slug!r}; "
        f"nearest available: {options}",
    )


def format_in_zone(epoch_ms: int, zone: str | None) -> str:
    """ISO 8601 in ``zone`` (else UTC), as people reading a message think of the time."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=dt_timezone.utc)
    return moment.astimezone(pendulum.timezone(zone)).isoformat() if zone else moment.isoformat()


def _minutes(milliseconds: int) -> str:
    return f"{milliseconds // _MS_PER_MINUTE} min ({milliseconds} ms)"
