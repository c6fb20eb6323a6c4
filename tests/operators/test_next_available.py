"""``BookMeetingOperator(start_time="next_available")`` in real DAG runs against the sandbox on loopback.

The expected slot is read from the sandbox's own calendar model (what it would offer), not through the
provider's availability code. Races are staged for real: a rival books the slot over HTTP between our
availability read and our POST, and the sandbox then refuses ours with MEETING_START_TIME_NOT_VALID.
Retries are real Airflow retries (``try_number`` 2), whose XComs Airflow clears first.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG

from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.testing import DropAfterCommit, Status
from hubspot_scheduler_provider.testing.availability import available_slots, from_ms, to_ms
from tests.operators.conftest import (
    BOOKER,
    BOOKER_WIRE,
    HAS_LEDGER,
    TOKEN,
    assert_valid_booking_request,
    booking_requests,
    hubspot_answers,
    rendered_fields,
    run_dag,
    task_instance,
    xcom_value,
)
from tests.reliability.helpers import rerun_cleared

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")
NEW_YORK = "America/New_York"
HALF_HOUR_MS = 1_800_000
#: Wednesday 2026-12-02 09:00-12:00 in New York (the sandbox's clock is fixed at 2026-12-01 12:00 UTC).
EARLIEST, LATEST = "2026-12-02T09:00", "2026-12-02T12:00"
#: ``BOOKER`` without a start time: every test here lets the operator choose it.
CONTACT = {key: value for key, value in BOOKER.items() if key != "startTime"}
SLOT_TAKEN = {
    "status": "error",
    "message": "The meeting start time is not available.",
    "correlationId": "c0ffee00-0000-4000-8000-00000000beef",
    "category": "VALIDATION_ERROR",
    "subCategory": "MeetingsBookingSchedulingError.MEETING_START_TIME_NOT_VALID",
}


def make_dag(dag_id: str, **kwargs: Any) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START_DATE, catchup=False, **kwargs)


def next_available(**kwargs: Any) -> dict[str, Any]:
    """Operator arguments booking ``CONTACT`` at the first free slot of the New York window."""
    return {
        "payload": CONTACT,
        "start_time": "next_available",
        "timezone": NEW_YORK,
        "earliest": EARLIEST,
        "latest": LATEST,
        **kwargs,
    }


def sandbox_free_slots(
    sandbox: Any, slug: str, duration_ms: int, earliest: datetime, latest: datetime
) -> list[datetime]:
    """Starts of the meetings that fit in ``[earliest, latest]``, from the sandbox's own calendar model."""
    state = sandbox.state
    with state.lock:
        page = state.page(slug)
        starts = available_slots(
            page, state.busy, duration_ms, state.now_ms(), to_ms(earliest), to_ms(latest) - duration_ms + 1
        )
    return [from_ms(start) for start in starts]


def utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_york(wall_clock: str) -> datetime:
    return datetime.fromisoformat(wall_clock).replace(tzinfo=ZoneInfo(NEW_YORK))


def window_slots(sandbox: Any) -> list[str]:
    """The sandbox's free half hours of ``alice-smith`` in the New York window, as HubSpot writes them."""
    window = (new_york(EARLIEST), new_york(LATEST))
    return [utc(start) for start in sandbox_free_slots(sandbox, "alice-smith", HALF_HOUR_MS, *window)]


def bookings_of(sandbox: Any, email: str) -> list[str]:
    return [b["start"] for b in sandbox.bookings if b["request"]["email"] == email]


def availability_reads(sandbox: Any) -> int:
    return sum(1 for r in sandbox.requests if r.method == "GET" and "/availability-page/" in r.path)


failures: dict[str, str] = {}


def record_failure(context: Any) -> None:
    failures[context["ti"].task_id] = str(context["exception"])


@pytest.fixture(autouse=True)
def _fresh_failures() -> None:
    failures.clear()


# --- picking and booking the slot -------------------------------------------------------------------


def test_books_the_first_free_slot_in_the_window(sandbox, task_logs):
    # Alice is busy until 10:20, so with 15-minute steps the first free half hour starts at 10:30.
    sandbox.add_busy_time("alice-smith", new_york("2026-12-02T08:00"), new_york("2026-12-02T10:20"))
    expected = window_slots(sandbox)[0]
    assert expected == "2026-12-02T15:30:00Z"
    with make_dag("next_available_first_free") as dag:
        BookMeetingOperator(task_id="book", **next_available())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    sent = booking_requests(sandbox)
    assert sent == [{**BOOKER_WIRE, "startTime": expected, "timezone": NEW_YORK}]
    assert_valid_booking_request(sent[0])
    assert bookings_of(sandbox, BOOKER["email"]) == [expected]
    answer = xcom_value(dag_run, "book")
    assert answer["start"] == expected and answer["calendarEventId"]
    assert "reconciled" not in answer
    assert xcom_value(dag_run, "book", key="slot") == "2026-12-02T10:30:00-05:00"
    logs = task_logs()
    assert "Next available slot on page 'alice-smith': 2026-12-02T10:30:00-05:00" in logs
    assert f"Booked slug=alice-smith start={expected}" in logs


