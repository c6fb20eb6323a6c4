"""The five sequences that booked a lead twice (or lost one) before the booking ledger, in real DAG runs.

Page ``sales-team/round-robin`` has two hosts free at the same start, so HubSpot books a second request
for a taken start with the other host: a duplicate shows as two bookings, not as an error. Each test ends
with the sandbox's own booking list holding exactly one booking (or a failure with a reason).

On Airflow 3.3+ the ledger (task state store) and the booking keys (asset state store) settle them; on
older Airflow the CRM fallback does, as far as the CRM allows (see the README's per-version table).
E2, a task cleared while its POST is in flight, runs on the real deployment too (tests/e2e).
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from typing import Any

import pytest

from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.testing import Delay, DropAfterCommit, Status
from tests.operators.conftest import HAS_LEDGER, hubspot_answers, task_instance, xcom_value
from tests.reliability.helpers import (
    FIRST_SLOT,
    assert_exactly_once,
    booking_counts,
    booking_posts,
    key_of,
    make_dag,
    payload,
    reported,
    retrying,
    run_dag,
)

TEAM_PAGE = "sales-team/round-robin"
#: Thursday 15:00 in Berlin: both hosts of the team page are free (Bruno is busy Wednesday afternoons),
#: and so is Alice (09:00 in New York) for E3's meeting on her page.
START = FIRST_SLOT + timedelta(days=1)
LEAD = payload(7, START, slug=TEAM_PAGE)


def crm_requests(sandbox: Any) -> list[str]:
    return [r.path for r in sandbox.requests if "/crm/" in r.path]


# --- E1: two DAG runs carry the same lead --------------------------------------------------------------


def test_e1_a_booking_key_books_once_across_dag_runs(sandbox, task_logs):
    with make_dag("ledger_e1_keyed") as dag:
        BookMeetingOperator(task_id="book", payload=LEAD, booking_key="lead-7-intro")

    first = run_dag(dag)
    second = run_dag(dag)  # e.g. a manual run next to the scheduled one

    assert (first.state, second.state) == ("success", "success")
    assert booking_posts(sandbox) == 1
    again = xcom_value(second, "book")
    assert again["reconciled"] is True and again["start"] == xcom_value(first, "book")["start"]
    if HAS_LEDGER:  # the first run's HubSpot answer, from the asset state store
        assert again["calendarEventId"] == xcom_value(first, "book")["calendarEventId"]
        assert "Booking key 'lead-7-intro' was booked by ledger_e1_keyed/" in task_logs()
    assert_exactly_once(sandbox, [key_of(LEAD)])


def test_e1_without_a_key_two_runs_book_twice_on_a_team_page(sandbox):
    """Why the key exists: each run is a new task instance, and HubSpot gives the second host the slot."""
    with make_dag("ledger_e1_unkeyed") as dag:
        BookMeetingOperator(task_id="book", payload=LEAD)

    run_dag(dag)
    run_dag(dag)

    assert booking_counts(sandbox)[key_of(LEAD)] == 2


# --- E2: the task is cleared (killed) while its POST is in flight --------------------------------------


class TaskStopped(Exception):
    """Stands for the signal Airflow stops a task with (``dag.test()`` of Airflow 2 lets a BaseException
    such as AirflowTaskTimeout escape instead of retrying the task)."""


class KilledMidPost(BookMeetingOperator):
    """Try 1 is stopped 2 s in, as a clear (or an execution timeout) stops a running task: by a signal,
    wherever it is, here inside the booking POST."""

    def execute(self, context: Any) -> dict[str, Any]:
        if context["ti"].try_number > 1:
            return super().execute(context)

        def stop(signum: int, frame: Any) -> None:
            # Not an OSError, which the HTTP stack would turn into a connection error this try could settle.
            raise TaskStopped("the task was stopped while its booking POST was in flight")

        previous = signal.signal(signal.SIGALRM, stop)
        signal.alarm(2)
        try:
            return super().execute(context)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def test_e2_a_try_killed_mid_post_is_settled_not_raced(sandbox):
    """Try 1 is stopped while HubSpot takes 6 s to book; try 2 starts at once. It must not send again:
    on 3.3 the ledger says a send is in flight, on older Airflow every repeated try waits for the CRM."""
    sandbox.inject(Delay(6.0), method="POST", path_contains="/meeting-links/book")
    with make_dag("ledger_e2_killed") as dag:
        KilledMidPost(task_id="book", payload=LEAD, crm_index_lag_seconds=10, **retrying())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert task_instance(dag_run, "book").try_number == 2
    assert "stopped while its booking POST was in flight" in reported("book", 1)
    assert xcom_value(dag_run, "book")["reconciled"] is True  # found in the CRM once HubSpot booked it
    assert booking_posts(sandbox) == 1
    assert_exactly_once(sandbox, [key_of(LEAD)])


# --- E3: a 502 that booked nothing, while the lead has a meeting at that start on another page ----------


def test_e3_another_pages_meeting_is_never_taken_for_this_booking(sandbox):
    other_page = payload(7, START, slug="alice-smith")
    with make_dag("ledger_e3_other_page") as setup:
        BookMeetingOperator(task_id="book", payload=other_page)
    assert run_dag(setup).state == "success"
    sandbox.inject(Status(502), method="POST", path_contains="/meeting-links/book")
    with make_dag("ledger_e3") as dag:
        BookMeetingOperator(task_id="book", payload=LEAD, **retrying())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert "outcome unknown, not re-sent" in reported("book", 1)
    answer = xcom_value(dag_run, "book")
    assert "reconciled" not in answer and answer["calendarEventId"]  # booked by try 2, not "found"
    assert_exactly_once(sandbox, [key_of(other_page), key_of(LEAD)])


# --- E4: the connection drops after the commit and the CRM index lags 20 s -----------------------------


def test_e4_a_lost_answer_waits_out_the_crm_index_lag(sandbox):
    sandbox.crm_index_lag_seconds = 20.0
    sandbox.inject(DropAfterCommit(), method="POST", path_contains="/meeting-links/book")
    with make_dag("ledger_e4") as dag:
        BookMeetingOperator(task_id="book", payload=LEAD, crm_index_lag_seconds=30, **retrying())

    started = time.monotonic()
    dag_run = run_dag(dag)
    settled_after = time.monotonic() - started

    assert dag_run.state == "success"
    assert xcom_value(dag_run, "book")["reconciled"] is True
    assert booking_posts(sandbox) == 1
    # Found by a re-check once the index shows it: after the 20 s lag, well before the 30 s budget.
    assert 20 <= settled_after < 40, settled_after
    assert_exactly_once(sandbox, [key_of(LEAD)])


# --- E5: try 1 booked, the invitee cancelled, then a retry --------------------------------------------


class CancelledBeforeTheRetry(BookMeetingOperator):
    """Books; the invitee cancels; the worker dies before Airflow stores the result."""

    sandbox: Any = None

    def execute(self, context: Any) -> dict[str, Any]:
        answer = super().execute(context)
        if context["ti"].try_number == 1:
            self.sandbox.set_meeting_outcome(self.sandbox.bookings[-1]["crmMeetingId"], "CANCELED")
            raise RuntimeError("worker lost after the booking POST")
        return answer


def test_e5_a_cancelled_booking_is_not_booked_again_by_a_retry(sandbox, task_logs):
    CancelledBeforeTheRetry.sandbox = sandbox
    with make_dag("ledger_e5") as dag:
        CancelledBeforeTheRetry(task_id="book", payload=LEAD, **retrying())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    answer = xcom_value(dag_run, "book")
    if HAS_LEDGER:  # the recorded answer, with no HubSpot call at all by try 2
        assert answer == hubspot_answers(sandbox)[0]
        assert "It is not booked again even if it was cancelled since" in task_logs()
    else:
        assert (answer["reconciled"], answer["outcome"]) == (True, "CANCELED")
        assert "outcome is CANCELED since; it is not booked again" in task_logs()
    assert booking_posts(sandbox) == 1
    assert_exactly_once(sandbox, [key_of(LEAD)])


# --- the ledger itself ----------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_LEDGER, reason="the task state store exists from Airflow 3.3")
def test_a_retry_after_a_recorded_answer_makes_no_hubspot_call(sandbox):
    class CrashAfterBooking(BookMeetingOperator):
        def execute(self, context: Any) -> dict[str, Any]:
            answer = super().execute(context)
            if context["ti"].try_number == 1:
                raise RuntimeError("worker lost")
            return answer

    with make_dag("ledger_zero_calls") as dag:
        CrashAfterBooking(task_id="book", payload=LEAD, **retrying())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    answer = xcom_value(dag_run, "book")
    assert answer == hubspot_answers(sandbox)[0] and answer["calendarEventId"]
    # Try 1: the POST and the portal id for the contact link; try 2: nothing (links come from the record).
    assert [r.path.rsplit("/", 1)[-1] for r in sandbox.requests] == ["book", "details"]
    assert crm_requests(sandbox) == []


@pytest.mark.skipif(not HAS_LEDGER, reason="the task state store exists from Airflow 3.3")
def test_a_retry_after_a_refused_booking_books_without_asking_the_crm(sandbox):
    """HubSpot refused try 1 (a 400: it booked nothing): nothing recorded, so try 2 books straight away,
    without the CRM read scope a CRM check would need."""
    sandbox.inject(Status(400), method="POST", path_contains="/meeting-links/book")
    with make_dag("ledger_nothing_recorded") as dag:
        BookMeetingOperator(task_id="book", payload=LEAD, **retrying())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert crm_requests(sandbox) == []
    assert_exactly_once(sandbox, [key_of(LEAD)])
