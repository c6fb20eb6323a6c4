"""One home for what a failed HubSpot call means to every caller: the hook's own retries, the batch,
the booking flow, the trigger and Airflow's retry policy all ask :func:`classify`.

HubSpot has no idempotency key, so the question is never only "is it worth trying again?" but "may
this request have been applied?": a booking that may exist must be settled (ledger, CRM), not re-sent.

The rules, applied by :func:`outcome_unknown_after` (when the transport builds an error) and
:func:`classify` (when anyone reads one):

* a write (``idempotent=False``) that may have reached HubSpot and got no answer saying it was not
  applied (a timeout, a dropped connection, a 5xx, or a 2xx whose body is unreadable or too large)
  has an unknown outcome; a 3xx or 4xx answer means it was not applied;
* 429 (ten-secondly), 423 Locked, 477 Migration in progress and connection failures before sending are
  retryable for every request; 5xx and timeouts only for reads (a write's outcome is unknown then);
* a ``DAILY`` 429, a rejected token, a missing scope, a broken connection or bad input is fatal;
* a 3xx is never followed and never retried: not processed (the transport refuses redirects by design);
* :func:`wait_before_retry` is the hook's wait (what HubSpot asked, else :class:`RetryPolicy`'s
  back-off); :func:`poll_again_after` is the trigger's (never sooner than its poll interval).

Standard library only (and ``errors``): operators and the triggerer import this at parse time.
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
    HubSpotRedirectError,
    HubSpotResponseError,
    HubSpotServerError,
)

#: Answers saying HubSpot did NOT process the request (423 Locked, 477 Migration in progress; HubSpot
#: asks to retry after ``Retry-After``): safe to repeat even for a booking.
NOT_PROCESSED_STATUSES = frozenset({423, 477})
#: Statuses worth retrying for requests that are safe to repeat.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504}) | NOT_PROCESSED_STATUSES
#: How long HubSpot holds the lock behind a 423 answer: never retry sooner.
LOCK_SECONDS = 2.0
#: The trigger's wait after HubSpot's DAILY limit is used up: asking every poll would only get 429s.
DAILY_LIMIT_BACKOFF_SECONDS = 900.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long the hook retries what :func:`classify` calls retryable."""

    #: Retries after the first attempt.
    max_retries: int = 5
    #: First back-off after a 5xx or connection error; doubles each retry.
    backoff_seconds: float = 1.0
    #: No single wait is longer; when HubSpot asks for more (``Retry-After``) the error is raised instead.
    max_wait_seconds: float = 60.0

    def backoff(self, retry_number: int) -> float:
        """Exponential back-off for the ``retry_number``-th retry (1-based), capped."""
        return min(self.backoff_seconds * 2 ** (retry_number - 1), self.max_wait_seconds)


def outcome_unknown_after(*, idempotent: bool, sent: bool, status: int | None = None) -> bool:
    """Whether a request that failed may have been applied by HubSpot all the same.

    ``sent``: the request may have reached HubSpot (False only for a refused or timed-out connect).
    ``status``: the answer's status, None when no (complete) answer arrived.
    """
    if idempotent or not sent:
        return False
    return status is None or status >= 500 or 200 <= status < 300


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
    #: Never retry sooner than this (a 423 lock lasts :data:`LOCK_SECONDS`).
    floor_seconds: float = 0.0

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
    if _is_daily_limit(error) or isinstance(error, (HubSpotAuthenticationError, HubSpotMissingScopesError)):
        return Classification(Disposition.FATAL)
    if isinstance(error, BookingOutcomeUnknownError) or error.outcome_unknown:
        return Classification(Disposition.OUTCOME_UNKNOWN)
    if isinstance(error, HubSpotRedirectError):
        return Classification(Disposition.NOT_PROCESSED)
    if isinstance(error, HubSpotRateLimitError):
        return Classification(Disposition.RETRYABLE, error.retry_after_seconds)
    if error.status in NOT_PROCESSED_STATUSES:
        floor = LOCK_SECONDS if error.status == 423 else 0.0
        return Classification(Disposition.RETRYABLE, error.retry_after_seconds, floor)
    if isinstance(error, (HubSpotServerError, HubSpotConnectionError)):
        return Classification(Disposition.RETRYABLE, error.retry_after_seconds)
    return Classification(Disposition.NOT_PROCESSED)


def _is_daily_limit(error: HubSpotError) -> bool:
    """The account's DAILY quota is used up (until midnight in the account's time zone)."""
    return isinstance(error, HubSpotDailyLimitError) or (
        isinstance(error, HubSpotRateLimitError) and error.policy_name == "DAILY"
    )


def wait_before_retry(classification: Classification, retry_number: int, policy: RetryPolicy) -> float | None:
    """Seconds the hook waits before its ``retry_number``-th retry (1-based), or None when it must not
    retry: not retryable, or HubSpot asked for longer than ``policy.max_wait_seconds``."""
    if classification.disposition is not Disposition.RETRYABLE:
        return None
    asked = classification.wait_seconds
    wait = max(asked if asked is not None else policy.backoff(retry_number), classification.floor_seconds)
    return wait if wait <= policy.max_wait_seconds else None


def poll_again_after(error: BaseException, poll_interval: float) -> float | None:
    """Seconds a polling trigger (reads only) waits before its next poll after ``error``, or None when
    waiting cannot help (bad input, a rejected token, an unknown page, a redirect, a bug)."""
    if not isinstance(error, HubSpotError):
        return None
    if _is_daily_limit(error):
        return max(error.retry_after_seconds or 0.0, DAILY_LIMIT_BACKOFF_SECONDS)
    classification = classify(error)
    if classification.disposition is Disposition.RETRYABLE:
        return max(classification.wait_seconds or 0.0, classification.floor_seconds, poll_interval)
    if isinstance(error, HubSpotResponseError) and not error.outcome_unknown:
        return poll_interval  # an unreadable answer to a read: a proxy's glitch passes
    return None
