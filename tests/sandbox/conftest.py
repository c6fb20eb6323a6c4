"""Shared helpers for the sandbox tests: an authorised HTTP session and spec validators.

The validators are built here from the spec files directly (not through the sandbox's own ``spec``
module), so a bug in the sandbox's validation cannot hide a non-conforming answer.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import requests
from jsonschema import Draft4Validator

from hubspot_scheduler_provider.testing import HubSpotSandbox

if TYPE_CHECKING:
    from collections.abc import Iterator

SPEC_DIR = Path(__file__).resolve().parents[2] / "hubspot_scheduler_provider" / "testing" / "specs"
SCHEDULER_SPEC = {
    "v3": "scheduler-meetings-v3.json",
    "2026-03": "scheduler-meetings-2026-03.json",
    "2026-09": "scheduler-meetings-2026-09.json",
}
VERSIONS = tuple(SCHEDULER_SPEC)
#: Monday 2 March 2026, 12:00 UTC: before both DST changes (US 8 March, EU 29 March).
MARCH_NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


@cache
def _spec(file_name: str) -> dict[str, Any]:
    return json.loads((SPEC_DIR / file_name).read_text(encoding="utf-8"))


def assert_conforms(file_name: str, schema_name: str, instance: Any) -> None:
    """Fail with every violation when ``instance`` is not a valid ``schema_name`` of the spec."""
    spec = _spec(file_name)
    validator = Draft4Validator(
        {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    )
    problems = [f"{list(err.absolute_path)}: {err.message}" for err in validator.iter_errors(instance)]
    assert not problems, f"{schema_name} ({file_name}) violations: {problems}"


def scheduler_url(sandbox: HubSpotSandbox, version: str, suffix: str) -> str:
    return f"{sandbox.url}/scheduler/{version}/meetings{suffix}"


def ms_to_iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def booking_body(
    slug: str, start_ms: int, duration: int, *, email: str = "ada@example.com", **extra: Any
) -> dict:
    return {
        "slug": slug,
        "email": email,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "startTime": ms_to_iso(start_ms),
        "duration": duration,
        "formFields": [],
        "legalConsentResponses": [],
        "likelyAvailableUserIds": [],
        **extra,
    }


def calendar_request(**properties: Any) -> dict[str, Any]:
    """A valid calendar meeting request (organizer 1001, existing contact 42); ``properties`` override."""
    return {
        "associations": [
            {
                "to": {"id": "42"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}],
            }
        ],
        "emailReminderSchedule": {"reminders": [], "shouldIncludeInviteDescription": False},
        "timezone": "America/New_York",
        "properties": {
            "hs_meeting_title": "Kick-off",
            "hs_meeting_start_time": "2026-03-10T14:00:00Z",
            "hs_meeting_end_time": "2026-03-10T14:30:00Z",
            "hs_timestamp": "2026-03-10T14:00:00Z",
            "hs_meeting_outcome": "SCHEDULED",
            "hubspot_owner_id": "501",
            **properties,
        },
    }


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(now=MARCH_NOW) as running:
        yield running
        assert running.spec_violations == []


@pytest.fixture
def api(sandbox: HubSpotSandbox) -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.token}"
    yield session
    session.close()


def slots(
    session: requests.Session,
    sandbox: HubSpotSandbox,
    slug: str,
    *,
    version: str = "2026-09",
    timezone_name: str = "UTC",
    month_offset: int = 0,
    duration_ms: int = 1_800_000,
) -> list[int]:
    """Offered slot starts (epoch ms) of one duration on the availability page."""
    answer = session.get(
        scheduler_url(sandbox, version, f"/meeting-links/book/availability-page/{quote(slug, safe='')}"),
        params={"timezone": timezone_name, "monthOffset": month_offset},
    )
    assert answer.status_code == 200, answer.text
    by_duration = answer.json()["linkAvailability"]["linkAvailabilityByDuration"]
    return [slot["startMillisUtc"] for slot in by_duration[str(duration_ms)]["availabilities"]]
