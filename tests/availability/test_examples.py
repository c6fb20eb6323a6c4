"""The availability example DAGs, each run with ``dag.test()`` against the sandbox (real clock)."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest

from tests.operators.conftest import hubspot_answers, xcom_value
from tests.test_example_dags import run_example

BOOKER = {"contact_email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe"}

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_slot_sensor_example_books_the_slot_the_sensor_found(hubspot_sandbox: Any) -> None:
    not_before = pendulum.now("UTC").add(hours=2)

    dag_run = run_example(
        "hubspot_wait_for_slot_then_book", {**BOOKER, "slug": "alice-smith", "timezone": "America/New_York"}
    )

    assert dag_run.state == "success"
    slot = pendulum.parse(xcom_value(dag_run, "wait_for_slot"))
    assert slot >= not_before
    assert slot.utcoffset() == slot.in_timezone("America/New_York").utcoffset()  # shown in the asked zone
    [booking] = hubspot_answers(hubspot_sandbox)
    assert pendulum.parse(booking["start"]) == slot
    assert xcom_value(dag_run, "book_meeting") == booking


@pytest.mark.parametrize(
    ("conf", "expected_slugs"),
    [
        ({"link_type": "ROUND_ROBIN_CALENDAR"}, ["sales-team/round-robin"]),
        ({"name": "alice"}, ["alice-smith"]),
        ({}, ["alice-smith", "sales-team/round-robin", "demo-with-form", "offline-host"]),
    ],
)
def test_meeting_links_example_lists_pages_and_their_next_slot(
    hubspot_sandbox: Any, conf: dict[str, Any], expected_slugs: list[str]
) -> None:
    dag_run = run_example("hubspot_meeting_pages_overview", conf)

    assert dag_run.state == "success"
    assert [link["slug"] for link in xcom_value(dag_run, "list_pages")] == expected_slugs
    report = xcom_value(dag_run, "report")
    assert [row["slug"] for row in report] == expected_slugs
    assert all(pendulum.parse(row["slot"]) > pendulum.now("UTC") for row in report)
    assert hubspot_sandbox.bookings == []


def test_meeting_links_example_reports_pages_without_the_duration(hubspot_sandbox: Any) -> None:
    dag_run = run_example("hubspot_meeting_pages_overview", {"duration": 60 * 60_000})

    assert dag_run.state == "success"
    notes = {row["slug"]: (row["slot"], row["note"]) for row in xcom_value(dag_run, "report")}
    assert notes["demo-with-form"][0] is None and "is not offered" in notes["demo-with-form"][1]
    assert notes["alice-smith"][0] is not None


def test_calendar_meeting_example_creates_the_meeting(hubspot_sandbox: Any) -> None:
    conf = {
        "organizer_user_id": "1001",
        "owner_id": "501",
        "contact_id": "42",
        "start_time": "2026-12-02T09:00",
        "timezone": "America/New_York",
    }

    dag_run = run_example("hubspot_calendar_meeting", conf)

    assert dag_run.state == "success"
    [request] = [r for r in hubspot_sandbox.requests if r.path.endswith("/meetings/calendar")]
    assert request.query == {"organizerUserId": ["1001"]}
    assert request.body == {
        "associations": [
            {
                "to": {"id": "42"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}],
            }
        ],
        "emailReminderSchedule": {
            "reminders": [{"numberOfTimeUnits": 1, "timeUnit": "DAYS"}],
            "shouldIncludeInviteDescription": False,
        },
        "properties": {
            "hs_meeting_title": "Kickoff call",
            "hs_meeting_start_time": "2026-12-02T14:00:00Z",
            "hs_meeting_end_time": "2026-12-02T14:30:00Z",
            "hs_timestamp": "2026-12-02T14:00:00Z",
            "hs_meeting_outcome": "SCHEDULED",
            "hubspot_owner_id": "501",
            "hs_meeting_location": "Video call",
            "hs_meeting_location_type": "CUSTOM",
        },
        "timezone": "America/New_York",
    }
    answer = xcom_value(dag_run, "create_meeting")
    assert answer["id"] and answer["properties"]["hs_meeting_title"] == "Kickoff call"
