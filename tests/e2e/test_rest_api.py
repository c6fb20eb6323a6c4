"""A real Airflow 3 deployment books a meeting: triggered and read back through the public REST API v2."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from .conftest import FORM_DAG_ID, BookedRun

if TYPE_CHECKING:
    from .rest_client import AirflowRestClient

pytestmark = pytest.mark.e2e

#: Keys the sandbox adds to a committed booking next to HubSpot's answer.
SANDBOX_BOOKKEEPING = ("request", "slug", "apiVersion", "hostUserId", "crmMeetingId")
SANDBOX_PORTAL_ID = "24681357"
EXAMPLE_DAG_IDS = ("hubspot_book_new_leads", FORM_DAG_ID, "hubspot_book_first_free_slot")


def test_example_dags_are_parsed_without_import_errors(rest: AirflowRestClient) -> None:
    for dag_id in EXAMPLE_DAG_IDS:
        rest.wait_for_dag(dag_id)

    dags = {dag["dag_id"]: dag for dag in rest.get("/dags", tags=["hubspot"])["dags"]}

    assert set(EXAMPLE_DAG_IDS) <= set(dags)
    assert rest.get("/importErrors")["import_errors"] == []


def test_triggered_form_dag_books_the_meeting_and_xcom_matches_the_booking(
    booked_run: BookedRun, rest: AirflowRestClient, sandbox: Any
) -> None:
    run = booked_run.run
    assert run["state"] == "success", rest.task_log(FORM_DAG_ID, booked_run.run_id, "book_meeting")
    assert run["conf"] == booked_run.conf

    answer = rest.xcom(FORM_DAG_ID, booked_run.run_id, "book_meeting")

    [booking] = [b for b in sandbox.bookings if b["calendarEventId"] == answer["calendarEventId"]]
    assert answer == {key: value for key, value in booking.items() if key not in SANDBOX_BOOKKEEPING}
    request = booking["request"]
    assert request["email"] == "ada.lovelace@example.com"
    assert (request["firstName"], request["lastName"]) == ("Ada", "Lovelace")
    assert request["slug"] == "alice-smith"
    assert request["duration"] == booked_run.conf["duration"]
    assert request["timezone"] == "Europe/London"
    assert request["startTime"] == booked_run.conf["start_time"].replace("+00:00", "Z")


def test_booking_task_has_its_extra_links(
    booked_run: BookedRun, rest: AirflowRestClient, sandbox: Any
) -> None:
    answer = rest.xcom(FORM_DAG_ID, booked_run.run_id, "book_meeting")

    links = rest.get(f"/dags/{FORM_DAG_ID}/dagRuns/{booked_run.run_id}/taskInstances/book_meeting/links")[
        "extra_links"
    ]

    assert links["HubSpot contact"] == (
        f"https://app.hubspot.com/contacts/{SANDBOX_PORTAL_ID}/record/0-1/{answer['contactId']}"
    )
    assert links["Web conference"] == answer["webConferenceUrl"]


def test_trigger_with_a_malformed_email_is_refused_before_any_run(rest: AirflowRestClient) -> None:
    runs_before = rest.get(f"/dags/{FORM_DAG_ID}/dagRuns")["total_entries"]

    with pytest.raises(AssertionError, match="400"):
        rest.trigger(
            FORM_DAG_ID,
            {
                "contact_email": "not-an-email",
                "first_name": "A",
                "last_name": "B",
                "start_time": "2030-01-01T10:00:00Z",
            },
        )

    assert rest.get(f"/dags/{FORM_DAG_ID}/dagRuns")["total_entries"] == runs_before
