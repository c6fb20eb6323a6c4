"""Time fields: IANA zones, instants (aware/naive datetimes, ISO 8601, epoch ms) and durations."""

from __future__ import annotations

import difflib
import math
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from functools import cache
from typing import Any

import pendulum

from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.fields._common import check_length, kind, quote
from hubspot_scheduler_provider.fields.text import parse_text
from hubspot_scheduler_provider.input_limits import (
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    MAX_DURATION_MS,
    MAX_TIME_TEXT_LENGTH,
    MAX_TIMEZONE_LENGTH,
)
from hubspot_scheduler_provider.units import MS_PER_MINUTE

_EARLIEST_MS = int(EARLIEST_INSTANT.timestamp() * 1000)
_LATEST_MS = int(LATEST_INSTANT.timestamp() * 1000)
_RANGE_TEXT = f"between {EARLIEST_INSTANT:%Y-%m-%d} and {LATEST_INSTANT:%Y-%m-%d}"


@cache
def _known_zones() -> dict[str, str]:
    """Place zones of the zone database (``Europe/Berlin``) plus ``UTC``/``GMT``, by lower-case name.

    Not the database's other entries: directories (``Europe``), ``posix/...`` and ``right/...`` copies,
    ``localtime``, ``Factory``, and fixed-offset abbreviations (``EST``).
    """
    import zoneinfo

    return {
        zone.lower(): zone
        for zone in zoneinfo.available_timezones()
        if ("/" in zone and not zone.startswith(("posix/", "right/"))) or zone in ("UTC", "GMT")
    }


def parse_timezone(field: str, value: Any) -> str:
    """An IANA time zone name such as ``Europe/Berlin`` (what HubSpot expects), known to the zone database."""
    name = parse_text(field, value, max_length=MAX_TIMEZONE_LENGTH)
    if _known_zones().get(name.lower()) == name:
        try:
            pendulum.timezone(name)
        except (ValueError, LookupError, OSError):
            pass
        else:
            return name
    raise BookingInputError(field, f"unknown time zone {quote(name)}{_zone_suggestion(name)}")


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
    abbreviation_zone = _ZONE_FOR_ABBREVIATION.get(name.upper())
    if abbreviation_zone is not None:
        return (
            f"; {name!r} is an abbreviation, not a place's zone (it ignores daylight saving time); "
            f"use an IANA name such as {abbreviation_zone!r}"
        )
    zones = _known_zones()  # only names parse_timezone accepts: suggesting 'EST' would be refused again
    close = difflib.get_close_matches(name.lower(), zones, n=1, cutoff=0.6)
    hint = f"did you mean {zones[close[0]]!r}? " if close else ""
    return f"; {hint}Use an IANA name such as 'Europe/Berlin' or 'UTC'"


