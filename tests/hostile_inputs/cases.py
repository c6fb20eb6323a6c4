"""The hostile inputs, one row each: what is given, to which entry point, and which field must be named.

Rows are grouped by category (the issue's list and more). Each row changes one thing of a valid call,
so the refusal can only come from that thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from hubspot_scheduler_provider.booking_fields import BOOKING_FIELDS
from tests.operators.conftest import BOOKER

MB = 1_000_000
#: A valid booking under HubSpot's names, and as keywords of ``BookMeetingOperator``.
PAYLOAD = BOOKER
BOOKING = {field.keyword: PAYLOAD[field.wire] for field in BOOKING_FIELDS if field.wire in PAYLOAD}
#: A valid ``CreateCalendarMeetingOperator`` call.
CALENDAR = {
    "organizer_user_id": 1001,
    "owner_id": 501,
    "title": "Intro call",
    "start_time": "2026-12-02T14:00:00Z",
    "duration": 1800000,
    "timezone": "UTC",
}
#: A valid ``MeetingSlotAvailableSensor`` call.
SENSOR = {"slug": "alice-smith", "duration": 1800000, "timezone": "UTC"}


@dataclass(frozen=True)
class Case:
    category: str
    #: ``book``, ``calendar``, ``sensor`` (their ``execute``), or ``hook:<method>``.
    target: str
    kwargs: dict[str, Any]
    #: The message and ``BookingInputError.field`` must start with this.
    field: str
    #: Filled in by the lead's booking operators later (``parse_switch``): expected to fail until then.
    pending: str | None = None
    label: str = field(default="")
    #: Set after construction, as Airflow sets a rendered template field: Airflow's own constructor
    #: walks nested arguments recursively (for XComArgs), so a DAG file cannot even build these.
    rendered: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.category}: {self.field} {self.label}"


def _deep(depth: int) -> Any:
    value: Any = {"name": "company", "value": "Acme"}
    for level in range(depth):
        value = [value] if level % 2 else {"name": "x", "value": value}
    return value


def _cyclic_list() -> list[Any]:
    loop: list[Any] = [{"name": "a", "value": "b"}]
    loop.append(loop)
    return loop


def _cyclic_payload() -> dict[str, Any]:
    payload: dict[str, Any] = dict(PAYLOAD)
    payload["formFields"] = [payload]
    return payload


def book(category: str, field: str, label: str = "", pending: str | None = None, **changes: Any) -> Case:
    return Case(category, "book", {**BOOKING, **changes}, field, pending, label, _unbuildable(changes))


def payload(category: str, field: str, value: Any, label: str = "") -> Case:
    return Case(category, "book", {"payload": value}, field, None, label, _unbuildable({"payload": value}))


def _unbuildable(changes: dict[str, Any]) -> tuple[str, ...]:
    """Arguments too deep (or cyclic) for Airflow's constructor: given as rendered values instead."""
    return tuple(name for name, value in changes.items() if _depth(value) > 100)


def _depth(value: Any, seen: frozenset[int] = frozenset()) -> int:
    if id(value) in seen or len(seen) > 100:
        return 1000
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return 1 + max((_depth(item, seen | {id(value)}) for item in value), default=0)
    return 0


def calendar(category: str, field: str, label: str = "", **changes: Any) -> Case:
    return Case(category, "calendar", {**CALENDAR, **changes}, field, None, label)


def sensor(category: str, field: str, label: str = "", **changes: Any) -> Case:
    return Case(category, "sensor", {**SENSOR, **changes}, field, None, label)


def hook(method: str, field: str, label: str, **kwargs: Any) -> Case:
    return Case("hook arguments", f"hook:{method}", kwargs, field, None, label)


