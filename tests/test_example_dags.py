"""The example DAGs: they parse offline, and each one runs (``dag.test()``) against the sandbox.

Every run is checked against what the sandbox committed: the XCom a DAG leaves must be exactly
HubSpot's (the sandbox's) answer for a booking that really happened, with the request it received.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pendulum
import pytest
import requests

from tests.compat import parse_dag_folder, write_serialized_dags
from tests.operators.conftest import booking_requests, hubspot_answers, xcom_value

EXAMPLE_DAGS = Path(__file__).resolve().parent.parent / "example_dags"
EXPECTED_DAGS = {
    "hubspot_book_new_leads": "scheduled",
    "hubspot_book_meeting_form": "ui-triggered",
    "hubspot_book_first_free_slot": "availability",
}
BOOKER = {"contact_email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe"}
MINUTE_MS = 60_000


def parse_examples() -> Any:
    return parse_dag_folder(str(EXAMPLE_DAGS))


def run_example(dag_id: str, conf: dict[str, Any] | None = None) -> Any:
    """``dag.test()`` of a freshly parsed example, as a deployment runs it: a DAG object runs once,
    because a run resolves (and so changes) its ``params`` in place."""
    bag = parse_examples()
    assert not bag.import_errors, bag.import_errors
    write_serialized_dags(bag)  # Airflow 3 runs the serialized DAG from the DB
    return bag.dags[dag_id].test(run_conf=conf)


def sandbox_free_slots(sandbox: Any, slug: str, duration_ms: int, months: int = 2) -> list[int]:
    """Free slot starts (epoch ms) as the sandbox's public availability endpoint lists them."""
    starts: list[int] = []
    for month_offset in range(months):
        response = requests.get(
            f"{sandbox.url}/scheduler/2026-09/meetings/meeting-links/book/availability-page/"
            f"{requests.utils.quote(slug, safe='')}",
            params={"timezone": "UTC", "monthOffset": month_offset},
            headers={"Authorization": f"Bearer {sandbox.token}"},
            timeout=10,
        )
        response.raise_for_status()
        by_duration = response.json()["linkAvailability"]["linkAvailabilityByDuration"]
        for slots in by_duration.values():
            if slots["meetingDurationMillis"] == duration_ms:
                starts.extend(slot["startMillisUtc"] for slot in slots["availabilities"])
    return sorted(set(starts))


def bookable_slot(sandbox: Any, slug: str, duration_ms: int) -> int:
    """The first free slot at least an hour away, so it cannot start (and stop being bookable) mid-test."""
    not_before = int(pendulum.now("UTC").add(hours=1).timestamp() * 1000)
    return next(start for start in sandbox_free_slots(sandbox, slug, duration_ms) if start >= not_before)


def iso_utc(epoch_ms: int) -> str:
    return pendulum.from_timestamp(epoch_ms / 1000, tz="UTC").isoformat()


def epoch_ms(iso: str) -> int:
    return int(pendulum.parse(iso).timestamp() * 1000)


# --- parsing ---------------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any attempt to open a connection or resolve a name fails the code under test (and is recorded)."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args[1:] or kwargs)
        raise OSError("network access at DAG-parse time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_examples_parse_offline_without_errors(no_network: list[Any]) -> None:
    bag = parse_examples()

    assert bag.import_errors == {}
    assert set(EXPECTED_DAGS) <= set(bag.dag_ids)
    assert no_network == []


@pytest.mark.parametrize(("dag_id", "kind"), EXPECTED_DAGS.items())
def test_example_is_tagged_by_kind(dag_id: str, kind: str) -> None:
    assert {"hubspot", "example", kind} <= set(parse_examples().dags[dag_id].tags)


def test_every_example_is_documented_and_reads_its_connection_id_from_one_place() -> None:
    for dag in parse_examples().dags.values():
        assert {"hubspot", "example"} <= set(dag.tags), dag.dag_id
        assert dag.doc_md and dag.doc_md.strip().startswith("###"), f"{dag.dag_id}: docstring for the UI"
        conn_id = _module_globals(dag)["HUBSPOT_CONN_ID"]
        hubspot_tasks = [task for task in dag.tasks if _task_conn_id(task) is not None]
        if all(type(task).__name__ == "NewBookingsToPartitionsOperator" for task in dag.tasks):
            continue  # a relay of new bookings (Airflow 3.3+): it reads asset events, not HubSpot
        assert hubspot_tasks, f"{dag.dag_id} has no HubSpot task"
        assert {_task_conn_id(task) for task in hubspot_tasks} == {conn_id}, dag.dag_id


def _task_conn_id(task: Any) -> str | None:
    """The ``hubspot_conn_id`` a task was given (mapped tasks keep it in ``partial_kwargs``)."""
    partial_kwargs = getattr(task, "partial_kwargs", None) or {}
    return partial_kwargs.get("hubspot_conn_id") or getattr(task, "hubspot_conn_id", None)


def _module_globals(dag: Any) -> dict[str, Any]:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"example_{dag.dag_id}", dag.fileloc)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