def parse_start_time(field: str, value: Any, zone: str | None) -> datetime:
    """An aware UTC datetime from an aware/naive datetime, an ISO 8601 string or epoch milliseconds.

    Naive values are wall-clock time in ``zone``. Instants outside ``EARLIEST_INSTANT`` ..
    ``LATEST_INSTANT`` are refused.
    """
    if isinstance(value, bool):
        raise BookingInputError(field, f"expected a date and time, got {kind(value)}")
    if isinstance(value, str):
        check_length(field, value.strip(), MAX_TIME_TEXT_LENGTH)
        if value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip())
    if isinstance(value, (int, float)):
        return _from_epoch_ms(field, value)
    if isinstance(value, str):
        value = _parse_iso_datetime(field, value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        raise BookingInputError(field, f"{value.isoformat()} is a date without a time of day")
    elif not isinstance(value, datetime):
        raise BookingInputError(
            field, f"expected a datetime, an ISO 8601 string or epoch milliseconds, got {kind(value)}"
        )
    # A year check first: near datetime.min/max, converting between zones itself overflows.
    if not EARLIEST_INSTANT.year <= value.year <= LATEST_INSTANT.year:
        raise BookingInputError(field, f"{value.isoformat()} is out of range; give a time {_RANGE_TEXT}")
    if value.utcoffset() is None:
        value = _localise(field, value, zone)
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise BookingInputError(field, f"{value.isoformat()} is out of range; give a time {_RANGE_TEXT}")
    # Always a pendulum DateTime in pendulum's UTC: a pendulum DateTime carrying the stdlib's
    # timezone.utc silently drops its zone on ``+ timedelta``.
    return pendulum.instance(value).in_timezone("UTC")


def _from_epoch_ms(field: str, value: float) -> datetime:
    if not _finite(value):
        raise BookingInputError(field, f"{value!r} is not a time (epoch milliseconds must be finite)")
    if value != int(value):
        raise BookingInputError(field, f"{value!r} is not a whole number of epoch milliseconds")
    if value < _EARLIEST_MS:
        raise BookingInputError(
            field,
            f"{_ms_text(value)} is not plausible epoch milliseconds (before 1973); seconds? multiply by 1000",
        )
    if value >= _LATEST_MS:
        raise BookingInputError(
            field, f"{_ms_text(value)} is out of range for epoch milliseconds ({_RANGE_TEXT})"
        )
    return pendulum.from_timestamp(int(value) / 1000, tz="UTC")


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
        raise BookingInputError(field, f"{quote(text)} is a date without a time of day")
    if isinstance(parsed, time):
        raise BookingInputError(field, f"{quote(text)} is a time of day without a date")
    raise BookingInputError(
        field, f"cannot parse {quote(text)} as an ISO 8601 date and time (e.g. '2026-12-01T14:00:00Z')"
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


def format_in_zone(epoch_ms: int, zone: str | None) -> str:
    """ISO 8601 in ``zone`` (else UTC), as people reading a message think of the time."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=dt_timezone.utc)
    return moment.astimezone(pendulum.timezone(zone)).isoformat() if zone else moment.isoformat()


def parse_duration(field: str, value: Any) -> int:
    """Milliseconds from an int / numeric string (HubSpot's unit), a timedelta or an ISO 8601 duration."""
    if isinstance(value, bool):
        raise BookingInputError(field, f"expected milliseconds, got {kind(value)}")
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
            field, f"expected milliseconds, a timedelta or an ISO 8601 duration ('PT30M'), got {kind(value)}"
        )
    if not _finite(milliseconds):
        raise BookingInputError(field, f"{milliseconds!r} is not a duration (milliseconds must be finite)")
    if milliseconds <= 0:
        raise BookingInputError(field, f"must be positive, got {_ms_text(milliseconds)} ms")
    if milliseconds < MS_PER_MINUTE:
        raise BookingInputError(
            field,
            f"{_ms_text(milliseconds)} ms is less than a minute; HubSpot counts in milliseconds "
            f"(30 minutes = 1800000, or write 'PT30M')",
        )
    if milliseconds > MAX_DURATION_MS:
        raise BookingInputError(
            field, f"{_ms_text(milliseconds)} ms is longer than the {MAX_DURATION_MS} ms (a week) allowed"
        )
    if milliseconds % MS_PER_MINUTE:
        raise BookingInputError(field, f"{_ms_text(milliseconds)} ms is not a whole number of minutes")
    return int(milliseconds)


def _ms_text(milliseconds: float) -> str:
    """``1801000``, not ``1.801e+06``: a number the user can compare with what they wrote."""
    if isinstance(milliseconds, int) and abs(milliseconds) >= 10**30:
        # Not str(): CPython refuses to print ints of more than 4300 digits.
        return f"a {int(milliseconds.bit_length() * math.log10(2)) + 1}-digit number"
    if abs(milliseconds) >= 10**30:
        return f"{milliseconds:.3g}"
    return str(int(milliseconds)) if float(milliseconds).is_integer() else repr(milliseconds)


def _finite(number: float) -> bool:
    """Not NaN or infinite; any int is (``math.isfinite`` cannot even convert a huge one)."""
    return isinstance(number, int) or math.isfinite(number)


def _parse_duration_text(field: str, text: str) -> int | timedelta:
    stripped = text.strip()
    check_length(field, stripped, MAX_TIME_TEXT_LENGTH)
    if stripped.isascii() and stripped.isdigit():
        return int(stripped)
    if stripped[:1] in ("P", "p"):
        try:
            parsed = pendulum.parse(stripped.upper(), exact=True)
        except (ValueError, TypeError, OverflowError):
            parsed = None
        if isinstance(parsed, pendulum.Duration):
            return parsed
    raise BookingInputError(
        field, f"cannot parse {quote(text)}: give milliseconds (1800000) or an ISO 8601 duration ('PT30M')"
    )
