"""``booking_input`` and ``fields``: every accepted spelling of a booking becomes the same
``MeetingBooking``; the documented rules for switches, non-ASCII emails and zones hold.

Pure functions, no HTTP; what reaches HubSpot is checked end to end in ``test_book_meeting_dag.py``,
and bad input in ``test_bad_input.py``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pendulum
import pytest

from hubspot_scheduler_provider.booking_fields import BOOKING_KEYWORDS
from hubspot_scheduler_provider.booking_input import build_booking, collect_booking_input, normalise_booking
from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.fields import (
    parse_duration,
    parse_email,
    parse_start_time,
    parse_switch,
    parse_timezone,
)

if TYPE_CHECKING:
    from hubspot_scheduler_provider.models import MeetingBooking

START_UTC = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)  # 09:00 in New York
CAMEL = {
    "slug": "alice-smith",
    "email": "jane.doe@example.com",
    "firstName": "Jane",
    "lastName": "Doe",
    "startTime": "2026-12-01T14:00:00Z",
    "duration": 1800000,
}
SNAKE = {
    "slug": "alice-smith",
    "email": "jane.doe@example.com",
    "first_name": "Jane",
    "last_name": "Doe",
    "start_time": "2026-12-01T14:00:00Z",
    "duration": 1800000,
}
EXPECTED_WIRE = {
    "slug": "alice-smith",
    "email": "jane.doe@example.com",
    "firstName": "Jane",
    "lastName": "Doe",
    "startTime": "2026-12-01T14:00:00Z",
    "duration": 1800000,
    "formFields": [],
    "legalConsentResponses": [],
    "likelyAvailableUserIds": [],
}


def wire(booking: MeetingBooking) -> dict:
    return booking.to_wire("2026-09")


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(CAMEL, id="camelCase"),
        pytest.param(SNAKE, id="snake_case"),
        pytest.param(json.dumps(CAMEL), id="JSON string"),
        pytest.param(str(SNAKE), id="Python repr (Jinja without native rendering)"),
        pytest.param({**SNAKE, "contact_email": SNAKE["email"], "email": None}, id="contact_email key"),
        pytest.param({**CAMEL, "locale": None, "timezone": None}, id="JSON nulls are 'not given'"),
    ],
)
def test_payload_spellings_give_the_same_booking(payload):
    assert wire(build_booking(payload)) == EXPECTED_WIRE


def test_keywords_alone_need_no_payload():
    keywords = {
        "slug": "alice-smith",
        "contact_email": "jane.doe@example.com",
        "first_name": "Jane",
        "last_name": "Doe",
        "start_time": START_UTC,
        "duration": 1800000,
    }
    assert wire(build_booking(None, keywords)) == EXPECTED_WIRE


def test_keywords_override_payload_and_none_means_not_given():
    booking = build_booking(CAMEL, {"slug": "sales-team/round-robin", "first_name": None, "duration": "PT1H"})
    assert (booking.slug, booking.first_name, booking.duration) == ("sales-team/round-robin", "Jane", 3600000)


def test_meeting_booking_model_as_payload_round_trips():
    original = build_booking(CAMEL, {"form_fields": {"company": "Acme"}, "timezone": "Europe/Berlin"})
    assert build_booking(original) == original
    assert build_booking(original, {"contact_email": "other@example.com"}).email == "other@example.com"


def test_booking_keywords_have_no_email_argument():
    # The operators import BOOKING_KEYWORDS itself (one home); `email` is Airflow's alert recipient.
    assert "email" not in BOOKING_KEYWORDS


@pytest.mark.parametrize(
    ("start_time", "zone", "expected_utc"),
    [
        pytest.param(START_UTC, None, "2026-12-01T14:00:00Z", id="aware datetime"),
        pytest.param(
            pendulum.datetime(2026, 12, 1, 15, tz="Europe/Berlin"),
            None,
            "2026-12-01T14:00:00Z",
            id="pendulum DateTime",
        ),
        pytest.param("2026-12-01T09:00:00-05:00", None, "2026-12-01T14:00:00Z", id="ISO with offset"),
        pytest.param("2026-12-01T14:00Z", None, "2026-12-01T14:00:00Z", id="ISO Z"),
        pytest.param(
            "2026-12-01T09:00", "America/New_York", "2026-12-01T14:00:00Z", id="naive string + zone"
        ),
        pytest.param(
            datetime(2026, 12, 1, 9), "America/New_York", "2026-12-01T14:00:00Z", id="naive datetime"
        ),
        pytest.param("2026-07-01T09:00", "America/New_York", "2026-07-01T13:00:00Z", id="naive in DST"),
        pytest.param(1796133600000, None, "2026-12-01T14:00:00Z", id="epoch ms"),
        pytest.param("1796133600000", None, "2026-12-01T14:00:00Z", id="epoch ms as text"),
        pytest.param("2026-12-01T14:00:00Z", "Asia/Tokyo", "2026-12-01T14:00:00Z", id="aware ignores zone"),
    ],
)
def test_start_time_forms(start_time, zone, expected_utc):
    booking = build_booking(CAMEL, {"start_time": start_time, "timezone": zone})
    assert wire(booking)["startTime"] == expected_utc
    assert booking.timezone == zone


@pytest.mark.parametrize(
    ("duration", "expected_ms"),
    [
        (1800000, 1800000),
        ("1800000", 1800000),
        (" 3600000 ", 3600000),
        (1800000.0, 1800000),
        (timedelta(minutes=45), 2700000),
        (pendulum.duration(hours=1), 3600000),
        ("PT30M", 1800000),
        ("pt1h30m", 5400000),
        ("P1DT0H", 86400000),
    ],
)
def test_duration_forms(duration, expected_ms):
    assert build_booking(CAMEL, {"duration": duration}).duration == expected_ms


def test_duration_goes_on_the_wire_in_the_versions_unit():
    booking = build_booking(CAMEL, {"duration": "PT30M"})
    assert booking.to_wire("2026-03")["duration"] == 1800000
    assert booking.to_wire("v3")["duration"] == 1800000


@pytest.mark.parametrize(
    "form_fields",
    [
        [{"name": "company", "value": "Acme"}, {"name": "team_size", "value": "12"}],
        {"company": "Acme", "team_size": 12},
        json.dumps({"company": "Acme", "team_size": "12"}),
    ],
)
def test_form_fields_list_or_mapping(form_fields):
    booking = build_booking({**CAMEL, "formFields": form_fields})
    assert wire(booking)["formFields"] == [
        {"name": "company", "value": "Acme"},
        {"name": "team_size", "value": "12"},
    ]


def test_form_field_booleans_are_hubspot_text():
    booking = build_booking(CAMEL, {"form_fields": {"newsletter": True}})
    assert wire(booking)["formFields"] == [{"name": "newsletter", "value": "true"}]


@pytest.mark.parametrize(
    "consents",
    [
        [
            {"communicationTypeId": "4711", "consented": True},
            {"communicationTypeId": 4712, "consented": False},
        ],
        [
            {"communication_type_id": "4711", "consented": True},
            {"communication_type_id": "4712", "consented": False},
        ],
    ],
)
def test_consents_camel_or_snake(consents):
    booking = build_booking({**SNAKE, "legal_consent_responses": consents})
    assert wire(booking)["legalConsentResponses"] == [
        {"communicationTypeId": "4711", "consented": True},
        {"communicationTypeId": "4712", "consented": False},
    ]


def test_user_ids_become_strings():
    booking = build_booking(CAMEL, {"likely_available_user_ids": [1001, "1002"]})
    assert wire(booking)["likelyAvailableUserIds"] == ["1001", "1002"]


def test_text_is_stripped():
    booking = build_booking({**CAMEL, "email": "  jane.doe@example.com ", "firstName": " Jane "})
    assert (booking.email, booking.first_name) == ("jane.doe@example.com", "Jane")


def test_collect_then_normalise_is_the_seam_for_raw_values():
    collected = collect_booking_input(CAMEL, {"start_time": "next_available"})
    assert collected["start_time"].source == "start_time"
    assert collected["start_time"].value == "next_available"
    with pytest.raises(BookingInputError) as caught:
        normalise_booking(collected)
    assert caught.value.field == "start_time"


def test_all_problems_in_one_message_first_field_named():
    with pytest.raises(BookingInputError) as caught:
        build_booking({"slug": "alice-smith", "email": "nope", "duration": 0})
    message = str(caught.value)
    assert caught.value.field == "email"
    assert message.startswith("email: 'nope' is not an email address")
    for field in ("first_name", "last_name", "start_time", "duration"):
        assert field in message


def test_unknown_override_keyword_is_a_programming_error():
    with pytest.raises(TypeError, match="unknown booking keyword 'email'"):
        build_booking(CAMEL, {"email": "x@example.com"})


# --- daylight saving time, zone names, duration texts -----------------------------------------------


@pytest.mark.parametrize(
    ("zone", "wall"),
    [
        ("America/New_York", datetime(2026, 11, 1, 1, 30)),  # clocks go back 02:00 -> 01:00
        ("Australia/Sydney", datetime(2026, 4, 5, 2, 30)),  # southern hemisphere: 03:00 -> 02:00
    ],
)
@pytest.mark.parametrize("as_text", [True, False], ids=["string", "naive datetime"])
def test_a_wall_time_that_occurs_twice_is_refused_naming_the_field(zone, wall, as_text):
    value = wall.isoformat(timespec="minutes") if as_text else wall

    with pytest.raises(BookingInputError) as raised:
        parse_start_time("start_time", value, zone)

    message = str(raised.value)
    assert message.startswith(f"start_time: {wall.isoformat()} occurs twice in {zone}")
    assert "give a UTC offset" in message


@pytest.mark.parametrize(
    ("zone", "wall"),
    [
        ("America/New_York", datetime(2026, 3, 8, 2, 30)),  # clocks jump 02:00 -> 03:00
        ("Australia/Sydney", datetime(2026, 10, 4, 2, 30)),
    ],
)
@pytest.mark.parametrize("as_text", [True, False], ids=["string", "naive datetime"])
def test_a_wall_time_that_never_happens_is_refused_naming_the_field(zone, wall, as_text):
    value = wall.isoformat(timespec="minutes") if as_text else wall

    with pytest.raises(BookingInputError, match=rf"^start_time: .* does not exist in {zone}"):
        parse_start_time("start_time", value, zone)


@pytest.mark.parametrize("as_text", [True, False], ids=["string", "naive datetime"])
def test_an_unambiguous_wall_time_near_a_change_is_the_same_instant_from_both_input_types(as_text):
    value = "2026-11-01T00:30" if as_text else datetime(2026, 11, 1, 0, 30)

    assert parse_start_time("start_time", value, "America/New_York") == datetime(
        2026, 11, 1, 4, 30, tzinfo=timezone.utc
    )


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("EST", "use an IANA name such as 'America/New_York'"),
        ("pst", "use an IANA name such as 'America/Los_Angeles'"),
        ("Europe/Berln", "did you mean 'Europe/Berlin'?"),
    ],
)
def test_unknown_zone_suggests_a_zone_that_would_be_accepted(name, hint):
    with pytest.raises(BookingInputError) as raised:
        parse_timezone("timezone", name)

    message = str(raised.value)
    assert message.startswith(f"timezone: unknown time zone {name!r}") and hint in message
    assert f"did you mean {name!r}" not in message


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1_801_000, "1801000 ms is not a whole number"), (30_000, "30000 ms is less than a minute")],
)
def test_durations_are_quoted_as_plain_integers(value, shown):
    with pytest.raises(BookingInputError) as raised:
        parse_duration("duration", value)

    assert shown in str(raised.value) and "e+" not in str(raised.value)


# --- fields: the rules the docs promise ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [(True, True), (False, False), ("true", True), ("False", False), ("TRUE", True), (" false\n", False)],
)
def test_switch_accepts_booleans_and_their_text(given: object, expected: bool) -> None:
    assert parse_switch("allow_offline", given) is expected


@pytest.mark.parametrize("given", ["yes", "no", "0", "1", "", "t", "on", 0, 1, None, [True], "false!"])
def test_switch_refuses_everything_else_naming_the_argument(given: object) -> None:
    with pytest.raises(BookingInputError) as raised:
        parse_switch("allow_offline", given)
    assert raised.value.field == "allow_offline"
    assert "expected true or false" in str(raised.value)


def test_punycode_domains_are_accepted_and_unicode_ones_refused_showing_the_punycode() -> None:
    assert parse_email("contact_email", "jane@xn--bcher-kva.example") == "jane@xn--bcher-kva.example"

    with pytest.raises(BookingInputError) as raised:
        parse_email("contact_email", "jane@b\u00fccher.example")

    assert "'xn--bcher-kva.example'" in str(raised.value)


def test_a_non_ascii_local_part_is_refused_naming_the_character() -> None:
    with pytest.raises(BookingInputError) as raised:
        parse_email("contact_email", "j\u0430ne@example.com")  # Cyrillic a

    assert "U+0430" in str(raised.value) and "only ASCII" in str(raised.value)


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "UTC", "GMT", "America/Argentina/ComodRivadavia", "Etc/GMT+5"]
)
def test_iana_place_zones_are_accepted(zone: str) -> None:
    assert parse_timezone("timezone", zone) == zone


@pytest.mark.parametrize(
    "zone", ["Europe", "posix/Europe/Berlin", "localtime", "Factory", "EST", "europe/berlin"]
)
def test_directories_copies_and_pseudo_zones_are_refused(zone: str) -> None:
    with pytest.raises(BookingInputError, match=r"^timezone: unknown time zone"):
        parse_timezone("timezone", zone)


def test_booking_keywords_load_without_pydantic_or_pendulum() -> None:
    """Operators build signatures from ``BOOKING_KEYWORDS`` at DAG-parse time."""
    import subprocess
    import sys

    code = (
        "import sys; import hubspot_scheduler_provider.booking_fields; "
        "print(sorted(m for m in ('pydantic', 'pendulum') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout.strip() == "[]"