def test_trigger_form_params_are_typed_for_the_ui() -> None:
    params = parse_examples().dags["hubspot_book_meeting_form"].params
    schema = {name: params.get_param(name).schema for name in params}

    assert schema["contact_email"]["format"] == "email"
    assert schema["start_time"]["format"] == "date-time"
    assert schema["duration"]["enum"] == [900_000, 1_800_000, 3_600_000]
    assert set(schema["duration"]["values_display"]) == {"900000", "1800000", "3600000"}
    assert schema["dry_run"]["type"] == "boolean"
    assert schema["form_fields"]["type"] == ["null", "object"]
    assert {"slug", "timezone", "first_name", "last_name"} <= set(schema)


def test_trigger_form_rejects_a_malformed_email() -> None:
    from airflow.providers.common.compat.sdk import Param

    email = parse_examples().dags["hubspot_book_meeting_form"].params.get_param("contact_email")

    with pytest.raises(Exception, match="does not match"):
        Param(**{"default": "jane.doe@", **email.schema}).resolve()
    assert Param(**{"default": "jane.doe@example.com", **email.schema}).resolve() == "jane.doe@example.com"


# --- runs against the sandbox ------------------------------------------------------------------------


def test_new_leads_pipeline_books_each_lead_and_summarises_failures(
    hubspot_sandbox: Any, airflow_db: str
) -> None:
    dag_run = run_example("hubspot_book_new_leads")

    assert dag_run.state == "success"
    summary = xcom_value(dag_run, "summarise")
    booked_slugs = sorted(entry["slug"] for entry in summary["booked"])
    assert booked_slugs == ["alice-smith", "alice-smith", "sales-team/round-robin"]
    # The sample lead on the sandbox's offline-host page fails on purpose: nothing is on a calendar.
    assert summary["failed"] == [{"map_index": 3, "slug": "offline-host", "contact": "k***@example.com"}]
    answers = {answer["calendarEventId"]: answer for answer in hubspot_answers(hubspot_sandbox)}
    assert len(answers) == 3
    for entry in summary["booked"]:
        answer = xcom_value(dag_run, "book_meeting", map_index=entry["map_index"])
        assert answer == answers[entry["calendarEventId"]]
        assert answer["start"] == entry["start"]
    emails = sorted(booking["request"]["email"] for booking in hubspot_sandbox.bookings)
    assert emails == ["jane.doe@example.com", "lena.fischer@example.com", "omar.haddad@example.com"]


def test_form_dag_books_the_meeting_from_params(hubspot_sandbox: Any, airflow_db: str) -> None:
    slot = bookable_slot(hubspot_sandbox, "alice-smith", 60 * MINUTE_MS)
    conf = {
        **BOOKER,
        "slug": "alice-smith",
        "start_time": iso_utc(slot),
        "duration": 60 * MINUTE_MS,
        "timezone": "America/New_York",
    }

    dag_run = run_example("hubspot_book_meeting_form", conf)

    assert dag_run.state == "success"
    [booking] = hubspot_sandbox.bookings
    assert booking["request"]["email"] == "jane.doe@example.com"
    assert booking["request"]["duration"] == 60 * MINUTE_MS
    assert booking["request"]["timezone"] == "America/New_York"
    assert epoch_ms(booking["request"]["startTime"]) == slot
    assert xcom_value(dag_run, "book_meeting") == hubspot_answers(hubspot_sandbox)[0]


