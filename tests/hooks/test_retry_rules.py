"""``retry_rules``: the one classifier every caller (transport, batch, trigger) asks."""

from __future__ import annotations

import pytest

from hubspot_scheduler_provider.errors import (
    BookingInputError,
    HubSpotAuthenticationError,
    HubSpotConfigError,
    HubSpotConnectionError,
    HubSpotDailyLimitError,
    HubSpotNotFoundError,
    HubSpotRateLimitError,
    HubSpotRedirectError,
    HubSpotResponseError,
    HubSpotServerError,
    HubSpotValidationError,
)
from hubspot_scheduler_provider.retry_rules import (
    DAILY_LIMIT_BACKOFF_SECONDS,
    LOCK_SECONDS,
    Disposition,
    RetryPolicy,
    classify,
    outcome_unknown_after,
    poll_again_after,
    wait_before_retry,
)

R, N, U, F = Disposition.RETRYABLE, Disposition.NOT_PROCESSED, Disposition.OUTCOME_UNKNOWN, Disposition.FATAL


@pytest.mark.parametrize(
    ("error", "disposition"),
    [
        (HubSpotRedirectError("307", status=307), N),
        (HubSpotRateLimitError("429", retry_after_seconds=3), R),
        (HubSpotDailyLimitError("daily", policy_name="DAILY"), F),
        (HubSpotRateLimitError("daily", policy_name="DAILY"), F),
        (HubSpotValidationError("locked", status=423), R),
        (HubSpotValidationError("migrating", status=477), R),
        (HubSpotValidationError("taken", status=400), N),
        (HubSpotNotFoundError("no page", status=404), N),
        (HubSpotServerError("502", status=502), R),
        (HubSpotServerError("502", status=502, outcome_unknown=True), U),
        (HubSpotConnectionError("refused"), R),
        (HubSpotConnectionError("timeout", outcome_unknown=True), U),
        (HubSpotResponseError("unreadable 200", status=200, outcome_unknown=True), U),
        (HubSpotResponseError("unreadable read", status=200), N),
        (HubSpotAuthenticationError("401", status=401), F),
        (HubSpotConfigError("host: bad"), F),
        (BookingInputError("email", "bad"), F),
    ],
)
def test_classify(error: BaseException, disposition: Disposition) -> None:
    assert classify(error).disposition is disposition


@pytest.mark.parametrize(
    ("idempotent", "sent", "status", "unknown"),
    [
        (False, True, None, True),  # timeout or dropped connection after sending
        (False, True, 502, True),
        (False, True, 200, True),  # an unreadable or too large success body
        (False, True, 307, False),  # a redirect: not processed
        (False, True, 400, False),
        (False, False, None, False),  # never left
        (True, True, None, False),  # reads are never "unknown"
    ],
)
def test_outcome_unknown_after(idempotent: bool, sent: bool, status: int | None, unknown: bool) -> None:
    assert outcome_unknown_after(idempotent=idempotent, sent=sent, status=status) is unknown


def test_waits() -> None:
    policy = RetryPolicy(max_retries=5, backoff_seconds=1, max_wait_seconds=60)
    assert wait_before_retry(classify(HubSpotServerError("x", status=503)), 3, policy) == 4
    assert wait_before_retry(classify(HubSpotValidationError("x", status=423)), 1, policy) == LOCK_SECONDS
    assert (
        wait_before_retry(classify(HubSpotRateLimitError("x", retry_after_seconds=1e20)), 1, policy) is None
    )
    assert wait_before_retry(classify(HubSpotRedirectError("x", status=308)), 1, policy) is None
    assert poll_again_after(HubSpotRedirectError("x", status=308), 30) is None
    assert (
        poll_again_after(HubSpotDailyLimitError("x", policy_name="DAILY"), 30) == DAILY_LIMIT_BACKOFF_SECONDS
    )
    assert poll_again_after(HubSpotResponseError("x"), 30) == 30
    assert poll_again_after(ValueError("a bug"), 30) is None
