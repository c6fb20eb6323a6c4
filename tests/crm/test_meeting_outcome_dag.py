"""``SetMeetingOutcomeOperator`` in real DAG runs (``dag.test()``) against the sandbox."""

from __future__ import annotations

import json
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG

from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.operators.meeting_outcome import SetMeetingOutcomeOperator
from tests.crm.conftest import book_visitors, meeting_ids, requests_to
from tests.operators.conftest import run_dag, task_instance, xcom_value

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")


def _run(dag_id: str, **operator_kwargs: Any) -> Any:
    with DAG(dag_id, schedule=None, start_date=START_DATE, catchup=False) as dag:
        SetMeetingOutcomeOperator(task_id="outcome", **operator_kwargs)
    return run_dag(dag)


def _outcome_in_crm(sandbox: Any, meeting_id: str) -> str:
    with sandbox.state.lock:
        return str(sandbox.state.crm.get_meeting(meeting_id).properties["hs_meeting_outcome"])


def test_by_meeting_id_it_patches_once_and_a_second_run_sends_nothing(sandbox):
    book_visitors(sandbox, 1)
    meeting_id = meeting_ids(sandbox)[0]
    first = _run("outcome_by_id", meeting_id=meeting_id, outcome="no_show")
    assert first.state == "success"
    assert xcom_value(first, "outcome") == {"meetingId": meeting_id, "outcome": "NO_SHOW", "changed": True}
    patches = requests_to(sandbox, "PATCH", f"/crm/v3/objects/meetings/{meeting_id}")
    assert [r.body for r in patches] == [{"properties": {"hs_meeting_outcome": "NO_SHOW"}}]
    assert _outcome_in_crm(sandbox, meeting_id) == "NO_SHOW"

    second = _run("outcome_by_id_again", meeting_id=meeting_id, outcome="NO_SHOW")
    assert second.state == "success"
    assert xcom_value(second, "outcome") == {"meetingId": meeting_id, "outcome": "NO_SHOW", "changed": False}
    assert len(requests_to(sandbox, "PATCH", "/crm/v3/objects/meetings/")) == 1  # no second PATCH


def test_by_calendar_event_id_from_a_template(sandbox):
    answer = book_visitors(sandbox, 1)[0]
    run = _run(
        "outcome_by_event",
        calendar_event_id="{{ params.event }}",
        outcome="{{ params.outcome }}",
        params={"event": answer["calendarEventId"], "outcome": "COMPLETED"},
    )
    assert run.state == "success"
    meeting_id = meeting_ids(sandbox)[0]
    assert xcom_value(run, "outcome") == {"meetingId": meeting_id, "outcome": "COMPLETED", "changed": True}
    assert _outcome_in_crm(sandbox, meeting_id) == "COMPLETED"


def test_by_contact_and_start_cancels_and_frees_the_slot_and_keeps_the_email_out(sandbox):
    answer = book_visitors(sandbox, 1)[0]
    run = _run(
        "outcome_by_contact",
        contact_email="lead0@example.com",
        start=answer["start"],
        outcome="CANCELED",
    )
    assert run.state == "success"
    value = xcom_value(run, "outcome")
    assert value["changed"] is True and value["outcome"] == "CANCELED"
    assert "lead0" not in json.dumps(value)
    start = int(pendulum.parse(answer["start"]).timestamp() * 1000)
    with sandbox.state.lock:  # the host's calendar no longer holds it
        held = {busy.source for busy in sandbox.state.busy.between("1001", start, start + 1_800_000)}
    assert answer["calendarEventId"] not in held


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"meeting_id": "9001", "outcome": "CANCELLED"}, "outcome"),
        ({"meeting_id": "9001", "outcome": "{{ params.nothing }}"}, "outcome"),
        ({"outcome": "NO_SHOW"}, "meeting_id"),
        ({"meeting_id": "9001", "calendar_event_id": "sandbox-event-1", "outcome": "NO_SHOW"}, "meeting_id"),
        ({"contact_email": "lead0@example.com", "outcome": "NO_SHOW"}, "start"),
        (
            {"contact_email": "not-an-email", "start": "2026-12-02T14:00:00Z", "outcome": "NO_SHOW"},
            "contact_email",
        ),
        ({"meeting_id": "9001; DROP", "outcome": "NO_SHOW"}, "meeting_id"),
    ],
)
def test_bad_input_fails_naming_the_field_with_no_request(sandbox, kwargs, field):
    book_visitors(sandbox, 1)
    operator = SetMeetingOutcomeOperator(task_id="direct", **kwargs)
    if "params" in str(operator.outcome):
        operator.outcome = ""  # what the template renders
    with pytest.raises(BookingInputError) as refused:
        operator.execute(context={})  # type: ignore[arg-type]
    assert refused.value.field == field
    assert "lead0@example.com" not in str(refused.value)
    assert sandbox.requests == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"meeting_id": "9001", "outcome": "{{ params.nothing }}"},
        {"outcome": "NO_SHOW", "start": "2026-12-02"},
    ],
)
def test_bad_input_fails_the_dag_run_with_no_request(sandbox, kwargs):
    book_visitors(sandbox, 1)
    run = _run(f"outcome_bad_{len(kwargs)}_{sorted(kwargs)[0]}", **kwargs)
    assert run.state == "failed"
    assert task_instance(run, "outcome").state == "failed"
    assert sandbox.requests == []


def test_a_booking_the_crm_does_not_show_yet_fails_the_try_for_a_retry(sandbox):
    sandbox.crm_index_lag_seconds = 600
    answer = book_visitors(sandbox, 1)[0]
    run = _run("outcome_lagging", calendar_event_id=answer["calendarEventId"], outcome="NO_SHOW")
    assert run.state == "failed"
    assert requests_to(sandbox, "PATCH", "/crm/") == []
