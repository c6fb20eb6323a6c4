"""``HubSpotRetryPolicy``: Airflow 3.3's ``retry_policy=`` driven by ``retry_rules.classify``.

The decisions for each kind of failure, then real ``dag.test()`` runs on 3.3 where a booking fails and
Airflow retries it with the policy's delay (read back from the task instance history), and what the
module does on older Airflow (imports; refuses to build a policy that nothing would call).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG

from hubspot_scheduler_provider import retry_policy
from hubspot_scheduler_provider.errors import (
    BookingInputError,
    BookingOutcomeUnknownError,
    HubSpotAuthenticationError,
    HubSpotDailyLimitError,
    HubSpotMissingScopesError,
    HubSpotRateLimitError,
    HubSpotServerError,
    HubSpotValidationError,
)
from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.testing import DropAfterCommit, Status
from tests.compat import HAS_RETRY_POLICY, earlier_tries, requires_retry_policy
from tests.operators.conftest import BOOKER, booking_requests, run_dag, task_instance

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")
#: Longer than any test waits: a retry that comes sooner was timed by the policy, not by the task.
TASK_RETRY_DELAY = timedelta(minutes=30)


def booking_dag(dag_id: str, *, retries: int, retry_delay: timedelta, policy: Any) -> DAG:
    """One ``BookMeetingOperator`` of ``BOOKER`` with the retry policy under test."""
    with DAG(dag_id, schedule=None, start_date=START_DATE, catchup=False) as dag:
        BookMeetingOperator(
            task_id="book", payload=BOOKER, retries=retries, retry_delay=retry_delay, retry_policy=policy
        )
    return dag


# --- decisions -----------------------------------------------------------------------------------------


@requires_retry_policy
@pytest.mark.parametrize(
    ("error", "action", "delay"),
    [
        (
            HubSpotRateLimitError("429", policy_name="TEN_SECONDLY_ROLLING", retry_after_seconds=7.5),
            "retry",
            7.5,
        ),
        (HubSpotRateLimitError("429 without Retry-After"), "default", None),
        (HubSpotDailyLimitError("429", policy_name="DAILY", retry_after_seconds=3600), "fail", None),
        (HubSpotAuthenticationError("401"), "fail", None),
        (HubSpotMissingScopesError("403"), "fail", None),
        (HubSpotValidationError("400 start time not valid"), "fail", None),
        (BookingInputError("email", "not an address"), "fail", None),
        (BookingOutcomeUnknownError("dropped after sending", outcome_unknown=True), "retry", 60.0),
        (HubSpotServerError("503"), "default", None),
        (ConnectionResetError("not raised by the provider"), "default", None),
    ],
)
def test_each_kind_of_failure_gets_its_decision(
    error: BaseException, action: str, delay: float | None
) -> None:
    decision = retry_policy.HubSpotRetryPolicy().evaluate(error, try_number=1, max_tries=3)
    assert decision.action.value == action
    assert (None if decision.retry_delay is None else decision.retry_delay.total_seconds()) == delay
    if action != "default":
        assert decision.reason and decision.reason.startswith("HubSpot: ")


@requires_retry_policy
def test_the_crm_catch_up_delay_is_a_minute_by_default_and_can_be_set() -> None:
    assert timedelta(seconds=60) == retry_policy.CRM_CATCH_UP_DELAY
    policy = retry_policy.HubSpotRetryPolicy(outcome_unknown_delay=timedelta(seconds=5))
    unknown = BookingOutcomeUnknownError("lost answer", outcome_unknown=True)
    assert policy.evaluate(unknown, 1, 2).retry_delay == timedelta(seconds=5)
    assert retry_policy.HubSpotRetryPolicy.deserialize(policy.serialize()).outcome_unknown_delay == timedelta(
        seconds=5
    )
    with pytest.raises(ValueError, match=r"^outcome_unknown_delay: "):
        retry_policy.HubSpotRetryPolicy(outcome_unknown_delay=-timedelta(seconds=1))


@pytest.mark.skipif(HAS_RETRY_POLICY, reason="Airflow 3.3+ has retry policies")
def test_before_airflow_3_3_the_module_imports_and_building_a_policy_says_why_not() -> None:
    assert retry_policy.RETRY_POLICIES_SUPPORTED is False
    with pytest.raises(RuntimeError, match=r"needs Airflow 3\.3 or later"):
        retry_policy.HubSpotRetryPolicy()


@requires_retry_policy
def test_on_airflow_3_3_it_is_an_airflow_retry_policy() -> None:
    from airflow.sdk.definitions.retry_policy import RetryPolicy

    assert retry_policy.RETRY_POLICIES_SUPPORTED is True
    assert isinstance(retry_policy.HubSpotRetryPolicy(), RetryPolicy)


# --- real runs: dag.test() retries with the policy's delay -------------------------------------------


@requires_retry_policy
def test_a_rate_limited_booking_is_retried_after_retry_after_not_the_tasks_delay(
    hubspot_sandbox_factory: Any, airflow_db: str
) -> None:
    sandbox = hubspot_sandbox_factory(now=pendulum.datetime(2026, 12, 1, 12, tz="UTC"))
    # More 429s than the hook waits out itself (5 retries): the task fails, HubSpot asking for 0.4 s.
    rate_limited = Status(429, headers={"Retry-After": "0.4", "X-HubSpot-RateLimit-Remaining": "50"})
    sandbox.inject(rate_limited, method="POST", path_contains="/book", times=6)
    dag = booking_dag(
        "retry_policy_rate_limit",
        retries=1,
        retry_delay=TASK_RETRY_DELAY,
        policy=retry_policy.HubSpotRetryPolicy(),
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    [first] = earlier_tries(dag_run, "book")
    assert first["try_number"] == 1
    assert first["retry_delay_override"] == pytest.approx(0.4)
    assert first["retry_reason"].startswith("HubSpot: rate limited")
    assert task_instance(dag_run, "book").try_number == 2
    assert (task_instance(dag_run, "book").start_date - first["end_date"]) < TASK_RETRY_DELAY
    assert len(sandbox.bookings) == 1
    assert len(booking_requests(sandbox)) == 7  # 6 refused (not applied) + the one that booked


@requires_retry_policy
def test_an_auth_failure_is_not_retried_even_with_retries_left(
    hubspot_sandbox_factory: Any, airflow_db: str
) -> None:
    sandbox = hubspot_sandbox_factory(now=pendulum.datetime(2026, 12, 1, 12, tz="UTC"))
    sandbox.inject(Status(401), method=None, path_contains="/", times=20)
    dag = booking_dag(
        "retry_policy_auth", retries=2, retry_delay=timedelta(0), policy=retry_policy.HubSpotRetryPolicy()
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    ti = task_instance(dag_run, "book")
    assert (ti.state, ti.try_number) == ("failed", 1)
    assert earlier_tries(dag_run, "book") == []
    assert sandbox.bookings == []


@requires_retry_policy
def test_an_unknown_outcome_is_retried_once_the_crm_caught_up_and_books_once(
    hubspot_sandbox_factory: Any, airflow_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CRM lists a new meeting only after 9 s: longer than the try's own re-checks (2 s here).
    from hubspot_scheduler_provider import reconcile

    monkeypatch.setattr(reconcile, "CRM_INDEX_LAG_SECONDS", 2.0)
    sandbox = hubspot_sandbox_factory(
        now=pendulum.datetime(2026, 12, 1, 12, tz="UTC"), crm_index_lag_seconds=9
    )
    sandbox.inject(DropAfterCommit(), method="POST", path_contains="/book")
    catch_up = timedelta(seconds=4)
    dag = booking_dag(
        "retry_policy_outcome_unknown",
        retries=1,
        retry_delay=TASK_RETRY_DELAY,
        policy=retry_policy.HubSpotRetryPolicy(outcome_unknown_delay=catch_up),
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    [first] = earlier_tries(dag_run, "book")
    assert first["retry_delay_override"] == catch_up.total_seconds()
    assert first["retry_reason"].startswith("HubSpot: outcome unknown")
    second = task_instance(dag_run, "book")
    assert second.start_date - first["end_date"] >= catch_up
    assert len(sandbox.bookings) == 1  # the retry found the first try's meeting in the CRM
    assert len(booking_requests(sandbox)) == 1
