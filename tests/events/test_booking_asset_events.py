"""Asset events of ``BookMeetingOperator`` and ``BookMeetingsOperator``, run for real (``dag.test()``,
SQLite) against the sandbox: one event per booking on each declared asset, its ``extra`` small and free
of the booker's email, none for a validation-only run or for another run's ``booking_key`` booking."""

from __future__ import annotations

import json
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_3_PLUS

from hubspot_scheduler_provider.asset_events import EXTRA_FIELDS, booking_asset, route_outlets
from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.operators.book_meetings import BookMeetingsOperator
from tests.events.conftest import run_booking_dag, stored_asset_events
from tests.operators.conftest import BOOKER, SANDBOX_PORTAL_ID, SLOT_UTC, hubspot_answers, xcom_value

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")
EMAILS = ("jane.doe@example.com", "ada@example.com", "grace@example.com")


def make_dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START_DATE, catchup=False)


def bookings_asset() -> Any:
    return booking_asset(SANDBOX_PORTAL_ID, "alice-smith")


def assert_no_email(events: list[dict[str, Any]]) -> None:
    text = json.dumps([event["extra"] for event in events])
    assert "@" not in text, text
    for email in EMAILS:
        assert email not in text


def test_one_booking_emits_one_event_with_the_calendar_event_and_no_email(sandbox: Any) -> None:
    asset = bookings_asset()
    with make_dag("asset_event_one_booking") as dag:
        BookMeetingOperator(task_id="book", payload=dict(BOOKER), outlets=[asset])
    dag_run = run_booking_dag(dag)

    assert dag_run.state == "success"
    [answer] = hubspot_answers(sandbox)
    [event] = stored_asset_events(asset.uri)
    assert_no_email([event])
    assert event["extra"] == {
        "slug": "alice-smith",
        "start": answer["start"],
        "duration": 1_800_000,
        "calendarEventId": answer["calendarEventId"],
        "contactId": answer["contactId"],
        "reconciled": False,
    }
    assert set(event["extra"]) <= set(EXTRA_FIELDS)
    assert event["task_id"] == "book"
    # The booker's email IS in HubSpot's answer (its formFields): the allow-list keeps it out.
    assert BOOKER["email"] in json.dumps(xcom_value(dag_run, "book"))


def test_validation_only_emits_nothing(sandbox: Any) -> None:
    asset = bookings_asset()
    with make_dag("asset_event_validate_only") as dag:
        BookMeetingOperator(task_id="book", payload=dict(BOOKER), outlets=[asset], validate_only=True)
    assert run_booking_dag(dag).state == "success"
    assert [e for e in stored_asset_events(asset.uri) if e["dag_id"] == "asset_event_validate_only"] == []
    assert hubspot_answers(sandbox) == []


def test_a_batch_emits_one_event_per_booked_item_and_none_for_failed_ones(sandbox: Any) -> None:
    asset = booking_asset(SANDBOX_PORTAL_ID, "alice-smith")
    other = booking_asset(SANDBOX_PORTAL_ID, "alice-smith-all")
    people = [
        {**BOOKER, "email": EMAILS[1], "firstName": "Ada", "startTime": "2026-12-02T15:00:00Z"},
        {**BOOKER, "email": EMAILS[2], "firstName": "Grace", "startTime": "2026-12-02T16:00:00Z"},
        {**BOOKER, "email": "not-an-email", "startTime": "2026-12-02T17:00:00Z"},
    ]
    with make_dag("asset_event_batch") as dag:
        BookMeetingsOperator(
            task_id="book_all", payloads=people, outlets=[asset, other], fail_on_item_failure=False
        )
    assert run_booking_dag(dag).state == "success"

    answers = {a["calendarEventId"]: a for a in hubspot_answers(sandbox)}
    assert len(answers) == 2
    for declared in (asset, other):
        events = [e for e in stored_asset_events(declared.uri) if e["dag_id"] == "asset_event_batch"]
        assert_no_email(events)
        assert sorted(e["extra"]["calendarEventId"] for e in events) == sorted(answers)
        for event in events:
            assert event["extra"]["start"] == answers[event["extra"]["calendarEventId"]]["start"]


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="cross-run booking keys are recorded on Airflow 3.3+")
def test_another_runs_booking_key_does_not_emit_again(sandbox: Any) -> None:
    asset = bookings_asset()
    with make_dag("asset_event_booking_key") as dag:
        BookMeetingOperator(
            task_id="book", payload=dict(BOOKER), outlets=[asset], booking_key="lead-42-intro"
        )
    assert run_booking_dag(dag).state == "success"
    assert run_booking_dag(dag).state == "success"  # a second run, same key: returns the first booking

    assert len(hubspot_answers(sandbox)) == 1
    events = [e for e in stored_asset_events(asset.uri) if e["dag_id"] == "asset_event_booking_key"]
    assert len(events) == 1


