"""``BookMeetingsOperator`` in real DAG runs (``dag.test()`` on SQLite) against the sandbox on loopback."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG, task

from hubspot_scheduler_provider.operators.book_meetings import BookMeetingsOperator
from hubspot_scheduler_provider.testing import Status
from tests.batch.conftest import lead, slot
from tests.operators.conftest import (
    HAS_LEDGER,
    SANDBOX_NOW,
    TOKEN,
    assert_valid_booking_request,
    booking_requests,
    hubspot_answers,
    run_dag,
    task_instance,
    xcom_value,
)

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")
failures: dict[str, str] = {}


def make_dag(dag_id: str, **kwargs: Any) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START_DATE, catchup=False, **kwargs)


def record_failure(context: Any) -> None:
    failures[context["ti"].task_id] = str(context["exception"])


def booked_starts(sandbox: Any) -> list[str]:
    return sorted(booking["start"] for booking in sandbox.bookings)


def statuses(sandbox: Any) -> list[int | None]:
    return [request.status for request in sandbox.requests]


# --- results ------------------------------------------------------------------------------------------


def test_results_in_input_order_and_the_task_fails_at_the_end_naming_each_failure(sandbox):
    failures.clear()
    leads = [lead(n) for n in range(6)]
    leads[2] = lead(2, email="not-an-address")  # bad input: never sent
    leads[4] = lead(4, startTime="2026-12-02T12:07:00Z")  # HubSpot refuses: not a slot of the page
    with make_dag("batch_failures_fail_the_task") as dag:
        BookMeetingsOperator(
            task_id="book",
            payloads=leads,
            retries=2,
            retry_delay=timedelta(0),
            on_failure_callback=record_failure,
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    # Bad input and a refused slot would fail again: no retry.
    assert task_instance(dag_run, "book").try_number == 1
    results = xcom_value(dag_run, "book")
    answers = {answer["start"]: answer for answer in hubspot_answers(sandbox)}
    for number in (0, 1, 3, 5):
        assert results[number] == answers[slot(number)]  # HubSpot's answer, unchanged, at its input position
    assert results[2] == {"index": 2, "error": results[2]["error"], "field": "email"}
    assert "'not-an-address' is not an email address" in results[2]["error"]
    assert results[4]["index"] == 4 and "field" not in results[4]
    assert "MEETING_START_TIME_NOT_VALID" in results[4]["error"]
    # Each sent booking is HubSpot's documented request; the bad one never left the client.
    sent = booking_requests(sandbox)
    assert sorted(body["email"] for body in sent) == sorted(leads[n]["email"] for n in (0, 1, 3, 4, 5))
    for body in sent:
        assert_valid_booking_request(body)
    message = failures["book"]
    assert message.startswith("2 of 6 bookings failed (4 booked)")
    assert "#2: email:" in message and "#4: HubSpot POST" in message


def test_failed_items_do_not_fail_the_task_when_configured(sandbox):
    leads = [lead(0), lead(1, duration="PT45M")]  # 45 minutes is not offered by the page

    with make_dag("batch_failures_tolerated") as dag:
        BookMeetingsOperator(task_id="book", payloads=leads, fail_on_item_failure=False)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    results = xcom_value(dag_run, "book")
    assert results[0]["start"] == slot(0) and results[0]["calendarEventId"]
    assert results[1]["index"] == 1
    assert "MEETING_DURATION_NOT_VALID" in results[1]["error"]


def test_payloads_from_an_xcom_arg_with_shared_keywords(sandbox):
    with make_dag("batch_from_xcom_arg") as dag:

        @task
        def new_leads() -> list[dict[str, Any]]:
            # Page and duration come from the operator, the rest per lead, in snake_case.
            return [
                {
                    "contact_email": f"x{n}@example.com",
                    "first_name": "X",
                    "last_name": str(n),
                    "start_time": slot(n),
                }
                for n in range(3)
            ]

        BookMeetingsOperator(task_id="book", payloads=new_leads(), slug="alice-smith", duration="PT30M")

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    results = xcom_value(dag_run, "book")
    assert [result["start"] for result in results] == [slot(n) for n in range(3)]
    assert {body["slug"] for body in booking_requests(sandbox)} == {"alice-smith"}
    assert {body["duration"] for body in booking_requests(sandbox)} == {1800000}


def test_payloads_rendered_by_jinja_as_json_text(sandbox):
    with make_dag("batch_from_jinja") as dag:

        @task
        def new_leads() -> list[dict[str, Any]]:
            return [lead(0), lead(1)]

        book = BookMeetingsOperator(
            task_id="book", payloads="{{ ti.xcom_pull(task_ids='new_leads') | tojson }}"
        )
        new_leads() >> book

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert [result["start"] for result in xcom_value(dag_run, "book")] == [slot(0), slot(1)]


def test_a_single_booking_instead_of_a_list_fails_before_any_request(sandbox):
    failures.clear()
    with make_dag("batch_not_a_list") as dag:
        BookMeetingsOperator(task_id="book", payloads=lead(0), retries=2, on_failure_callback=record_failure)

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    assert task_instance(dag_run, "book").try_number == 1
    assert failures["book"].startswith("payloads: expected a list of bookings")
    assert sandbox.requests == []


def test_an_error_every_item_would_hit_stops_the_batch(hubspot_sandbox_factory, airflow_db, monkeypatch):
    failures.clear()
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW)
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps({**sandbox.connection_dict(), "password": "revoked-token"})
    )
    with make_dag("batch_stops_on_401") as dag:
        BookMeetingsOperator(
            task_id="book", payloads=[lead(n) for n in range(5)], on_failure_callback=record_failure
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    assert len(sandbox.requests) == 1  # one 401, then the other four are not sent
    assert statuses(sandbox) == [401]
    results = xcom_value(dag_run, "book")
    assert [result["index"] for result in results] == [0, 1, 2, 3, 4]
    assert all(
        result["error"].startswith("not attempted: HubSpotAuthenticationError") for result in results[1:]
    )
    assert "Stopped early after HubSpotAuthenticationError" in failures["book"]


# --- pacing -------------------------------------------------------------------------------------------


def test_paces_to_the_limit_learned_from_hubspots_headers_without_429s(hubspot_sandbox_factory, airflow_db):
    # 4 requests per 0.25 s, 18 bookings by 8 threads: unpaced, most would bounce off the limit.
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, rate_limit=4, rate_window_seconds=0.25)
    with make_dag("batch_paced") as dag:
        BookMeetingsOperator(task_id="book", payloads=[lead(n) for n in range(18)], max_workers=8)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert statuses(sandbox) == [200] * 18  # not one 429
    assert booked_starts(sandbox) == sorted(slot(n) for n in range(18))


def test_paces_to_a_configured_limit_below_the_accounts(hubspot_sandbox_factory, airflow_db):
    # The account allows 100 per 10 s, but another job shares it: this task may use 3 per 0.25 s.
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW)
    sandbox.limiter.limit, sandbox.limiter.window_seconds = 3, 0.25  # what the account would refuse beyond
    with make_dag("batch_paced_configured") as dag:
        BookMeetingsOperator(
            task_id="book",
            payloads=[lead(n) for n in range(9)],
            max_requests_per_window=3,
            window_seconds=0.25,
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert statuses(sandbox) == [200] * 9


# --- retries ------------------------------------------------------------------------------------------


def test_a_retry_books_only_what_is_not_booked_yet(hubspot_sandbox_factory, airflow_db):
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, rate_window_seconds=0.05)
    # The first booking meets 429s until the hook gives up (1 try + 5 retries): a retryable failure.
    sandbox.inject(Status(429), times=6)
    leads = [lead(n) for n in range(4)]
    with make_dag("batch_retry_reconciles") as dag:
        BookMeetingsOperator(task_id="book", payloads=leads, retries=1, retry_delay=timedelta(0))

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert task_instance(dag_run, "book").try_number == 2
    # Each meeting booked exactly once, although the second attempt went through all four items.
    assert booked_starts(sandbox) == sorted(slot(n) for n in range(4))
    committed = [
        request for request in sandbox.requests if request.path.endswith("/book") and request.status == 200
    ]
    assert len(committed) == 4
    results = xcom_value(dag_run, "book")
    assert results[0]["calendarEventId"] and "reconciled" not in results[0]  # booked by the retry
    for number in (1, 2, 3):  # booked by the first attempt: from its ledger (3.3+) or the CRM
        assert results[number]["start"] == slot(number)
        if HAS_LEDGER:
            assert results[number]["calendarEventId"] and "reconciled" not in results[number]
        else:
            assert results[number]["reconciled"] is True and results[number]["crmMeetingId"]
    # With the ledger the retry asks the CRM nothing: no contact lookups, no searches.
    assert bool([r for r in sandbox.requests if "/crm/" in r.path]) is not HAS_LEDGER


# --- parse time (import cost: tests/test_import_cost.py) ----------------------------------------------


def test_template_fields():
    assert set(BookMeetingsOperator.template_fields) == {
        "payloads",
        "slug",
        "duration",
        "timezone",
        "locale",
        "form_fields",
        "legal_consent_responses",
        "likely_available_user_ids",
        "hubspot_conn_id",
        "booking_key",
    }
    assert "email" not in BookMeetingsOperator.template_fields


@pytest.mark.parametrize(
    ("argument", "value"),
    [("max_workers", 0), ("max_workers", 2.5), ("max_requests_per_window", 0), ("window_seconds", -1)],
)
def test_bad_settings_fail_at_parse_time(argument, value):
    with pytest.raises(ValueError, match=f"^{argument}: must be"):
        BookMeetingsOperator(task_id="book", payloads=[], **{argument: value})
