"""Fault-injection suite: one test per scenario of issue 6, each judged by the sandbox's own booking list.

The invariant (``assert_exactly_once``): every requested booking exists exactly once in the sandbox, or its
task failed with a reason; none is lost, none is duplicated, nothing unrequested is booked.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from hubspot_scheduler_provider.booking_flow import BookingFlow, BookingOutcome
from hubspot_scheduler_provider.errors import HubSpotError
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.testing import (
    DropAfterCommit,
    DropBeforeCommit,
    HubSpotSandbox,
    SlowAfterCommit,
    Status,
)
from tests.operators.conftest import HAS_LEDGER, hubspot_answers, task_instance, xcom_value
from tests.reliability.helpers import (
    REPORTED,
    SANDBOX_NOW,
    TOKEN,
    assert_exactly_once,
    booking_posts,
    free_slots,
    key_of,
    make_dag,
    payload,
    reported,
    rerun_cleared,
    retrying,
    run_dag,
)

BOOKING = payload()


def book_once_dag(dag_id: str, **operator_kwargs: Any) -> Any:
    with make_dag(dag_id) as dag:
        BookMeetingOperator(task_id="book", payload=BOOKING, **retrying(**operator_kwargs))
    return dag


def answered(sandbox: HubSpotSandbox, status: int) -> int:
    return sum(1 for r in sandbox.requests if r.status == status)


# --- the booking POST loses its answer ---------------------------------------------------------------


def test_connection_dropped_before_commit(sandbox):
    """Nothing booked, answer lost: try 1 fails "not re-sent"; the retry finds nothing in the CRM, books."""
    sandbox.inject(DropBeforeCommit())

    dag_run = run_dag(book_once_dag("fault_drop_before_commit"))

    assert dag_run.state == "success"
    assert "not re-sent" in reported("book", 1)
    assert booking_posts(sandbox) == 2
    assert xcom_value(dag_run, "book")["calendarEventId"]  # booked by try 2, not reconciled
    assert_exactly_once(sandbox, [key_of(BOOKING)])


def test_connection_dropped_after_commit(sandbox, capfd, caplog):
    """Booked, answer lost: the same try finds the meeting in the CRM and returns it."""
    sandbox.inject(DropAfterCommit())

    dag_run = run_dag(book_once_dag("fault_drop_after_commit"))

    assert dag_run.state == "success"
    assert task_instance(dag_run, "book").try_number == 1
    assert xcom_value(dag_run, "book")["reconciled"] is True
    output = capfd.readouterr()
    assert "Booking reconciled, not sent again" in output.out + output.err + caplog.text
    assert booking_posts(sandbox) == 1
    assert_exactly_once(sandbox, [key_of(BOOKING)])


def test_read_timeout_after_commit(hubspot_sandbox_factory, airflow_db):
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, conn_extra={"timeout": 1})
    sandbox.inject(SlowAfterCommit(2.5))

    dag_run = run_dag(book_once_dag("fault_read_timeout"))

    assert dag_run.state == "success"
    assert xcom_value(dag_run, "book")["reconciled"] is True
    assert booking_posts(sandbox) == 1
    assert_exactly_once(sandbox, [key_of(BOOKING)])


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_error(sandbox, status):
    """A 5xx to the POST: outcome unknown. Not in the CRM, so try 1 fails without re-sending; try 2 checks
    the CRM again and books."""
    sandbox.inject(Status(status))

    dag_run = run_dag(book_once_dag(f"fault_http_{status}"))

    assert dag_run.state == "success"
    first_try = reported("book", 1)
    assert "not re-sent" in first_try and f"status={status}" in first_try
    assert booking_posts(sandbox) == 2
    assert_exactly_once(sandbox, [key_of(BOOKING)])


# --- rate limits ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_429_storm(hubspot_sandbox_factory, airflow_db):
    """Eight mapped bookings against 4 requests per second, plus three injected 429s: all wait and book."""
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, rate_limit=4, rate_window_seconds=1.0)
    bookings = [payload(i, start) for i, start in enumerate(free_slots(8))]
    sandbox.reset()
    sandbox.inject(Status(429), times=3)
    with make_dag("fault_429_storm") as dag:
        BookMeetingOperator.partial(task_id="book", **retrying()).expand(payload=bookings)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert answered(sandbox, 429) >= 3
    assert REPORTED == {}  # every 429 waited out inside the task
    assert_exactly_once(sandbox, [key_of(b) for b in bookings])


def test_daily_limit(hubspot_sandbox_factory, airflow_db):
    """DAILY 429: fails at once, no Airflow retry (it would fail the same way until midnight)."""
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, daily_limit=0)

    dag_run = run_dag(book_once_dag("fault_daily_limit", retries=3))

    ti = task_instance(dag_run, "book")
    assert (dag_run.state, ti.state, ti.try_number) == ("failed", "failed", 1)
    reason = reported("book", 1)
    assert "policyName=DAILY" in reason and "midnight" in reason
    assert booking_posts(sandbox) == 1
    assert_exactly_once(sandbox, [key_of(BOOKING)], {key_of(BOOKING): reason})


# --- credentials ---------------------------------------------------------------------------------


def test_token_expired_mid_run_with_oauth_refresh(hubspot_sandbox_factory, airflow_db):
    """The OAuth access token expires between reading the page and booking: the POST gets 401
    (not processed), the hook refreshes the token and sends it again; booked once."""
    page_read = threading.Event()
    sandbox: HubSpotSandbox = hubspot_sandbox_factory(
        token=None,
        oauth_client_id="client-1",
        oauth_client_secret="client-secret-RELIABILITY-never-print",
        oauth_refresh_token="refresh-token-RELIABILITY-never-print",
        now=lambda: SANDBOX_NOW + (timedelta(minutes=31) if page_read.is_set() else timedelta(0)),
    )

    def after_page_read(context: Any) -> None:
        page_read.set()  # 31 minutes "pass" once the page was read: the 30-minute token is stale

    class ExpiringBetweenReadAndBook(BookMeetingOperator):
        def _check_against_page(self, hook: Any, booking: Any) -> None:
            super()._check_against_page(hook, booking)
            after_page_read({})

    with make_dag("fault_token_expiry") as dag:
        ExpiringBetweenReadAndBook(task_id="book", payload=BOOKING, validate_against_page=True, **retrying())

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    posts = [r.status for r in sandbox.requests if r.path.endswith("/meeting-links/book")]
    assert posts == [401, 200]
    assert sandbox.tokens.refresh_count == 2
    assert_exactly_once(sandbox, [key_of(BOOKING)])


# --- Airflow runs the task again ------------------------------------------------------------------


class CrashAfterBooking(BookMeetingOperator):
    """Books, then dies on the first try before Airflow stores the result (a worker crash between the
    POST and the XCom push: under ``dag.test()`` an exception at that point is the observable equivalent)."""

    def execute(self, context: Any) -> dict[str, Any]:
        answer = super().execute(context)
        if context["ti"].try_number == 1:
            raise RuntimeError("worker lost after the booking POST, before the XCom push")
        return answer


@pytest.mark.parametrize("validate_against_page", [False, True], ids=["plain", "validating-the-page"])
def test_worker_crash_between_post_and_xcom_push(sandbox, validate_against_page):
    # With validate_against_page the retry must not reject its own earlier booking as "slot not offered".
    with make_dag(f"fault_worker_crash_{validate_against_page}") as dag:
        CrashAfterBooking(
            task_id="book", payload=BOOKING, validate_against_page=validate_against_page, **retrying()
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert task_instance(dag_run, "book").try_number == 2
    assert "worker lost" in reported("book", 1)
    answer = xcom_value(dag_run, "book")
    if HAS_LEDGER:  # the answer try 1 recorded, returned without asking the CRM
        assert answer == hubspot_answers(sandbox)[0]
        assert not [r for r in sandbox.requests if "/crm/" in r.path]
    else:
        assert answer["reconciled"] is True
    assert booking_posts(sandbox) == 1
    assert_exactly_once(sandbox, [key_of(BOOKING)])


def test_cleared_and_rerun_task(sandbox):
    dag = book_once_dag("fault_cleared_rerun")
    first = run_dag(dag)
    assert first.state == "success"
    booked = xcom_value(first, "book")

    rerun = rerun_cleared(dag, first)

    assert rerun.state == "success"
    assert task_instance(rerun, "book").try_number == 2
    again = xcom_value(rerun, "book")
    assert again == booked if HAS_LEDGER else again["reconciled"] is True
    assert (again["contactId"], again["start"], again["end"]) == (
        booked["contactId"],
        booked["start"],
        booked["end"],
    )
    assert booking_posts(sandbox) == 1
    assert_exactly_once(sandbox, [key_of(BOOKING)])


# --- many at once -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_many_mapped_tasks_in_parallel(hubspot_sandbox_factory, airflow_db):
    """Sixteen mapped task instances run at once (one thread and one hook each, as separate workers would)
    against one account limited to 10 requests per second, with lost answers, 5xx and 429s sprinkled in.
    Each gets Airflow's two tries; then the whole map is cleared and run again. Exactly once throughout."""
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, rate_limit=10, rate_window_seconds=1.0)
    bookings = [payload(i, start) for i, start in enumerate(free_slots(16))]
    sandbox.reset()
    for fault, times in ((DropAfterCommit(), 3), (DropBeforeCommit(), 2), (Status(503), 2), (Status(429), 3)):
        sandbox.inject(fault, times=times)

    def mapped_task_instance(index: int, first_try: int) -> tuple[BookingOutcome | None, str]:
        from hubspot_scheduler_provider.booking_input import build_booking

        booking = build_booking(bookings[index], {})
        reason = ""
        for try_number in (first_try, first_try + 1):  # retries=1
            hook = HubSpotSchedulerHook()
            try:
                return BookingFlow(hook, log=hook.log, repeat=try_number > 1).book(booking), ""
            except HubSpotError as error:
                reason = str(error)
                if isinstance(error, AirflowFailException):
                    break
            finally:
                hook.close()
        return None, reason

    with ThreadPoolExecutor(max_workers=8) as pool:
        first_run = list(pool.map(mapped_task_instance, range(16), [1] * 16))
    failed = {key_of(bookings[i]): reason for i, (outcome, reason) in enumerate(first_run) if outcome is None}
    assert_exactly_once(sandbox, [key_of(b) for b in bookings], failed)
    assert len(sandbox.bookings) >= 14  # at most the two DropBeforeCommit tasks may have needed their retry

    posts_before_clear = booking_posts(sandbox)
    with ThreadPoolExecutor(max_workers=8) as pool:
        cleared_run = list(pool.map(mapped_task_instance, range(16), [3] * 16))

    assert all(outcome is not None for outcome, _ in cleared_run), [r for _, r in cleared_run if r]
    reconciled = [outcome.reconciled for outcome, _ in cleared_run if outcome is not None]
    assert sum(reconciled) == 16 - len(failed)  # booked ones are found, none sent again
    assert booking_posts(sandbox) == posts_before_clear + len(failed)
    assert_exactly_once(sandbox, [key_of(b) for b in bookings])
