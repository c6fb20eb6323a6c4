"""What issue 16 added to the sandbox: visitor bookings (no provider, no HTTP), CRM meeting search by
creation time and owner with HubSpot's limits, the meeting PATCH and the v4 association batch read.

Answers are judged against the spec files directly (``conftest.assert_conforms``), not the sandbox's
own validation."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from hubspot_scheduler_provider.testing.api_errors import ApiError

from .conftest import MARCH_NOW, assert_conforms, booking_body, scheduler_url, slots

CRM_SPEC = "crm-meetings-v3.json"
ASSOCIATIONS_SPEC = "crm-associations-v4-batch-read.json"
SEARCH = "/crm/v3/objects/meetings/search"
HALF_HOUR = timedelta(minutes=30)


def _at(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _search(api: Any, sandbox: Any, *filters: dict[str, Any], status: int = 200, **request: Any) -> Any:
    body = {
        "filterGroups": [{"filters": list(filters)}] if filters else [],
        "properties": ["hs_createdate", "hubspot_owner_id", "hs_unique_id"],
        "sorts": [],
        "limit": 100,
        "after": "0",
        **request,
    }
    answer = api.post(f"{sandbox.url}{SEARCH}", json=body)
    assert answer.status_code == status, answer.text
    if status == 200:
        assert_conforms(CRM_SPEC, "CollectionResponseWithTotalSimplePublicObject", answer.json())
    return answer.json()


def _ids(answer: dict[str, Any]) -> list[str]:
    return [item["id"] for item in answer["results"]]


def _free_starts(api: Any, sandbox: Any, count: int, slug: str = "alice-smith") -> list[datetime]:
    """``count`` offered 30-minute slots that do not overlap (slots start every 15 minutes)."""
    chosen: list[int] = []
    for start in slots(api, sandbox, slug):
        if not chosen or start >= chosen[-1] + 1_800_000:
            chosen.append(start)
    assert len(chosen) >= count
    return [_at(start) for start in chosen[:count]]


def _visitors(sandbox: Any, starts: list[datetime], **kwargs: Any) -> list[dict[str, Any]]:
    return [
        sandbox.book_as_visitor("alice-smith", start, email=f"lead{index}@example.com", **kwargs)
        for index, start in enumerate(starts)
    ]


# ------------------------------------------------------------------ visitor bookings
def test_a_visitor_booking_is_the_book_endpoints_answer_without_any_request(api, sandbox):
    start = _free_starts(api, sandbox, 1)[0]
    before = len(sandbox.requests)
    answer = sandbox.book_as_visitor("alice-smith", start, email="Lead@Example.com", first_name="Lee")
    assert len(sandbox.requests) == before  # not through HTTP, so not through the provider
    assert_conforms("scheduler-meetings-v3.json", "ExternalMeetingBookingResponse", answer)
    assert answer["start"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert answer["duration"] == 1_800_000
    booking = sandbox.bookings[-1]
    assert booking["calendarEventId"] == answer["calendarEventId"]
    assert sandbox.contact_id("lead@example.com") == answer["contactId"]
    meeting = api.get(
        f"{sandbox.url}/crm/v3/objects/meetings/{booking['crmMeetingId']}",
        params={"associations": "contacts"},
    ).json()
    assert_conforms(CRM_SPEC, "SimplePublicObjectWithAssociations", meeting)
    properties = meeting["properties"]
    assert properties["hs_engagement_source"] == "MEETINGS"
    assert properties["hs_engagement_source_id"] == sandbox.pages["alice-smith"].link_id
    assert properties["hs_unique_id"] == answer["calendarEventId"]
    assert properties["hubspot_owner_id"] == "501"
    assert properties["hs_createdate"] == "2026-03-02T12:00:00.000Z"
    assert meeting["associations"]["contacts"]["results"] == [
        {"id": answer["contactId"], "type": "meeting_event_to_contact"}
    ]
    # The slot is taken, exactly as after an HTTP booking.
    assert _ms(start) not in slots(api, sandbox, "alice-smith")


def test_a_visitor_is_refused_what_the_endpoint_refuses(api, sandbox):
    start = _free_starts(api, sandbox, 1)[0]
    sandbox.book_as_visitor("alice-smith", start, email="first@example.com")
    with pytest.raises(ApiError, match="not available") as refused:
        sandbox.book_as_visitor("alice-smith", start, email="second@example.com")
    assert refused.value.status == 400
    with pytest.raises(ApiError, match="duration"):
        sandbox.book_as_visitor("alice-smith", start + HALF_HOUR, email="a@example.com", duration_ms=7)
    with pytest.raises(ValueError, match="aware"):
        sandbox.book_as_visitor("alice-smith", start.replace(tzinfo=None), email="a@example.com")


def test_concurrent_visitors_of_one_slot_get_one_booking(api, sandbox):
    start = _free_starts(api, sandbox, 1)[0]
    outcomes: list[str] = []

    def visit(index: int) -> None:
        try:
            sandbox.book_as_visitor("alice-smith", start, email=f"racer{index}@example.com")
            outcomes.append("booked")
        except ApiError:
            outcomes.append("refused")

    threads = [threading.Thread(target=visit, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked"] + ["refused"] * 7
    assert len(sandbox.bookings) == 1


def test_visitor_meetings_can_share_one_creation_millisecond(api, sandbox):
    starts = _free_starts(api, sandbox, 3)
    moment = MARCH_NOW + timedelta(milliseconds=5)
    _visitors(sandbox, starts, created_at=moment)
    found = _search(
        api, sandbox, {"propertyName": "hs_createdate", "operator": "EQ", "value": str(_ms(moment))}
    )
    assert found["total"] == 3
    assert {item["properties"]["hs_createdate"] for item in found["results"]} == {"2026-03-02T12:00:00.005Z"}


# ------------------------------------------------------------------ search by creation time and owner
@pytest.fixture
def three_created(api, sandbox) -> list[str]:
    """Meetings created at +0, +1 s and +2 s (ids in that order)."""
    starts = _free_starts(api, sandbox, 3)
    return [
        sandbox.bookings[-1]["crmMeetingId"]
        for index, start in enumerate(starts)
        if sandbox.book_as_visitor(
            "alice-smith",
            start,
            email=f"t{index}@example.com",
            created_at=MARCH_NOW + timedelta(seconds=index),
        )
    ]


@pytest.mark.parametrize(
    ("operator", "seconds", "expected"),
    [("GT", 0, [1, 2]), ("GTE", 1, [1, 2]), ("LT", 1, [0]), ("LTE", 1, [0, 1]), ("EQ", 2, [2])],
)
def test_search_compares_creation_times(api, sandbox, three_created, operator, seconds, expected):
    value = str(_ms(MARCH_NOW + timedelta(seconds=seconds)))
    for name in ("hs_createdate", "hs_lastmodifieddate"):
        found = _search(api, sandbox, {"propertyName": name, "operator": operator, "value": value})
        assert _ids(found) == [three_created[index] for index in expected], name


def test_search_between_creation_times_takes_iso_or_epoch_ms(api, sandbox, three_created):
    found = _search(
        api,
        sandbox,
        {
            "propertyName": "hs_createdate",
            "operator": "BETWEEN",
            "value": "2026-03-02T12:00:00.500Z",
            "highValue": str(_ms(MARCH_NOW + timedelta(seconds=2))),
        },
    )
    assert _ids(found) == three_created[1:]


def test_search_by_owner_and_page(api, sandbox, three_created):
    assert (
        _search(api, sandbox, {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": "501"})["total"]
        == 3
    )
    assert (
        _search(api, sandbox, {"propertyName": "hubspot_owner_id", "operator": "IN", "values": ["7", "8"]})[
            "total"
        ]
        == 0
    )
    link_id = sandbox.pages["alice-smith"].link_id
    found = _search(
        api, sandbox, {"propertyName": "hs_engagement_source_id", "operator": "IN", "values": [link_id, "1"]}
    )
    assert _ids(found) == three_created


def test_sorts_are_the_specs_strings_with_ties_by_id(api, sandbox):
    starts = _free_starts(api, sandbox, 4)
    # Created: 2nd booking earliest; the others share one millisecond.
    for index, start in enumerate(starts):
        sandbox.book_as_visitor(
            "alice-smith",
            start,
            email=f"s{index}@example.com",
            created_at=MARCH_NOW - timedelta(seconds=1) if index == 1 else MARCH_NOW,
        )
    ids = [booking["crmMeetingId"] for booking in sandbox.bookings]
    ascending = _ids(_search(api, sandbox, sorts=["hs_createdate"]))
    assert ascending == [ids[1], ids[0], ids[2], ids[3]]
    descending = _ids(_search(api, sandbox, sorts=["-hs_createdate"]))
    assert descending == [ids[0], ids[2], ids[3], ids[1]]  # ties keep id order
    by_start = _ids(_search(api, sandbox))  # no sorts: start time, as before
    assert by_start == ids


def test_search_limits_are_hubspots(api, sandbox):
    starts = _free_starts(api, sandbox, 5)
    _visitors(sandbox, starts)
    refused = _search(api, sandbox, limit=201, status=400)
    assert "limit" in refused["message"]
    sandbox.crm_search_result_cap = 3
    first = _search(api, sandbox, limit=2, sorts=["hs_createdate"])
    assert first["total"] == 5 and first["paging"]["next"]["after"] == "2"
    second = _search(api, sandbox, limit=2, after="2", sorts=["hs_createdate"])
    assert len(second["results"]) == 1 and "paging" not in second  # the cap ends the query
    past = _search(api, sandbox, limit=2, after="3", status=400)
    assert "at most 3 results" in past["message"]
    with pytest.raises(ValueError, match="at least 1"):
        sandbox.crm_search_result_cap = 0


def test_search_hides_new_meetings_for_the_index_lag(api, sandbox):
    sandbox.crm_index_lag_seconds = 30
    sandbox.book_as_visitor("alice-smith", _free_starts(api, sandbox, 1)[0], email="lag@example.com")
    assert _search(api, sandbox)["total"] == 0
    meeting_id = sandbox.bookings[-1]["crmMeetingId"]
    assert api.get(f"{sandbox.url}/crm/v3/objects/meetings/{meeting_id}").status_code == 200
    sandbox.crm_index_lag_seconds = 0
    assert _search(api, sandbox)["total"] == 1


# ------------------------------------------------------------------ PATCH and association reads
def _patch(api: Any, sandbox: Any, meeting_id: str, **properties: str) -> Any:
    return api.patch(f"{sandbox.url}/crm/v3/objects/meetings/{meeting_id}", json={"properties": properties})


def test_patching_the_outcome_is_read_back_and_a_cancel_frees_the_slot(api, sandbox):
    start = _free_starts(api, sandbox, 1)[0]
    sandbox.book_as_visitor("alice-smith", start, email="patch@example.com")
    meeting_id = sandbox.bookings[-1]["crmMeetingId"]
    sandbox.now = MARCH_NOW + timedelta(minutes=5)
    answer = _patch(api, sandbox, meeting_id, hs_meeting_outcome="NO_SHOW")
    assert answer.status_code == 200, answer.text
    assert_conforms(CRM_SPEC, "SimplePublicObject", answer.json())
    assert answer.json()["properties"]["hs_meeting_outcome"] == "NO_SHOW"
    assert answer.json()["updatedAt"] == "2026-03-02T12:05:00.000Z"
    assert _ms(start) not in slots(api, sandbox, "alice-smith")  # a no-show held its slot
    assert _patch(api, sandbox, meeting_id, hs_meeting_outcome="CANCELED").status_code == 200
    read = api.get(f"{sandbox.url}/crm/v3/objects/meetings/{meeting_id}").json()
    assert read["properties"]["hs_meeting_outcome"] == "CANCELED"
    assert _ms(start) in slots(api, sandbox, "alice-smith")


@pytest.mark.parametrize(
    ("properties", "named"),
    [
        ({"hs_meeting_outcome": "CANCELLED"}, "allowed options"),
        ({"hs_createdate": "1"}, "read-only"),
        ({"no_such_property": "x"}, "read-only"),
    ],
)
def test_a_patch_hubspot_would_refuse_is_a_400_that_changes_nothing(api, sandbox, properties, named):
    sandbox.book_as_visitor("alice-smith", _free_starts(api, sandbox, 1)[0], email="bad@example.com")
    meeting_id = sandbox.bookings[-1]["crmMeetingId"]
    answer = _patch(api, sandbox, meeting_id, **properties)
    assert answer.status_code == 400 and named in answer.json()["message"]
    assert_conforms(CRM_SPEC, "Error", answer.json())
    read = api.get(f"{sandbox.url}/crm/v3/objects/meetings/{meeting_id}").json()
    assert read["properties"]["hs_meeting_outcome"] == "SCHEDULED"


def test_a_patch_is_validated_against_the_spec_and_needs_the_write_scope(api, sandbox):
    sandbox.book_as_visitor("alice-smith", _free_starts(api, sandbox, 1)[0], email="v@example.com")
    meeting_id = sandbox.bookings[-1]["crmMeetingId"]
    url = f"{sandbox.url}/crm/v3/objects/meetings/{meeting_id}"
    assert api.patch(url, json={"hs_meeting_outcome": "NO_SHOW"}).status_code == 400  # no "properties"
    assert api.patch(url, json={"properties": {"hs_meeting_outcome": 3}}).status_code == 400  # not a string
    assert _patch(api, sandbox, "424242", hs_meeting_outcome="NO_SHOW").status_code == 404


def test_a_read_only_token_cannot_patch():
    from hubspot_scheduler_provider.testing import HubSpotSandbox

    with HubSpotSandbox(now=MARCH_NOW, scopes={"crm.objects.contacts.read"}) as read_only:
        import requests

        answer = requests.patch(
            f"{read_only.url}/crm/v3/objects/meetings/9001",
            json={"properties": {"hs_meeting_outcome": "NO_SHOW"}},
            headers={"Authorization": f"Bearer {read_only.token}"},
        )
        assert answer.status_code == 403, answer.text


def test_association_batch_read_gives_each_meetings_contact(api, sandbox):
    answers = _visitors(sandbox, _free_starts(api, sandbox, 2))
    ids = [booking["crmMeetingId"] for booking in sandbox.bookings]
    read = api.post(
        f"{sandbox.url}/crm/v4/associations/meetings/contacts/batch/read",
        json={"inputs": [{"id": ids[1]}, {"id": ids[0]}, {"id": "424242"}]},
    )
    assert read.status_code == 200, read.text
    assert_conforms(ASSOCIATIONS_SPEC, "BatchResponsePublicAssociationMultiWithLabel", read.json())
    contacts = {
        item["from"]["id"]: [to["toObjectId"] for to in item["to"]] for item in read.json()["results"]
    }
    assert contacts == {ids[0]: [answers[0]["contactId"]], ids[1]: [answers[1]["contactId"]]}
    other = api.post(
        f"{sandbox.url}/crm/v4/associations/deals/contacts/batch/read", json={"inputs": [{"id": ids[0]}]}
    )
    assert other.status_code == 400


def test_the_http_book_endpoint_and_a_visitor_record_the_same_crm_meeting(api, sandbox):
    first, second = _free_starts(api, sandbox, 2)
    over_http = api.post(
        scheduler_url(sandbox, "v3", "/meeting-links/book"),
        json=booking_body("alice-smith", _ms(first), 1_800_000),
    )
    assert over_http.status_code == 200, over_http.text
    sandbox.book_as_visitor(
        "alice-smith", second, email="twin@example.com", first_name="Ada", last_name="Lovelace"
    )
    read = [
        api.get(f"{sandbox.url}/crm/v3/objects/meetings/{booking['crmMeetingId']}").json()["properties"]
        for booking in sandbox.bookings
    ]
    differing = {name for name in read[0] if read[0][name] != read[1].get(name)}
    assert differing <= {
        "hs_meeting_start_time",
        "hs_meeting_end_time",
        "hs_timestamp",
        "hs_meeting_external_url",
        "hs_unique_id",
        "hs_object_id",
    }
    assert set(read[0]) == set(read[1])