EMAIL = "email"
EMAILS = [
    ("NUL byte", "jane\x00@example.com"),
    ("leading NUL", "\x00jane@example.com"),
    ("angle brackets", "<jane.doe@example.com>"),
    ("display name", "Jane <jane.doe@example.com>"),
    ("two addresses ;", "jane@example.com;bob@example.com"),
    ("semicolon in local part", "jane;bob@example.com"),
    ("two addresses ,", "jane@example.com,bob@example.com"),
    ("comma in local part", "jane,doe@example.com"),
    ("quoted local part", '"jane"@example.com'),
    ("quoted with space", '"jane doe"@example.com'),
    ("stray quote", 'jane"@example.com'),
    ("zero-width space", "jane\u200b@example.com"),
    ("zero-width space in domain", "jane@exa\u200bmple.com"),
    ("byte order mark", "\ufeffjane@example.com"),
    ("word joiner", "jane\u2060@example.com"),
    ("bidi override", "jane\u202e@example.com"),
    ("right-to-left mark", "jane\u200f@example.com"),
    ("Cyrillic homoglyph", "j\u0430ne@example.com"),
    ("Cyrillic homoglyph in domain", "jane@ex\u0430mple.com"),
    ("Greek omicron in TLD", "jane@example.c\u03bfm"),
    ("IDN domain not in punycode", "jane@b\u00fccher.example"),
    ("1 MB local part", "j" * MB + "@example.com"),
    ("65-character local part", "j" * 65 + "@example.com"),
    ("255 characters", "j" * 60 + "@" + ("a" * 60 + ".") * 3 + "a" * 12 + ".com"),
    ("64-character label", "jane@" + "a" * 64 + ".com"),
    ("IP literal", "jane@[127.0.0.1]"),
    ("localhost", "jane@localhost"),
    ("special-use .test", "jane@example.test"),
    ("no TLD", "jane@example"),
    ("double dot", "jane..doe@example.com"),
    ("leading dot", ".jane@example.com"),
    ("header injection", "jane@example.com\nBcc: evil@example.com"),
    ("carriage return", "jane\r@example.com"),
    ("space", "jane doe@example.com"),
    ("comment", "jane(comment)@example.com"),
    ("backslash", "jane\\@example.com"),
    ("no local part", "@example.com"),
    ("two @", "jane@@example.com"),
    ("hyphen label", "jane@-example.com"),
]
NAMES = [
    ("NUL byte", "Ja\x00ne"),
    ("1 MB", "J" * MB),
    ("257 characters", "J" * 257),
    ("zero-width space", "Ja\u200bne"),
    ("bidi override", "\u202eeoD"),
    ("newline", "Jane\nBcc: evil@example.com"),
    ("tab", "Jane\tDoe"),
    ("escape", "Jane\x1b[31m"),
    ("DEL", "Jane\x7f"),
    ("line separator", "Jane\u2028Doe"),
    ("lone surrogate", "Jane\ud800"),
    ("a number", 42),
    ("a list", ["Jane"]),
]
LOCALES = [
    ("1 MB", "e" * MB),
    ("36 characters", "en-" + "a" * 33),
    ("space", "en us"),
    ("NUL", "en-us\x00"),
    ("path", "../../etc"),
    ("markup", "<script>"),
    ("one letter", "e"),
    ("zero-width", "en-\u200bus"),
    ("a number", 42),
]
SLUGS = [
    ("dot-dot path", "../oauth/v1/token"),
    ("dot-dot inside", "alice/../../oauth"),
    ("percent-encoded", "alice%2F.."),
    ("query", "alice?x=1"),
    ("fragment", "alice#x"),
    ("1 MB", "a" * MB),
    ("257 characters", "a" * 257),
    ("NUL", "alice\x00"),
    ("zero-width", "alice\u200b"),
    ("markup", "ali<ce>"),
    ("dot segment", "./alice"),
]
ZONES = [
    ("directory Europe", "Europe"),
    ("directory America", "America"),
    ("trailing slash", "Europe/"),
    ("300-character zone", "Europe/" + "x" * 300),
    ("300 characters", "x" * 300),
    ("posix copy", "posix/Europe/Berlin"),
    ("right copy", "right/Europe/Berlin"),
    ("localtime", "localtime"),
    ("Factory", "Factory"),
    ("path traversal", "../../etc/passwd"),
    ("absolute path", "/etc/localtime"),
    ("NUL", "Europe/Berlin\x00"),
    ("wrong case", "europe/berlin"),
    ("abbreviation", "EST"),
    ("dot-dot", "Etc/../Europe/Berlin"),
    ("zero-width", "UTC\u200b"),
    ("a number", 42),
]
START_TIMES = [
    ("NaN", math.nan),
    ("infinity", math.inf),
    ("minus infinity", -math.inf),
    ("text NaN", "NaN"),
    ("text Infinity", "Infinity"),
    ("1e308", 1e308),
    ("5000-digit int", 10**5000),
    ("5000 digits as text", "9" * 5000),
    ("2**63 ms", 2**63),
    ("-2**63 ms", -(2**63)),
    ("datetime.max", datetime.max),
    ("datetime.min", datetime.min),
    ("aware datetime.max", datetime.max.replace(tzinfo=timezone.utc)),
    ("near max, west offset", "9999-12-31T23:59:59-12:00"),
    ("near min, east offset", "0001-01-01T00:00:00+14:00"),
    ("year 2201", "2201-01-01T00:00:00Z"),
    ("year 1960", "1960-01-01T00:00:00Z"),
    ("Arabic-Indic digits", "\u0661\u0667\u0669\u0666\u0662\u0662\u0660\u0660\u0660\u0660\u0660\u0660\u0660"),
    ("NUL", "2026-12-02T14:00:00Z\x00"),
    ("1 MB", "2" * MB),
    ("date.max", date.max),
    ("a timedelta", timedelta(days=1)),
]
DURATIONS = [
    ("NaN", math.nan),
    ("infinity", math.inf),
    ("minus infinity", -math.inf),
    ("5000-digit int", 10**5000),
    ("negative 5000-digit int", -(10**5000)),
    ("1e308", 1e308),
    ("5000 digits as text", "9" * 5000),
    ("huge ISO duration", "P99999999999D"),
    ("timedelta.max", timedelta.max),
    ("text NaN", "NaN"),
    ("eight days", 8 * 24 * 3600 * 1000),
    ("NUL", "PT30M\x00"),
    ("a list", [1800000]),
    ("1 MB", "P" * MB),
    ("Arabic-Indic digits", "\u0661\u0668\u0660\u0660\u0660\u0660\u0660"),
]
TEN_THOUSAND = [{"name": f"q{i}", "value": "x"} for i in range(10_000)]
FORM_FIELDS = [
    ("form_fields", "10,000 fields", TEN_THOUSAND),
    ("form_fields", "10,000 fields as a mapping", {f"q{i}": "x" for i in range(10_000)}),
    ("form_fields", "101 fields", TEN_THOUSAND[:101]),
    ("form_fields[0].value", "1 MB value", [{"name": "company", "value": "A" * MB}]),
    ("form_fields[0].value", "65,537-character value", [{"name": "company", "value": "A" * 65_537}]),
    ("form_fields[0].value", "NUL in value", [{"name": "company", "value": "Ac\x00me"}]),
    ("form_fields[0].value", "zero-width in value", [{"name": "company", "value": "Ac\u200bme"}]),
    ("form_fields[0].value", "bidi in value", [{"name": "company", "value": "\u202eemcA"}]),
    ("form_fields[0].name", "NUL in name", [{"name": "com\x00pany", "value": "Acme"}]),
    ("form_fields[0].name", "1 MB name", [{"name": "c" * MB, "value": "Acme"}]),
    ("form_fields[0].value", "NaN value", [{"name": "size", "value": math.nan}]),
    ("form_fields[0].value", "infinite value", [{"name": "size", "value": math.inf}]),
    ("form_fields[0].value", "5000-digit value", [{"name": "size", "value": 10**5000}]),
    ("form_fields", "12 levels deep", [_deep(12)]),
    ("form_fields", "3000 levels deep", [_deep(3000)]),
    ("form_fields", "100,000 brackets as text", "[" * 100_000),
    ("form_fields", "300 KB of JSON text", '[{"name": "a", "value": "' + "x" * 300_000 + '"}]'),
    ("form_fields", "a cycle", _cyclic_list()),
    ("form_fields[0].value", "value is a dict", [{"name": "company", "value": {"a": 1}}]),
    ("form_fields[0].name", "name is a number", [{"name": 7, "value": "x"}]),
]
CONSENTS = [
    (
        "legal_consent_responses",
        "51 answers",
        [{"communicationTypeId": str(i), "consented": True} for i in range(1, 52)],
    ),
    (
        "legal_consent_responses[0].communicationTypeId",
        "1 MB id",
        [{"communicationTypeId": "4" * MB, "consented": True}],
    ),
    (
        "legal_consent_responses[0].communicationTypeId",
        "NUL in id",
        [{"communicationTypeId": "4711\x00", "consented": True}],
    ),
    (
        "legal_consent_responses[0].communicationTypeId",
        "negative id",
        [{"communicationTypeId": -1, "consented": True}],
    ),
    (
        "legal_consent_responses[0].communicationTypeId",
        "2**70",
        [{"communicationTypeId": 2**70, "consented": True}],
    ),
    (
        "legal_consent_responses[0].consented",
        '"false" as text',
        [{"communicationTypeId": "4711", "consented": "false"}],
    ),
    ("legal_consent_responses[0].consented", "1", [{"communicationTypeId": "4711", "consented": 1}]),
    ("legal_consent_responses", "12 levels deep", [_deep(12)]),
]
USER_IDS = [
    ("likely_available_user_ids", "101 ids", [str(1000 + i) for i in range(101)]),
    ("likely_available_user_ids[0]", "1 MB id", ["1" * MB]),
    ("likely_available_user_ids[0]", "NUL", ["1001\x00"]),
    ("likely_available_user_ids[0]", "letters", ["abc"]),
    ("likely_available_user_ids[0]", "negative", [-5]),
    ("likely_available_user_ids[0]", "2**64", [2**64]),
    # Found by Hypothesis: its message once str()-ed the int, which Python refuses past 4,300 digits.
    ("likely_available_user_ids[0]", "-10**5000", [-(10**5000)]),
    ("likely_available_user_ids", "nested 12 deep", [_deep(12)]),
    ("likely_available_user_ids[0]", "float", [1001.0]),
    ("likely_available_user_ids[0]", "zero-width", ["10\u200b01"]),
]
PAYLOADS = [
    ("payload", "dict 12 levels deep", {**PAYLOAD, "formFields": [_deep(12)]}),
    ("payload", "JSON 5000 levels deep", '{"a": ' * 5000 + "1" + "}" * 5000),
    ("payload", "100,000 brackets", "[" * 100_000),
    ("payload", "5000 braces", "{" * 5000),
    ("formFields", "a cycle", _cyclic_payload()),
    ("payload", "300 KB JSON text", '{"slug": "' + "a" * 300_000 + '"}'),
    ("payload", "1 MB key", {**PAYLOAD, "k" * MB: 1}),
    ("payload", "10,000 unknown keys", {**PAYLOAD, **{f"k{i}": i for i in range(10_000)}}),
    ("payload", "non-text key", {**PAYLOAD, 1: 2}),
    (
        "startTime",
        "JSON NaN",
        '{"slug": "alice-smith", "email": "jane.doe@example.com", "firstName": "J", '
        '"lastName": "D", "duration": 1800000, "startTime": NaN}',
    ),
    (
        "duration",
        "JSON Infinity",
        '{"slug": "alice-smith", "email": "jane.doe@example.com", "firstName": "J", '
        '"lastName": "D", "startTime": "2026-12-02T14:00:00Z", "duration": Infinity}',
    ),
    ("payload", "bytes", b'{"slug": "alice-smith"}'),
    ("email", "homoglyph under the payload key", {**PAYLOAD, "email": "j\u0430ne@example.com"}),
    ("payload", "NUL in JSON text", '{"slug": "alice-smith"\x00}'),
]
SWITCHES = [
    ("allow_offline", '"off"', {"allow_offline": "off"}),
    ("allow_offline", '"no"', {"allow_offline": "no"}),
    ("allow_resend", '"0"', {"allow_resend": "0"}),
    ("validate_against_page", '"yes"', {"validate_against_page": "yes"}),
]


