"""One home for what a failed HubSpot call means to every caller: the hook's own retries, the batch,
the booking flow, the trigger and Airflow's retry policy all ask :func:`classify`.

HubSpot has no idempotency key, so the question is never only "is it worth trying again?" but "may
this request have been applied?": a booking that may exist must be settled (ledger, CRM), not re-sent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hubspot_scheduler_provider.errors import (
    BookingInputError,
    BookingOutcomeUnknownError,
    HubSpotAuthenticationError,
    HubSpotConfigError,
    HubSpotConnectionError,
    HubSpotDailyLimitError,
    HubSpotError,
    HubSpotMissingScopesError,
    HubSpotRateLimitError,
    HubSpotServerError,
)


class Disposition(enum.Enum):
    #: Not applied, and the same request may succeed later (429 ten-secondly, 423/477, a connection
    #: failure before sending; for reads also 5xx and timeouts). ``wait_seconds`` says when.
    RETRYABLE = "retryable"
    #: HubSpot answered and did not apply it; the same request fails again (400 start time taken,
    #: 404 page, a 3xx the provider never follows). The next item of a batch may still succeed.
    NOT_PROCESSED = "not processed"
    #: A write may or may not have been applied (timeout, dropped connection or 5xx after sending):
    #: settle it (ledger, CRM) before anything is sent again.
    OUTCOME_UNKNOWN = "outcome unknown"
    #: Every further request would fail the same way until a person acts (bad token, missing scope,
    #: DAILY limit, broken connection, bad input): stop, and do not let Airflow retry.
    FATAL = "fatal"


@dataclass(frozen=True)
class Classification:
    disposition: Disposition
    #: Seconds HubSpot asked to wait (``Retry-After`` or the rate-limit interval), when it said.
    wait_seconds: float | None = None

    @property
    def stops_batch(self) -> bool:
        """Whether every other item of a batch would hit this too."""
        return self.disposition is Disposition.FATAL

    @property
    def airflow_retry_helps(self) -> bool:
        """Whether a later Airflow try of the task can succeed (an unknown outcome is settled there)."""
        return self.disposition in (Disposition.RETRYABLE, Disposition.OUTCOME_UNKNOWN)


def classify(error: BaseException) -> Classification:
    """What ``error`` (raised by this provider's hook or input parsing) means; see :class:`Disposition`."""
    if isinstance(error, (BookingInputError, HubSpotConfigError)):
        return Classification(Disposition.FATAL)
    if not isinstance(error, HubSpotError):
        # Not ours (a bug, an interrupted worker): another try may pass, and nothing says it was sent.
        return Classification(Disposition.RETRYABLE)
    if isinstance(error, (HubSpotDailyLimitError, HubSpotAuthenticationError, HubSpotMissingScopesError)):
        return Classification(Disposition.FATAL)
    if isinstance(error, BookingOutcomeUnknownError) or error.outcome_unknown:
        return Classification(Disposition.OUTCOME_UNKNOWN)
    if isinstance(error, HubSpotRateLimitError):
        return Classification(Disposition.RETRYABLE, error.retry_after_seconds)
    if isinstance(error, (HubSpotServerError, HubSpotConnectionError)):
        return Classification(Disposition.RETRYABLE)
    return Classification(Disposition.NOT_PROCESSED)
