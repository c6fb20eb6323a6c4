"""HubSpot's own generated Python SDK (``hubspot-sdk``, pinned in the locks) against the sandbox.

Its scheduler client (API version 2026-03) is pointed at the sandbox for every operation it offers and
must parse every answer with strict response validation, knowing every field the sandbox sends. The
SDK also speaks milliseconds for ``duration`` on 2026-03, which is the unit the sandbox and the
provider use (``api_versions``). Its default retries are recorded as the docs compare them.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timezone
from typing import Any

import pytest

from hubspot_scheduler_provider.testing import HubSpotSandbox
from hubspot_scheduler_provider.testing.faults import DropAfterCommit

#: Monday 2 March 2026, 12:00 UTC.
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
HALF_HOUR_MS = 1_800_000
#: The SDK operations this module calls: (resource, method).
CHECKED = {
    ("basic", "list"),
    ("basic", "get_availability_by_slug"),
    ("basic", "get_booking_info_by_slug"),
    ("advanced", "book"),
    ("advanced", "create"),
}


def _client(sandbox: HubSpotSandbox, **kwargs: Any) -> Any:
    from hubspot_sdk import HubSpot

    return HubSpot(
        access_token=sandbox.token, base_url=sandbox.url, _strict_response_validation=True, **kwargs
    )


#: Spec fields the SDK's models leave undeclared: its generic page type has no ``total``, which the
#: spec's ``CollectionResponseWithTotalExternalLinkMetadata`` requires.
SDK_UNDECLARED = {"SyncPage": {"total"}}


def assert_fully_known(model: Any, where: str = "answer") -> None:
    """Fail if the sandbox sent a field the SDK's model does not declare, at any depth."""
    from pydantic import BaseModel

    if isinstance(model, BaseModel):
        extra = set(model.model_extra or ()) - SDK_UNDECLARED.get(type(model).__name__.split("[")[0], set())
        assert not extra, f"{where}: fields unknown to the SDK: {sorted(extra)}"
        for name in type(model).model_fields:
            assert_fully_known(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, dict):
        for key, value in model.items():
            assert_fully_known(value, f"{where}[{key!r}]")
    elif isinstance(model, list):
        for index, value in enumerate(model):
            assert_fully_known(value, f"{where}[{index}]")


@pytest.fixture
def sandbox() -> Any:
    with HubSpotSandbox(now=NOW) as running:
        yield running
        assert running.app.internal_errors == [] and running.spec_violations == []


def test_the_module_checks_every_scheduler_operation_the_sdk_offers() -> None:
    from hubspot_sdk.resources.scheduler.meetings.advanced import AdvancedResource
    from hubspot_sdk.resources.scheduler.meetings.basic import BasicResource

    offered = {
        (label, name)
        for label, resource in (("basic", BasicResource), ("advanced", AdvancedResource))
        for name, member in inspect.getmembers(resource, inspect.isfunction)
        if not name.startswith(("_", "with_"))
    }
    assert offered == CHECKED


def test_list_meeting_links(sandbox: HubSpotSandbox) -> None:
    client = _client(sandbox)
    first = client.scheduler.meetings.basic.list(limit=3)
    assert_fully_known(first)
    slugs = [link.slug for link in first.iter_pages() for link in link.results]
    assert sorted(slugs) == ["alice-smith", "demo-with-form", "offline-host", "sales-team/round-robin"]
    team = client.scheduler.meetings.basic.list(type="ROUND_ROBIN_CALENDAR")
    assert [link.user_ids_of_link_members for link in team.results] == [["1002", "1003"]]


@pytest.mark.parametrize("slug", ["alice-smith", "sales-team/round-robin", "demo-with-form", "offline-host"])
def test_booking_info_and_availability(sandbox: HubSpotSandbox, slug: str) -> None:
    basic = _client(sandbox).scheduler.meetings.basic
    info = basic.get_booking_info_by_slug(slug, timezone="Europe/Berlin")
    assert_fully_known(info)
    assert info.link_id and info.custom_params.durations
    page = basic.get_availability_by_slug(slug, timezone="America/New_York", month_offset=1)
    assert_fully_known(page)
    assert set(page.link_availability.link_availability_by_duration) == {
        str(ms) for ms in info.custom_params.durations
    }