def test_window_in_a_non_utc_zone_on_a_team_page_with_templated_bounds(sandbox):
    # Berlin is UTC+1 in December: 15:00 there is 14:00 UTC. Read as UTC, the window would start an hour
    # later and the slot would be 15:00 UTC instead.
    berlin = ZoneInfo("Europe/Berlin")
    slug = "sales-team/round-robin"
    expected = sandbox_free_slots(
        sandbox,
        slug,
        2 * HALF_HOUR_MS,
        datetime(2026, 12, 3, 15, tzinfo=berlin),
        datetime(2026, 12, 3, 18, tzinfo=berlin),
    )[0]
    assert utc(expected) == "2026-12-03T14:00:00Z"
    with make_dag("next_available_berlin", params={"day": "2026-12-03"}) as dag:
        BookMeetingOperator(
            task_id="book",
            payload={**CONTACT, "slug": slug, "duration": "PT1H"},
            start_time="next_available",
            timezone="Europe/Berlin",
            earliest="{{ params.day }}T15:00",
            latest="{{ params.day }}T18:00",
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert booking_requests(sandbox) == [
        {
            **BOOKER_WIRE,
            "slug": slug,
            "duration": 2 * HALF_HOUR_MS,
            "startTime": "2026-12-03T14:00:00Z",
            "timezone": "Europe/Berlin",
        }
    ]
    assert xcom_value(dag_run, "book", key="slot") == "2026-12-03T15:00:00+01:00"
    # The team slug went into the availability path as one URL-encoded segment.
    assert any(r.path.endswith("/availability-page/sales-team%2Fround-robin") for r in sandbox.requests)
    rendered = rendered_fields(dag_run, "book")
    assert (rendered["earliest"], rendered["latest"]) == ("2026-12-03T15:00", "2026-12-03T18:00")


def test_next_available_given_in_the_payload(sandbox):
    with make_dag("next_available_in_payload") as dag:
        BookMeetingOperator(
            task_id="book",
            payload=json.dumps({**CONTACT, "startTime": "next_available", "timezone": NEW_YORK}),
            earliest=EARLIEST,
            latest=LATEST,
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    first = window_slots(sandbox)  # after the booking: the first slot is gone
    assert booking_requests(sandbox) == [
        {**BOOKER_WIRE, "startTime": "2026-12-02T14:00:00Z", "timezone": NEW_YORK}
    ]
    assert "2026-12-02T14:00:00Z" not in first
    assert xcom_value(dag_run, "book", key="slot") == "2026-12-02T09:00:00-05:00"


# --- races ------------------------------------------------------------------------------------------


class RivalBooksFirst(BookMeetingOperator):
    """A rival books each of the first ``rival_takes`` slots we pick, between our availability read and
    our POST: the page check (``validate_against_page``) runs exactly there, after the slot is chosen."""

    rivals: list[str] = []

    def __init__(self, *, rival_takes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rival_takes = rival_takes

    def _check_against_page(self, hook: Any, booking: Any) -> None:
        super()._check_against_page(hook, booking)
        if len(self.rivals) < self.rival_takes:
            rival = booking.model_copy(update={"email": f"rival{len(self.rivals)}@example.com"})
            self.rivals.append(HubSpotSchedulerHook().book_meeting(rival).raw["start"])


def test_slot_taken_between_read_and_post_books_the_next_one(sandbox, task_logs):
    RivalBooksFirst.rivals = []
    with make_dag("next_available_race") as dag:
        RivalBooksFirst(task_id="book", rival_takes=1, validate_against_page=True, **next_available())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    # Our first POST was refused (the rival had it), availability was read again, the next slot booked.
    assert RivalBooksFirst.rivals == ["2026-12-02T14:00:00Z"]
    ours = [body["startTime"] for body in booking_requests(sandbox) if body["email"] == BOOKER["email"]]
    assert ours == ["2026-12-02T14:00:00Z", "2026-12-02T14:30:00Z"]
    assert bookings_of(sandbox, BOOKER["email"]) == ["2026-12-02T14:30:00Z"]
    assert bookings_of(sandbox, "rival0@example.com") == ["2026-12-02T14:00:00Z"]
    assert availability_reads(sandbox) == 2
    assert xcom_value(dag_run, "book")["start"] == "2026-12-02T14:30:00Z"
    assert xcom_value(dag_run, "book", key="slot") == "2026-12-02T09:30:00-05:00"
    assert "was taken before our booking arrived" in task_logs()


def test_gives_up_after_max_slot_attempts_without_booking(sandbox):
    sandbox.inject(Status(400, body=SLOT_TAKEN), times=2)
    with make_dag("next_available_gives_up") as dag:
        BookMeetingOperator(
            task_id="book", max_slot_attempts=2, on_failure_callback=record_failure, **next_available()
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    assert "taken before our booking arrived (2 attempts)" in failures["book"]
    # Two different slots tried (a refused one is not tried again), nothing booked.
    assert [b["startTime"] for b in booking_requests(sandbox)] == [
        "2026-12-02T14:00:00Z",
        "2026-12-02T14:15:00Z",
    ]
    assert sandbox.bookings == []


def test_no_free_slot_in_the_window_fails_clearly_and_sends_no_booking(sandbox):
    sandbox.add_busy_time("alice-smith", new_york("2026-12-02T08:00"), new_york("2026-12-02T12:00"))
    with make_dag("next_available_none_free") as dag:
        BookMeetingOperator(task_id="book", on_failure_callback=record_failure, **next_available())

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    assert failures["book"] == (
        "No free 30-minute slot on page 'alice-smith' in "
        "2026-12-02T09:00:00-05:00 .. 2026-12-02T12:00:00-05:00"
    )
    assert booking_requests(sandbox) == []
    assert {r.method for r in sandbox.requests} == {"GET"}


def test_a_lost_answer_is_settled_through_the_crm_not_resent(sandbox):
    # HubSpot books, then the connection drops before the answer: exactly-once handling still applies.
    sandbox.inject(DropAfterCommit())
    with make_dag("next_available_lost_answer") as dag:
        BookMeetingOperator(task_id="book", **next_available())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert len(booking_requests(sandbox)) == 1
    assert bookings_of(sandbox, BOOKER["email"]) == ["2026-12-02T14:00:00Z"]
    answer = xcom_value(dag_run, "book")
    assert answer["reconciled"] is True and answer["start"] == "2026-12-02T14:00:00Z"


# --- dry run ----------------------------------------------------------------------------------------


def test_dry_run_shows_the_body_for_the_slot_free_now_and_books_nothing(sandbox):
    sandbox.add_busy_time("alice-smith", new_york("2026-12-02T08:00"), new_york("2026-12-02T09:40"))
    with make_dag("next_available_dry_run") as dag:
        BookMeetingOperator(task_id="book", validate_only=True, **next_available())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    body = xcom_value(dag_run, "book")
    assert body == {**BOOKER_WIRE, "startTime": "2026-12-02T14:45:00Z", "timezone": NEW_YORK}
    assert_valid_booking_request(body)
    assert xcom_value(dag_run, "book", key="slot") == "2026-12-02T09:45:00-05:00"
    assert {r.method for r in sandbox.requests} == {"GET"}
    assert sandbox.bookings == []


# --- Airflow runs the task again --------------------------------------------------------------------


class CrashAfterBooking(BookMeetingOperator):
    """Books, then dies on the first try before Airflow stores the result (a worker lost between the
    POST and the XCom push)."""

    def execute(self, context: Any) -> dict[str, Any]:
        answer = super().execute(context)
        if context["ti"].try_number == 1:
            raise RuntimeError("worker lost after the booking POST")
        return answer


def crm_searches(sandbox: Any) -> list[dict[str, Any]]:
    return [r.body for r in sandbox.requests if r.path.endswith("/meetings/search")]


def test_retry_after_booking_does_not_book_a_second_slot(sandbox):
    # The contact already has a meeting of this length outside the window: not this task's booking.
    older = HubSpotSchedulerHook().book_meeting(
        BookMeetingOperator(
            task_id="x", payload={**BOOKER, "startTime": "2026-12-01T20:00:00Z"}
        ).build_booking()
    )
    assert older.raw["start"] == "2026-12-01T20:00:00Z"
    with make_dag("next_available_retry") as dag:
        CrashAfterBooking(task_id="book", retries=1, retry_delay=timedelta(0), **next_available())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert task_instance(dag_run, "book").try_number == 2
    # One POST for this task, one meeting in the window, although its first slot is no longer free (a
    # retry that just booked "the next available slot" would have booked 09:15).
    assert len(booking_requests(sandbox)) == 2  # the older meeting's and ours
    assert bookings_of(sandbox, BOOKER["email"]) == ["2026-12-01T20:00:00Z", "2026-12-02T14:00:00Z"]
    assert window_slots(sandbox)[0] == "2026-12-02T14:30:00Z"
    answer = xcom_value(dag_run, "book")
    # Airflow cleared the first try's XComs; the retry pushed the slot it booked.
    assert xcom_value(dag_run, "book", key="slot") == "2026-12-02T09:00:00-05:00"
    assert sandbox.spec_violations == []
    if HAS_LEDGER:  # the recorded answer of try 1, no CRM search at all
        assert answer == hubspot_answers(sandbox)[1]
        assert crm_searches(sandbox) == []
        return
    assert answer["reconciled"] is True
    assert (answer["start"], answer["crmMeetingId"]) == (
        "2026-12-02T14:00:00Z",
        sandbox.bookings[1]["crmMeetingId"],
    )
    [search] = crm_searches(sandbox)
    assert search["filterGroups"][0]["filters"][1:] == [
        {"propertyName": "hs_meeting_start_time", "operator": "GTE", "value": "1796220000000"},
        {"propertyName": "hs_meeting_start_time", "operator": "LTE", "value": "1796229000000"},
    ]


def test_cleared_task_does_not_book_again(sandbox):
    with make_dag("next_available_cleared") as dag:
        BookMeetingOperator(task_id="book", **next_available())
    first = run_dag(dag)
    assert first.state == "success"

    rerun = rerun_cleared(dag, first)

    assert rerun.state == "success"
    assert task_instance(rerun, "book").try_number == 2
    again = xcom_value(rerun, "book")
    assert again == xcom_value(first, "book") if HAS_LEDGER else again["reconciled"] is True
    assert len(booking_requests(sandbox)) == 1
    assert bookings_of(sandbox, BOOKER["email"]) == ["2026-12-02T14:00:00Z"]


def test_retry_without_earliest_looks_from_when_the_run_was_due(hubspot_sandbox_factory, airflow_db):
    # No earliest: the window starts "now". On the real clock, the run is due before any try ran, so a
    # retry looks for the contact's meeting from then on.
    sandbox = hubspot_sandbox_factory(token=TOKEN)
    now = sandbox.now
    first_free = sandbox_free_slots(sandbox, "alice-smith", HALF_HOUR_MS, now, now + timedelta(weeks=4))[0]
    with make_dag("next_available_retry_open_window") as dag:
        CrashAfterBooking(
            task_id="book",
            payload=CONTACT,
            start_time="next_available",
            retries=1,
            retry_delay=timedelta(0),
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert len(booking_requests(sandbox)) == 1
    assert bookings_of(sandbox, BOOKER["email"]) == [utc(first_free)]
    assert xcom_value(dag_run, "book").get("reconciled") is (None if HAS_LEDGER else True)
    assert xcom_value(dag_run, "book", key="slot") == utc(first_free).replace("Z", "+00:00")


# --- bad input --------------------------------------------------------------------------------------

BAD_WINDOWS = {
    "window_with_fixed_start": (
        {"payload": BOOKER, "earliest": EARLIEST},
        "earliest: only used with start_time='next_available'",
    ),
    "unparsable_earliest": (next_available(earliest="next tuesday"), "earliest: cannot parse 'next tuesday'"),
    "window_too_short": (
        next_available(latest="2026-12-02T09:15"),
        "latest: 2026-12-02T09:15:00-05:00 leaves no room for a 30-minute meeting",
    ),
}


def test_bad_window_fails_once_naming_the_field_and_sends_nothing(sandbox):
    with make_dag("next_available_bad_input") as dag:
        for name, (kwargs, _message) in BAD_WINDOWS.items():
            BookMeetingOperator(task_id=name, retries=2, on_failure_callback=record_failure, **kwargs)

    dag_run = run_dag(dag)

    for name, (_kwargs, message) in BAD_WINDOWS.items():
        assert (task_instance(dag_run, name).state, task_instance(dag_run, name).try_number) == ("failed", 1)
        assert failures[name].startswith(message), failures[name]
    assert sandbox.requests == []


@pytest.mark.parametrize("attempts", [0, -1, True, "3"])
def test_max_slot_attempts_is_checked_when_the_dag_is_parsed(attempts):
    with pytest.raises(BookingInputError, match=r"^max_slot_attempts: expected a whole number >= 1"):
        BookMeetingOperator(task_id="book", max_slot_attempts=attempts, **next_available())
