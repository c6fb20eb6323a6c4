"""A ready Airflow 3.3+ retry policy for tasks that call HubSpot: retry when and as HubSpot says.

Pass it to any operator of this provider (or a task that calls its hooks)::

    BookMeetingOperator(..., retries=3, retry_policy=HubSpotRetryPolicy())

Each failure is read through :func:`~hubspot_scheduler_provider.retry_rules.classify` (the one home for
what an error means); the policy only maps that meaning onto Airflow's decision:

* rate limited (429 ten-secondly) -> retry after HubSpot's ``Retry-After``, not the task's fixed delay;
* validation, auth, missing scope, DAILY limit, bad input (fatal or "HubSpot refused it") -> fail now:
  the same request fails again until a person acts;
* a booking whose outcome is unknown -> retry after :data:`CRM_CATCH_UP_DELAY`, so the next try's CRM
  check (which decides between "already booked" and "send again") sees the meeting if it exists;
* anything else (5xx, connection failures, errors not raised by this provider) -> the task's own
  ``retry_delay``.

Airflow still caps the number of tries at ``retries``, and never consults a policy for
``AirflowFailException`` (bad input and the DAILY limit are already such exceptions).

Before Airflow 3.3 operators have no ``retry_policy=`` argument: this module imports everywhere, but
:class:`HubSpotRetryPolicy` refuses to be built there (a clear error, not a silently ignored policy);
portable DAGs test :data:`RETRY_POLICIES_SUPPORTED` first.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.retry_rules import Disposition, classify

if TYPE_CHECKING:
    from airflow.sdk.definitions.retry_policy import RetryDecision

try:
    from airflow.sdk.definitions.retry_policy import RetryPolicy as _AirflowRetryPolicy
except ImportError:  # Airflow < 3.3
    RETRY_POLICIES_SUPPORTED = False
    _AirflowRetryPolicy = object  # type: ignore[assignment,misc]
else:
    RETRY_POLICIES_SUPPORTED = True

#: Wait before the try that follows a booking whose outcome is unknown. HubSpot's CRM search index
#: shows a new meeting seconds after the booking, sometimes more; the failed try already re-checked for
#: about 7 s (``exactly_once.RECHECK_DELAYS``), so the next check waits well past that.
CRM_CATCH_UP_DELAY = timedelta(seconds=60)


class HubSpotRetryPolicy(_AirflowRetryPolicy):  # type: ignore[misc,valid-type]
    """Retry HubSpot failures as HubSpot asks (see the module docstring).

    :param outcome_unknown_delay: wait before retrying a booking whose outcome is unknown
        (default :data:`CRM_CATCH_UP_DELAY`).
    """

    def __init__(self, outcome_unknown_delay: timedelta = CRM_CATCH_UP_DELAY) -> None:
        if not RETRY_POLICIES_SUPPORTED:
            from airflow import __version__ as airflow_version

            raise RuntimeError(
                f"HubSpotRetryPolicy needs Airflow 3.3 or later (retry_policy= on operators); this is "
                f"Airflow {airflow_version}. Leave retry_policy out there: the task's retries and "
                "retry_delay apply. Portable DAGs check hubspot_scheduler_provider.retry_policy."
                "RETRY_POLICIES_SUPPORTED first."
            )
        if not isinstance(outcome_unknown_delay, timedelta) or outcome_unknown_delay < timedelta(0):
            raise ValueError(
                f"outcome_unknown_delay: expected a timedelta >= 0, got {outcome_unknown_delay!r}"
            )
        self.outcome_unknown_delay = outcome_unknown_delay

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Any = None,
    ) -> RetryDecision:
        from airflow.sdk.definitions.retry_policy import RetryDecision

        classification = classify(exception)
        disposition = classification.disposition
        if disposition in (Disposition.FATAL, Disposition.NOT_PROCESSED):
            kind = type(exception).__name__
            return RetryDecision.fail(
                reason=f"HubSpot: {disposition.value} ({kind}); a retry fails the same way"
            )
        if disposition is Disposition.OUTCOME_UNKNOWN:
            seconds = self.outcome_unknown_delay.total_seconds()
            return RetryDecision.retry(
                delay=self.outcome_unknown_delay,
                reason=f"HubSpot: outcome unknown; retrying after {seconds:g} s, when the CRM lists bookings",
            )
        if classification.wait_seconds is not None:
            wait = classification.wait_seconds
            return RetryDecision.retry(
                delay=timedelta(seconds=wait),
                reason=f"HubSpot: rate limited; retrying after the {wait:g} s it asked for (Retry-After)",
            )
        return RetryDecision.default()

    def serialize(self) -> dict[str, Any]:
        return {
            "__type": "HubSpotRetryPolicy",
            "outcome_unknown_delay": self.outcome_unknown_delay.total_seconds(),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> HubSpotRetryPolicy:
        return cls(outcome_unknown_delay=timedelta(seconds=data["outcome_unknown_delay"]))

    def __repr__(self) -> str:
        return f"HubSpotRetryPolicy(outcome_unknown_delay={self.outcome_unknown_delay!r})"