def _first_slot(client: Any, slug: str) -> int:
    page = client.scheduler.meetings.basic.get_availability_by_slug(slug, timezone="UTC")
    return (
        page.link_availability.link_availability_by_duration[str(HALF_HOUR_MS)]
        .availabilities[0]
        .start_millis_utc
    )


def _book(client: Any, slug: str, start_ms: int, email: str = "ada@example.com") -> Any:
    return client.scheduler.meetings.advanced.book(
        slug=slug,
        duration=HALF_HOUR_MS,  # milliseconds, as the SDK documents for 2026-03
        email=email,
        first_name="Ada",
        last_name="Lovelace",
        start_time=datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc),
        form_fields=[],
        legal_consent_responses=[],
        likely_available_user_ids=[],
        timezone="Europe/Berlin",
    )


def test_book_speaks_milliseconds_on_2026_03(sandbox: HubSpotSandbox) -> None:
    client = _client(sandbox)
    start = _first_slot(client, "alice-smith")
    booked = _book(client, "alice-smith", start)
    assert_fully_known(booked)
    assert booked.duration == HALF_HOUR_MS
    assert (booked.end - booked.start).total_seconds() == 1800
    [recorded] = sandbox.bookings
    assert recorded["apiVersion"] == "2026-03" and recorded["request"]["duration"] == HALF_HOUR_MS


def test_create_calendar_meeting_and_read_it_back_the_same(sandbox: HubSpotSandbox) -> None:
    client = _client(sandbox)
    created = client.scheduler.meetings.advanced.create(
        organizer_user_id="1001",
        associations=[
            {
                "to": {"id": "42"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}],
            }
        ],
        email_reminder_schedule={
            "reminders": [{"numberOfTimeUnits": 1, "timeUnit": "DAYS"}],
            "shouldIncludeInviteDescription": False,
        },
        properties={
            "hs_meeting_title": "Kick-off",
            "hs_meeting_start_time": "2026-03-10T14:00:00Z",
            "hs_meeting_end_time": "2026-03-10T14:30:00Z",
            "hs_timestamp": "2026-03-10T14:00:00Z",
            "hs_meeting_outcome": "SCHEDULED",
            "hs_meeting_body": "Agenda: everything",
            "hubspot_owner_id": "501",
        },
        timezone="America/New_York",
    )
    assert_fully_known(created)
    read = sandbox.state.crm.get_meeting(created.id).properties
    answered = created.properties.model_dump(exclude_none=True, mode="json")
    for name, value in answered.items():
        if name in ("hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp"):
            assert datetime.fromisoformat(read[name]) == datetime.fromisoformat(value), name
        else:
            assert read[name] == value, name
    assert created.properties.hs_meeting_body == "Agenda: everything"


def test_error_answers_parse_as_the_sdks_errors(sandbox: HubSpotSandbox) -> None:
    import hubspot_sdk

    basic = _client(sandbox, max_retries=0).scheduler.meetings.basic
    with pytest.raises(hubspot_sdk.NotFoundError) as missing:
        basic.get_booking_info_by_slug("no-such-page", timezone="UTC")
    assert missing.value.body["category"] == "OBJECT_NOT_FOUND"
    with pytest.raises(hubspot_sdk.BadRequestError) as bad_zone:
        basic.get_availability_by_slug("alice-smith", timezone="Europe")
    assert bad_zone.value.body["correlationId"] == bad_zone.value.response.headers["X-HubSpot-Correlation-Id"]


def test_sdk_default_retries_book_once_and_report_failure_after_a_dropped_answer(
    sandbox: HubSpotSandbox,
) -> None:
    """For the docs' comparison: the SDK retries a booking POST by default (no idempotency key)."""
    import hubspot_sdk

    client = _client(sandbox)
    start = _first_slot(client, "alice-smith")
    sandbox.inject(DropAfterCommit())
    with pytest.raises(hubspot_sdk.BadRequestError) as refused:
        _book(client, "alice-smith", start)
    posts = [r for r in sandbox.requests if r.method == "POST"]
    assert len(posts) == 2  # the dropped one and the SDK's retry
    assert len(sandbox.bookings) == 1  # the meeting exists ...
    assert refused.value.body["subCategory"].endswith(
        "MEETING_START_TIME_NOT_VALID"
    )  # ... reported as failed