def test_form_dag_sends_form_answers_and_consent(hubspot_sandbox: Any, airflow_db: str) -> None:
    slot = bookable_slot(hubspot_sandbox, "demo-with-form", 15 * MINUTE_MS)
    conf = {
        **BOOKER,
        "slug": "demo-with-form",
        "start_time": iso_utc(slot),
        "duration": 15 * MINUTE_MS,
        "form_fields": {"company": "Acme"},
        "legal_consent_responses": [{"communicationTypeId": "4711", "consented": True}],
    }

    dag_run = run_example("hubspot_book_meeting_form", conf)

    assert dag_run.state == "success"
    [booking] = hubspot_sandbox.bookings
    assert booking["request"]["formFields"] == [{"name": "company", "value": "Acme"}]
    assert booking["request"]["legalConsentResponses"] == [{"communicationTypeId": "4711", "consented": True}]
    assert xcom_value(dag_run, "book_meeting")["calendarEventId"] == booking["calendarEventId"]


def test_form_dag_dry_run_books_nothing(hubspot_sandbox: Any, airflow_db: str) -> None:
    slot = bookable_slot(hubspot_sandbox, "alice-smith", 30 * MINUTE_MS)
    conf = {**BOOKER, "slug": "alice-smith", "start_time": iso_utc(slot), "dry_run": True}

    dag_run = run_example("hubspot_book_meeting_form", conf)

    assert dag_run.state == "success"
    assert booking_requests(hubspot_sandbox) == []
    assert hubspot_sandbox.bookings == []
    body = xcom_value(dag_run, "book_meeting")
    assert body["email"] == "jane.doe@example.com"
    assert body["duration"] == 30 * MINUTE_MS
    assert epoch_ms(body["startTime"]) == slot


def test_first_free_slot_dag_books_the_first_slot_in_the_window(
    hubspot_sandbox: Any, airflow_db: str
) -> None:
    slug, duration, not_before_hours = "sales-team/round-robin", 30 * MINUTE_MS, 24
    free_before = sandbox_free_slots(hubspot_sandbox, slug, duration)
    earliest_low = int(pendulum.now("UTC").add(hours=not_before_hours).timestamp() * 1000)

    dag_run = run_example(
        "hubspot_book_first_free_slot",
        {**BOOKER, "slug": slug, "duration": duration, "not_before_hours": not_before_hours},
    )

    earliest_high = int(pendulum.now("UTC").add(hours=not_before_hours).timestamp() * 1000)
    assert dag_run.state == "success"
    [booking] = hubspot_sandbox.bookings
    booked = epoch_ms(booking["request"]["startTime"])
    # The DAG's window opened somewhere between the two clock readings: the booked slot is the first
    # free one after that moment.
    candidates = [start for start in free_before if start >= earliest_low]
    allowed = candidates[: next(i for i, start in enumerate(candidates) if start >= earliest_high) + 1]
    assert booked in allowed
    payload = xcom_value(dag_run, "find_first_free_slot")
    assert epoch_ms(payload["start_time"]) == booked
    assert xcom_value(dag_run, "book_meeting") == hubspot_answers(hubspot_sandbox)[0]


def test_first_free_slot_dag_fails_clearly_when_the_window_is_full(
    hubspot_sandbox: Any, airflow_db: str
) -> None:
    now = pendulum.now("UTC")
    hubspot_sandbox.add_busy_time("alice-smith", now, now.add(days=30))

    dag_run = run_example(
        "hubspot_book_first_free_slot",
        {**BOOKER, "slug": "alice-smith", "not_before_hours": 0, "window_days": 7},
    )

    assert dag_run.state == "failed"
    assert dag_run.get_task_instance("find_first_free_slot").state == "failed"
    assert dag_run.get_task_instance("book_meeting").state == "upstream_failed"
    assert booking_requests(hubspot_sandbox) == []
