"""Where the sandbox knowingly departs from HubSpot's OpenAPI files: the ONE list.

Two kinds, both read by the sandbox and by the conformance tests (``tests/conformance``), and quoted in
``docs/sandbox.md``:

* ``SPEC_CORRECTIONS``: slips in HubSpot's files that HubSpot's own data or SDKs contradict. The
  sandbox validates (and schemathesis judges it) against the corrected document.
* ``EXPECTED_DIFFERENCES``: what a test double answers that a generic spec-driven fuzzer does not
  expect, each with its reason. Nothing else may differ.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SpecCorrection:
    spec_file: str
    schema: str
    property: str
    #: The corrected ``format``.
    format: str
    reason: str


_EPOCH_MS_IN_INT32 = (
    "an epoch-millisecond value (the description says 'Unix time in milliseconds') does not fit the "
    "int32 the 2026-09 file declares; v3 and 2026-03 declare int64, and HubSpot's SDK reads a plain int"
)

SPEC_CORRECTIONS: tuple[SpecCorrection, ...] = tuple(
    SpecCorrection("scheduler-meetings-2026-09.json", schema, name, "int64", _EPOCH_MS_IN_INT32)
    for schema, name in (
        ("ExternalMeetingAvailability", "startMillisUtc"),
        ("ExternalMeetingAvailability", "endMillisUtc"),
        ("ExternalTimeRange", "start"),
        ("ExternalTimeRange", "end"),
    )
)


def corrected(spec_file: str, document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with this module's corrections for ``spec_file`` applied."""
    fixed = copy.deepcopy(document)
    for correction in SPEC_CORRECTIONS:
        if correction.spec_file == spec_file:
            schema = fixed["components"]["schemas"][correction.schema]
            schema["properties"][correction.property]["format"] = correction.format
    return fixed


@dataclass(frozen=True)
class ExpectedDifference:
    #: ``"METHOD /path-suffix"`` under ``/scheduler/<version>/meetings`` ("*" for every operation).
    operation: str
    #: The schemathesis check concerned.
    check: str
    #: Statuses the check accepts here in addition to its defaults.
    statuses: tuple[int, ...]
    reason: str


EXPECTED_DIFFERENCES: tuple[ExpectedDifference, ...] = (
    ExpectedDifference(
        "POST /meeting-links/book",
        "positive_data_acceptance",
        (400,),
        "a schema-valid booking still needs a start time the page offers and is free, a duration the page "
        "offers, a deliverable-looking email and the page's required form fields and consents; HubSpot "
        "answers 400 (MEETING_START_TIME_NOT_VALID ...) exactly like this",
    ),
    ExpectedDifference(
        "POST /calendar",
        "positive_data_acceptance",
        (400,),
        "a schema-valid calendar meeting still needs a known organizer, end after start, an IANA time "
        "zone, a default meeting outcome and existing contacts; HubSpot checks these too",
    ),
    ExpectedDifference(
        "GET /meeting-links/book/{slug}",
        "positive_data_acceptance",
        (400,),
        "the timezone query parameter is a plain string in the spec but must be an IANA zone name",
    ),
    ExpectedDifference(
        "GET /meeting-links/book/availability-page/{slug}",
        "positive_data_acceptance",
        (400,),
        "timezone must be an IANA zone name, and monthOffset must keep the month within the years 1-9999",
    ),
    ExpectedDifference(
        "GET /meeting-links",
        "positive_data_acceptance",
        (400,),
        "limit is an int32 but must be at least 1",
    ),
    ExpectedDifference(
        "*",
        "positive_data_acceptance",
        (404,),
        "a generated slug names no page of the sandbox portal: 404 OBJECT_NOT_FOUND, as HubSpot answers "
        "(schemathesis accepts 404 for valid data by default; listed so every difference is here)",
    ),
)


def extra_statuses(operation_suffix: str, check: str) -> tuple[int, ...]:
    """Statuses ``check`` also accepts on ``operation_suffix`` (e.g. ``"POST /calendar"``)."""
    return tuple(
        status
        for difference in EXPECTED_DIFFERENCES
        if difference.check == check and difference.operation in (operation_suffix, "*")
        for status in difference.statuses
    )
