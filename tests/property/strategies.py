"""Hypothesis strategies for what a DAG author (or a hostile upstream task) can hand a booking."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from hubspot_scheduler_provider.booking_fields import BOOKING_FIELDS, BOOKING_KEYWORDS

#: Strings that broke (or could break) a parser: controls, invisible and direction characters,
#: homoglyphs, specials, zone-database paths, number edge cases, megabyte values.
HOSTILE_STRINGS = [
    "",
    " ",
    "\x00",
    "jane\x00@example.com",
    "jane\u200b@example.com",
    "jane\u202e@example.com",
    "j\u0430ne@example.com",
    "jane@ex\u0430mple.com",
    "<jane@example.com>",
    "jane@example.com; bob@example.com",
    "jane@example.com, bob@example.com",
    '"jane doe"@example.com',
    "jane@[127.0.0.1]",
    "x" * 1_000_000 + "@example.com",
    "J" * 1_000_000,
    "Europe",
    "posix/Europe/Berlin",
    "localtime",
    "Factory",
    "Europe/" + "x" * 300,
    "../../etc/passwd",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e309",
    "9" * 5000,
    "\u0661\u0662\u0663",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "P99999999999D",
    "PT1e400S",
    "true",
    "False",
    "{" * 5000,
    "[" * 100_000,
    "None",
    "{{ ti.xcom_pull('x') }}",
]
VALID_VALUES: dict[str, list[Any]] = {
    "slug": ["alice-smith", "sales-team/round-robin"],
    "contact_email": ["jane.doe@example.com", "o'brien+tag@sub.example.com"],
    "first_name": ["Jane", "José", "李"],
    "last_name": ["Doe", "O'Brien"],
    "timezone": ["Europe/Berlin", "UTC", "America/New_York"],
    "start_time": [
        "2026-12-02T14:00:00Z",
        1796220000000,
        datetime(2026, 12, 2, 14, tzinfo=timezone.utc),
        "2026-12-02T09:00",
    ],
    "duration": [1800000, "PT30M", timedelta(minutes=60), "3600000"],
    "locale": ["en-us", "de"],
    "form_fields": [[{"name": "company", "value": "Acme"}], {"company": "Acme", "size": 12}],
    "legal_consent_responses": [[{"communicationTypeId": "4711", "consented": True}]],
    "likely_available_user_ids": [["1001"], [1001, "1002"]],
}

_numbers = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    # Built, not sampled: Hypothesis reprs sampled values, and CPython cannot print these ints.
    st.integers(0, 2).map(lambda index: (10**5000, -(10**5000), 10**4300)[index]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 2**63, 10**400, 1e308, -0.0]),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    _numbers,
    st.text(max_size=40),
    st.sampled_from(HOSTILE_STRINGS),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
    st.sampled_from([datetime.max, datetime.min, date.max, timedelta.max, timedelta.min]),
    st.dates(),
    st.timedeltas(),
)
_keys = st.one_of(
    st.text(max_size=20), st.sampled_from(["name", "value", "communicationTypeId", "consented"])
)
#: Containers up to a depth well beyond the bound, so the nesting check is exercised.
json_like = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=20), st.sampled_from(["name", "value"])), children, max_size=4
        ),
    ),
    max_leaves=20,
)


def _deeply_nested(depth: int) -> Any:
    value: Any = {"name": "company", "value": "Acme"}
    for level in range(depth):
        value = [value] if level % 2 else {"value": value}
    return value


_TEN_THOUSAND_ANSWERS = [{"name": str(i), "value": "x"} for i in range(10_000)]
field_value = st.one_of(
    _numbers,  # first and on their own: edge numbers are what breaks time and duration parsing
    st.sampled_from(HOSTILE_STRINGS),
    json_like,
    st.sampled_from(
        [_deeply_nested(12), _deeply_nested(3000), [{"name": str(i), "value": "x"} for i in range(10_000)]]
    ),
)


@st.composite
def values_for(draw: st.DrawFn, keyword: str) -> Any:
    """Mostly a valid value, sometimes a hostile or random one."""
    return draw(
        st.one_of(
            st.sampled_from(VALID_VALUES[keyword]),
            st.sampled_from(VALID_VALUES[keyword]),
            field_value,
        )
    )


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    """A payload dict under any accepted spelling (plus stray keys), or that dict as JSON/Python text."""
    payload: dict[Any, Any] = {}
    for field in BOOKING_FIELDS:
        if draw(st.integers(0, 9)) == 0:
            continue  # left out
        spelling = draw(st.sampled_from(field.spellings))
        payload[spelling] = draw(values_for(field.keyword))
    if draw(st.integers(0, 9)) == 0:
        payload[draw(st.one_of(st.text(max_size=20), st.integers()))] = draw(json_like)
    form = draw(st.sampled_from(["dict", "dict", "json", "repr", "other"]))
    if form == "json":
        try:
            return json.dumps(payload, default=str)
        except (TypeError, ValueError, RecursionError):
            return payload
    if form == "repr":
        try:
            return repr(payload)
        except (ValueError, RecursionError):  # ints beyond 4300 digits, 3000 levels
            return payload
    if form == "other":
        return draw(field_value)
    return payload


@st.composite
def overrides(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of the booking operators, each given or left at None."""
    chosen = draw(st.lists(st.sampled_from(BOOKING_KEYWORDS), unique=True, max_size=len(BOOKING_KEYWORDS)))
    return {keyword: draw(values_for(keyword)) for keyword in chosen}
