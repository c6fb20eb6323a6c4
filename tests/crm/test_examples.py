"""The issue-16 example DAGs run (``dag.test()``) against the sandbox: mark no-shows, reschedule."""

from __future__ import annotations

from typing import Any

from tests.crm.conftest import book_visitors, free_starts, meeting_ids, requests_to
from tests.operators.conftest import xcom_value
from tests.test_example_dags import run_example


def _outcome(sandbox: Any, meeting_id: str) -> str:
    with sandbox.state.lock:
        return str(sandbox.state.crm.get_meeting(meeting_id).properties["hs_meeting_outcome"])


def test_mark_no_shows_marks_each_meeting_once(sandbox):
    book_visitors(sandbox, 3)
    absent = meeting_ids(sandbox)[:2]
    run = run_example("hubspot_mark_no_shows", {"meeting_ids": absent})
    assert run.state == "success"
    assert [_outcome(sandbox, meeting_id) for meeting_id in meeting_ids(sandbox)] == [
        "NO_SHOW",
        "NO_SHOW",
        "SCHEDULED",
    ]
    again = run_example("hubspot_mark_no_shows", {"meeting_ids": absent})
    assert again.state == "success"
    assert len(requests_to(sandbox, "PATCH", "/crm/v3/objects/meetings/")) == 2  # none the second time
    assert {xcom_value(again, "mark_no_show", map_index=index)["changed"] for index in (0, 1)} == {False}


def test_reschedule_cancels_the_old_meeting_and_books_the_new_time_once(sandbox):
    old = book_visitors(sandbox, 1)[0]
    new_start = free_starts(sandbox, 1)[0].strftime("%Y-%m-%dT%H:%M:%SZ")
    conf = {
        "calendar_event_id": old["calendarEventId"],
        "contact_email": "lead0@example.com",
        "first_name": "Lee",
        "last_name": "Zero",
        "slug": "alice-smith",
        "start_time": new_start,
        "duration": 1_800_000,
    }
    run = run_example("hubspot_reschedule_meeting", conf)
    assert run.state == "success"
    old_id, new_id = meeting_ids(sandbox)
    assert _outcome(sandbox, old_id) == "CANCELED"
    assert _outcome(sandbox, new_id) == "SCHEDULED"
    assert sandbox.bookings[-1]["start"] == new_start
    assert sandbox.bookings[-1]["contactId"] == old["contactId"]  # the same lead
    again = run_example("hubspot_reschedule_meeting", conf)
    assert again.state == "success"
    assert len(sandbox.bookings) == 2  # the re-run books nothing
    assert xcom_value(again, "cancel")["changed"] is False
