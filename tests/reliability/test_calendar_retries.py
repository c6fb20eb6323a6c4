"""``CreateCalendarMeetingOperator`` on Airflow retries: a repeated try finds the meeting an earlier try
created (same owner, start and title in HubSpot's CRM) instead of creating a duplicate."""

from __future__ import annotations

from typing import Any

from hubspot_scheduler_provider.operators.calendar_meeting import CreateCalendarMeetingOperator
from hubspot_scheduler_provider.testing.sandbox import DEFAULT_SCOPES
from tests.operators.conftest import task_instance, xcom_value
from tests.reliability.helpers import SANDBOX_NOW, TOKEN, make_dag, reported, retrying, run_dag

SEARCH = "/crm/v3/objects/meetings/search"


class CreatesThenFailsOnce(CreateCalendarMeetingOperator):
    """The first try creates the meeting, then the worker dies before the task succeeds."""

    def execute(self, context: Any) -> dict[str, Any]:
        meeting = super().execute(context)
        if context["ti"].try_number == 1:
            raise RuntimeError("worker lost after creating the calendar meeting")
        return meeting


def calendar_dag(dag_id: str, **task_kwargs: Any) -> Any:
    with make_dag(dag_id) as dag:
        CreatesThenFailsOnce(
            task_id="calendar",
            organizer_user_id=1001,
            owner_id=501,
            title="Kickoff",
            start_time="2026-12-03T10:00:00Z",
            duration="PT45M",
            contact_ids=["7"],
            **retrying(**task_kwargs),
        )
    return dag


def test_a_retry_returns_the_meeting_the_first_try_created(sandbox):
    dag_run = run_dag(calendar_dag("calendar_retry_reconciles"))

    assert dag_run.state == "success"
    assert task_instance(dag_run, "calendar").try_number == 2
    [created] = sandbox.state.calendar_meetings
    result = xcom_value(dag_run, "calendar")
    assert (result["reconciled"], result["id"]) == (True, created["id"])
    assert result["properties"]["hs_meeting_title"] == "Kickoff"
    assert sum(1 for r in sandbox.requests if r.path.endswith("/meetings/calendar")) == 1
    search = next(r for r in sandbox.requests if r.path == SEARCH)
    assert {f["propertyName"] for f in search.body["filterGroups"][0]["filters"]} == {
        "hubspot_owner_id",
        "hs_meeting_start_time",
        "hs_meeting_title",
    }


def test_a_retry_creates_again_when_the_earlier_meeting_was_cancelled(sandbox):
    first_try_done = False

    def cancel_after_first_try(context: Any) -> None:
        nonlocal first_try_done
        first_try_done = True
        sandbox.set_meeting_outcome(sandbox.state.calendar_meetings[0]["id"])

    dag_run = run_dag(calendar_dag("calendar_retry_after_cancel", on_retry_callback=cancel_after_first_try))

    assert first_try_done and dag_run.state == "success"
    assert len(sandbox.state.calendar_meetings) == 2
    assert "reconciled" not in xcom_value(dag_run, "calendar")


def test_a_retry_that_cannot_read_the_crm_fails_without_creating_again(hubspot_sandbox_factory, airflow_db):
    # Creating needs a CRM write scope; finding the earlier meeting needs the read scope the token lacks.
    sandbox = hubspot_sandbox_factory(
        token=TOKEN, now=SANDBOX_NOW, scopes=DEFAULT_SCOPES - {"crm.objects.contacts.read"}
    )

    dag_run = run_dag(calendar_dag("calendar_retry_crm_down"))

    assert dag_run.state == "failed"
    assert len(sandbox.state.calendar_meetings) == 1
    message = reported("calendar", 2)
    assert message.startswith("Calendar meeting outcome unknown, not re-sent: 'Kickoff' of owner 501")
    assert "needs the scope crm.objects.contacts.read" in message and "retry the task" in message
