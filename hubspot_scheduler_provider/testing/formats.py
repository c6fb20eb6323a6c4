"""What the sandbox accepts as a date-time, a time zone and an integer. A test double, not HubSpot.

HubSpot's API is written in Java; the specs say only ``format: date-time`` / ``int32`` / ``int64`` and
"IANA time zone". Where they are silent, the sandbox decides as follows (one home for each choice):

* **Date-times** (``startTime``, ``hs_meeting_*_time``, ``hs_timestamp``, every ``date-time`` of a spec,
  requests and answers alike) are the ISO 8601 forms of Java's ``DateTimeFormatter.ISO_OFFSET_DATE_TIME``
  (what Jackson's ``OffsetDateTime``/``Instant`` parsing takes): ``YYYY-MM-DDTHH:MM[:SS[.f{1,9}]]``
  followed by ``Z`` or an offset ``+HH``, ``+HH:MM`` or ``+HH:MM:SS`` (at most 18 hours); ``T`` and ``Z``
  in either case, as Java parses case-insensitively. Refused: no offset (a local time is ambiguous),
  week dates (``2026-W49-3``), ordinal dates (``2026-335``), the basic format (``20261201T140000Z``),
  a space instead of ``T``, leap seconds (``:60``), out-of-range fields (``12:99``), more than nine
  fraction digits, and years with a sign or more than four digits. The instant, in UTC, must fall in
  the years 1 to 9999 (Python's range; Java's is wider, but no meeting lives outside it), so
  ``0001-01-01T00:00:00+01:00`` (year 0 in UTC) is a 400, not a crash.
* **Time zones** are IANA region names as the tz database lists them (``Europe/Berlin``, ``UTC``,
  ``Etc/GMT+5``), which is what Java's ``ZoneId.of`` accepts from its tz data. Refused: directories of
  the zone database (``Europe``, ``America``), the system's aliases and variants that are files but not
  zones HubSpot knows (``localtime``, ``Factory``, ``posixrules``, ``posix/...``, ``right/...``), bare
  offsets (``+02:00``) and anything longer than 64 characters.
* **Integers** of ``format: int32``/``int64`` must fit 32/64 signed bits, in queries and bodies; a query
  integer is an optional sign and decimal digits (Java's ``Integer.parseInt``), nothing else.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from hubspot_scheduler_provider.testing.api_errors import ApiError, validation_error

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
INTEGER_RANGES = {"int32": INT32, "int64": INT64}
MAX_ZONE_LENGTH = 64

_DATE_TIME = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<off_h>\d{2})(?::(?P<off_m>\d{2})(?::(?P<off_s>\d{2}))?)?)",
    re.ASCII,
)
_QUERY_INTEGER = re.compile(r"[+-]?\d{1,20}", re.ASCII)
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
_MAX_OFFSET_SECONDS = 18 * 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_instant(raw: Any) -> int | None:
    """Epoch milliseconds of ``raw`` if it is a date-time HubSpot's Java parser takes, else None."""
    if not isinstance(raw, str):
        return None
    found = _DATE_TIME.fullmatch(raw)
    if found is None:
        return None
    part = {name: int(value) for name, value in found.groupdict().items() if value and value.isdigit()}
    offset = 0
    if found["sign"]:
        if part.get("off_m", 0) > 59 or part.get("off_s", 0) > 59:
            return None
        offset = part["off_h"] * 3600 + part.get("off_m", 0) * 60 + part.get("off_s", 0)
        if offset > _MAX_OFFSET_SECONDS:
            return None
        offset = -offset if found["sign"] == "-" else offset
    micros = int((found["fraction"] or "0").ljust(9, "0")[:6])
    try:
        local = datetime(
            part["year"],
            part["month"],
            part["day"],
            part["hour"],
            part["minute"],
            part.get("second", 0),
            micros,
            tzinfo=timezone.utc,
        )
        utc = local - timedelta(seconds=offset)
    except (ValueError, OverflowError):
        return None  # field out of range (month 13, 12:99, leap second), or an instant beyond year 9999/1
    if utc.year < 1 or part["year"] < 1:
        return None
    return (utc - _EPOCH) // timedelta(milliseconds=1)


def instant(raw: Any, field: str, *, sub_category: str | None = None) -> int:
    """``parse_instant`` or a 400 naming ``field``."""
    millis = parse_instant(raw)
    if millis is None:
        raise validation_error(
            f"{field}: {raw!r} is not an ISO 8601 date-time with an offset "
            "(e.g. 2026-12-01T14:00:00Z or 2026-12-01T15:00:00+01:00) within the years 1 to 9999",
            sub_category=sub_category,
            errors=[{"message": "invalid date-time", "in": field, "code": "INVALID_DATE_TIME"}],
        )
    return millis


@cache
def known_zones() -> frozenset[str]:
    """IANA zone names of the tz database (read once: listing them walks the zone files)."""
    from zoneinfo import available_timezones

    return frozenset(
        name
        for name in available_timezones()
        if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))
    )


def is_zone(name: Any) -> bool:
    return isinstance(name, str) and len(name) <= MAX_ZONE_LENGTH and name in known_zones()


def zone(name: Any, field: str) -> str:
    """``name`` if it is an IANA zone name, else a 400 naming ``field``."""
    if not is_zone(name):
        shown = name[:MAX_ZONE_LENGTH] + "..." if isinstance(name, str) and len(name) > 64 else name
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            f"{field}: {shown!r} is not a valid time zone id (use an IANA name such as Europe/Berlin)",
            errors=[{"message": "invalid time zone id", "in": field, "code": "INVALID_TIMEZONE"}],
        )
    return str(name)


def in_range(value: Any, fmt: str) -> bool:
    """Whether integer ``value`` fits ``fmt`` (``int32``/``int64``); other formats and types pass."""
    bounds = INTEGER_RANGES.get(fmt)
    if bounds is None or isinstance(value, bool) or not isinstance(value, int):
        return True
    return bounds[0] <= value <= bounds[1]


def query_integer(text: str) -> int | None:
    """A query parameter's integer as Java parses it (sign and digits only), else None."""
    return int(text) if _QUERY_INTEGER.fullmatch(text) else None


def format_checker() -> Any:
    """A jsonschema format checker asserting the formats the specs use, with the rules above."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    checker.checks("date-time")(lambda value: not isinstance(value, str) or parse_instant(value) is not None)
    for name in INTEGER_RANGES:
        checker.checks(name)(lambda value, fmt=name: in_range(value, fmt))
    checker.checks("uuid")(_is_uuid)
    return checker


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