CASES: list[Case] = [
    *(book(EMAIL, "contact_email", label, contact_email=value) for label, value in EMAILS),
    book(EMAIL, "contact_email", "a number", contact_email=42),
    book(EMAIL, "contact_email", "a list", contact_email=["jane.doe@example.com"]),
    *(book("names", "first_name", label, first_name=value) for label, value in NAMES),
    *(book("names", "last_name", label, last_name=value) for label, value in NAMES[:4]),
    *(book("locale", "locale", label, locale=value) for label, value in LOCALES),
    *(book("slug", "slug", label, slug=value) for label, value in SLUGS),
    *(book("timezone", "timezone", label, timezone=value) for label, value in ZONES),
    *(book("start time", "start_time", label, start_time=value) for label, value in START_TIMES),
    book(
        "start time",
        "start_time",
        "naive near max",
        start_time="9999-12-31T23:59:59",
        timezone="Pacific/Kiritimati",
    ),
    *(book("duration", "duration", label, duration=value) for label, value in DURATIONS),
    *(book("form fields", where, label, form_fields=value) for where, label, value in FORM_FIELDS),
    *(book("consents", where, label, legal_consent_responses=value) for where, label, value in CONSENTS),
    *(book("user ids", where, label, likely_available_user_ids=value) for where, label, value in USER_IDS),
    *(payload("payload and nesting", where, value, label) for where, label, value in PAYLOADS),
    *(book("switches", name, label, **changes) for name, label, changes in SWITCHES),
    calendar(
        "switches", "include_description_in_reminders", '"nope"', include_description_in_reminders="nope"
    ),
    calendar("switches", "include_description_in_reminders", "1", include_description_in_reminders=1),
    calendar(
        "switches", "include_description_in_reminders", "empty text", include_description_in_reminders=""
    ),
    calendar("switches", "include_description_in_reminders", "None", include_description_in_reminders=None),
    sensor("switches", "deferrable", '"maybe"', deferrable="maybe"),
    sensor("switches", "deferrable", "0", deferrable=0),
    calendar("calendar meeting", "title", "NUL", title="Intro\x00"),
    calendar("calendar meeting", "title", "1 MB", title="T" * MB),
    calendar("calendar meeting", "timezone", "directory Europe", timezone="Europe"),
    calendar("calendar meeting", "timezone", "300-character zone", timezone="Europe/" + "x" * 300),
    calendar("calendar meeting", "start_time", "NaN", start_time=math.nan),
    calendar("calendar meeting", "start_time", "datetime.max", start_time=datetime.max),
    calendar("calendar meeting", "duration", "infinity", duration=math.inf),
    calendar("calendar meeting", "end_time", "near max", duration=None, end_time="9999-12-31T23:59:59Z"),
    calendar("calendar meeting", "contact_ids", "101 ids", contact_ids=[str(i + 1) for i in range(101)]),
    calendar("calendar meeting", "contact_ids[0]", "NUL", contact_ids=["7\x00"]),
    calendar("calendar meeting", "owner_id", "letters", owner_id="abc"),
    calendar("calendar meeting", "body", "1 MB", body="b" * MB),
    calendar("calendar meeting", "internal_notes", "NUL", internal_notes="note\x00"),
    calendar("calendar meeting", "location", "zero-width", location="Room\u200b1"),
    calendar("calendar meeting", "reminders", "12 levels deep", reminders=[_deep(12)]),
    sensor("slot sensor", "slug", "dot-dot path", slug="../oauth/v1/token"),
    sensor("slot sensor", "timezone", "directory Europe", timezone="Europe"),
    sensor("slot sensor", "timezone", "300-character zone", timezone="Europe/" + "x" * 300),
    sensor("slot sensor", "duration", "NaN", duration=math.nan),
    sensor("slot sensor", "earliest", "datetime.max", earliest=datetime.max),
    sensor("slot sensor", "latest", "infinity", latest=math.inf),
    hook("get_booking_info", "slug", "NUL in slug", slug="alice\x00", timezone="UTC"),
    hook("get_booking_info", "slug", "1 MB slug", slug="a" * MB, timezone="UTC"),
    hook("get_booking_info", "timezone", "1 MB zone", slug="alice-smith", timezone="E" * MB),
    hook("get_availability", "timezone", "zero-width zone", slug="alice-smith", timezone="UTC\u200b"),
]
