"""``ListMeetingLinksOperator`` and ``CreateCalendarMeetingOperator`` against the sandbox."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.operators.calendar_meeting import CreateCalendarMeetingOperator
from hubspot_scheduler_provider.operators.meeting_links import ListMeetingLinksOperator
from hubspot_scheduler_provider.testing import DropAfterCommit

SEEDED_SLUGS = ["alice-smith", "sales-team/round-robin", "demo-with-form", "offline-host"]


def list_links(**kwargs: Any) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = ListMeetingLinksOperator(task_id="list", **kwargs).execute({})
    return links


def test_lists_every_page_across_hubspot_paging(sandbox):
    extra = [f"alice-extra-{n}" for n in range(8)]
    for number, slug in enumerate(extra):
        page = dataclasses.replace(sandbox.pages["alice-smith"], slug=slug, link_id=f"39{number:02d}")
        sandbox.add_page(page)

    links = list_links()

    assert [link["slug"] for link in links] == SEEDED_SLUGS + extra
    assert [r.query.get("after") for r in sandbox.requests] == [None, ["10"]]  # HubSpot's page size is 10
    assert links[1]["type"] == "ROUND_ROBIN_CALENDAR" and links[1]["userIdsOfLinkMembers"] == ["1002", "1003"]


def test_filters_by_organizer_type_and_name(sandbox):
    assert [link["slug"] for link in list_links(organizer_user_id=1003)] == ["demo-with-form"]
    assert [link["slug"] for link in list_links(link_type="PERSONAL_LINK", name="Alice")] == ["alice-smith"]
    queries = [r.query for r in sandbox.requests]
    assert queries[0] == {"organizerUserId": ["1003"]}
    assert queries[-1] == {"name": ["Alice"], "type": ["PERSONAL_LINK"]}


def test_max_results_stops_early(sandbox):
    assert [link["slug"] for link in list_links(max_results=2)] == SEEDED_SLUGS[:2]


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"link_type": "TEAM"}, "link_type"), ({"max_results": 0}, "max_results")]
)
def test_list_rejects_bad_input_before_any_request(sandbox, kwargs, field):
    with pytest.raises(BookingInputError) as raised:
        list_links(**kwargs)
    assert raised.value.field == field
    assert sandbox.requests == []


def calendar_operator(**kwargs: Any) -> CreateCalendarMeetingOperator:
    arguments: dict[str, Any] = {
        "task_id": "calendar",
        "organizer_user_id": 1001,
        "owner_id": 501,
        "title": "Kickoff",
        "start_time": "2026-03-30T09:00",
        "duration": "PT45M",
        "timezone": "Europe/Berlin",
        **kwargs,
    }
    return CreateCalendarMeetingOperator(**arguments)


def test_creates_a_calendar_meeting_across_dst(sandbox):
    # 2026-03-30 is the first Monday of summer time in Berlin: 09:00 local is 07:00 UTC.
    answer = calendar_operator(contact_ids=["7", 8], attendee_owner_ids=["502"]).execute({})

    [request] = sandbox.requests
    properties = request.body["properties"]
    assert (properties["hs_meeting_start_time"], properties["hs_meeting_end_time"]) == (
        "2026-03-30T07:00:00Z",
        "2026-03-30T07:45:00Z",
    )
    assert properties["hs_attendee_owner_ids"] == ["502"]
    assert [a["to"]["id"] for a in request.body["associations"]] == ["7", "8"]
    assert answer["id"] == sandbox.state.calendar_meetings[0]["id"]


def test_end_time_instead_of_duration(sandbox):
    calendar_operator(duration=None, end_time="2026-03-30T10:30").execute({})

    assert sandbox.requests[0].body["properties"]["hs_meeting_end_time"] == "2026-03-30T08:30:00Z"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"end_time": "2026-03-30T10:00"}, "duration"),
        ({"duration": None, "end_time": "2026-03-30T08:00"}, "end_time"),
        ({"title": "  "}, "title"),
        ({"start_time": "2026-03-29T02:30"}, "start_time"),
        ({"timezone": "Berlin"}, "timezone"),
        ({"reminders": [{"numberOfTimeUnits": 1, "timeUnit": "FORTNIGHTS"}]}, "reminders[0]"),
        ({"location_type": "ZOOM"}, "location_type"),
    ],
)
def test_calendar_rejects_bad_input_before_any_request(sandbox, kwargs, field):
    with pytest.raises(BookingInputError) as raised:
        calendar_operator(**kwargs).execute({})
    assert raised.value.field == field
    assert sandbox.requests == []


def test_calendar_meeting_is_not_retried_when_the_outcome_is_unknown(sandbox):
    from airflow.providers.common.compat.sdk import AirflowFailException

    sandbox.inject(DropAfterCommit(), path_contains="/meetings/calendar")

    with pytest.raises(AirflowFailException, match="Not retrying, to avoid a duplicate meeting"):
        calendar_operator().execute({})
    assert len(sandbox.requests) == 1 and len(sandbox.state.calendar_meetings) == 1