def test_declared_assets_become_aliases_and_other_outlets_stay() -> None:
    from airflow.providers.common.compat.assets import AssetAlias

    asset = bookings_asset()
    alias = AssetAlias("someone-elses")
    routed, assets = route_outlets([asset, alias])
    assert assets == [asset]
    assert routed[0] == alias
    assert routed[1].name == f"hubspot-bookings:{getattr(asset, 'name', asset.uri)}"
    assert route_outlets(None) == (None, [])


def test_the_asset_naming_convention() -> None:
    team = booking_asset(SANDBOX_PORTAL_ID, "sales-team/round-robin")
    assert team.uri == f"hubspot://{SANDBOX_PORTAL_ID}/meeting-pages/sales-team%2Fround-robin"
    with pytest.raises(ValueError, match="portal_id"):
        booking_asset("my-portal", "alice-smith")
    with pytest.raises(ValueError, match="slug"):
        booking_asset(SANDBOX_PORTAL_ID, " / ")


def test_a_booking_whose_answer_was_lost_emits_once_reconciled(sandbox: Any) -> None:
    """The POST booked but its answer never arrived: the CRM shows the meeting, the task returns it
    (``reconciled``) and emits its event: the send that made it emitted nothing."""
    from hubspot_scheduler_provider.testing.faults import DropAfterCommit

    asset = bookings_asset()
    sandbox.inject(DropAfterCommit())
    with make_dag("asset_event_reconciled") as dag:
        BookMeetingOperator(task_id="book", payload=dict(BOOKER), outlets=[asset], crm_index_lag_seconds=1)
    assert run_booking_dag(dag).state == "success"

    [committed] = sandbox.bookings
    [event] = [e for e in stored_asset_events(asset.uri) if e["dag_id"] == "asset_event_reconciled"]
    assert_no_email([event])
    assert event["extra"]["reconciled"] is True
    assert event["extra"]["crmMeetingId"] == committed["crmMeetingId"]
    assert event["extra"]["start"] == committed["start"]


def test_a_hostile_answers_huge_value_is_cut_in_the_event(sandbox: Any) -> None:
    """HubSpot's answer fills the event's ``extra``: a megabyte ``calendarEventId`` (a hostile or broken
    answer, well under the hook's 4 MB answer limit) reaches the metadata DB cut to the cap."""
    from hubspot_scheduler_provider.asset_events import MAX_EXTRA_VALUE_CHARS
    from hubspot_scheduler_provider.testing.faults import Status
    from tests.reliability.test_bad_responses import VALID_BOOKING_ANSWER

    huge = "c" * 1_000_000
    answer = {**VALID_BOOKING_ANSWER, "calendarEventId": huge, "start": SLOT_UTC}
    sandbox.inject(Status(200, body=answer))
    asset = bookings_asset()
    with make_dag("asset_event_huge_value") as dag:
        BookMeetingOperator(task_id="book", payload=dict(BOOKER), outlets=[asset])
    assert run_booking_dag(dag).state == "success"

    [event] = [e for e in stored_asset_events(asset.uri) if e["dag_id"] == "asset_event_huge_value"]
    kept = event["extra"]["calendarEventId"]
    assert len(kept) == MAX_EXTRA_VALUE_CHARS and kept.endswith("…") and huge.startswith(kept[:-1])
    assert len(json.dumps(event["extra"])) < 2 * MAX_EXTRA_VALUE_CHARS
