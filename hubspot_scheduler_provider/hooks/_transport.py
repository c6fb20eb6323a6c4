"""Sending one HubSpot request: bearer auth, one shared session, retries, errors, rate-limit learning.

Retry rules (HubSpot has no idempotency key, so a replayed write can double-book):

* requests that are safe to repeat (``idempotent=True``: GETs) retry 429, 5xx, timeouts and connection
  errors, waiting ``Retry-After``, else ``X-HubSpot-RateLimit-Interval-Milliseconds``, else an
  exponential back-off;
* writes retry only when HubSpot cannot have processed them: 429, and connection failures before the
  request was sent. After a timeout, a dropped connection or a 5xx they raise with
  ``outcome_unknown=True``;
* 423 Locked and 477 Migration in progress mean HubSpot did not process the request: retried for
  writes too, after ``Retry-After`` (never longer than ``RetryPolicy.max_wait_seconds``);
* before each request, when the last answer's ``X-HubSpot-RateLimit-Remaining`` is low, wait
  (``RateLimitState.pause_before_request``) instead of running into 429s, unless
  ``pace_on_remaining`` is off (batches pace with ``pacing.SlidingWindowLimiter``, triggers wait in
  ``asyncio.sleep``; see ``pacing``);
* a ``DAILY`` 429 is never retried: the limit resets at midnight;
* a 401 with an OAuth connection renews the access token once and repeats the request once (a 401 was
  not processed, so this is safe for writes too).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import requests
from requests.auth import AuthBase

from hubspot_scheduler_provider.errors import (
    HubSpotConnectionError,
    HubSpotError,
    HubSpotResponseError,
    error_from_response,
    mask_emails,
    quote_body,
)
from hubspot_scheduler_provider.hooks._retry import (
    NOT_PROCESSED_STATUSES,
    RETRYABLE_STATUSES,
    RetryPolicy,
    never_sent,
    retry_after_seconds,
)

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping

    from hubspot_scheduler_provider.hooks._oauth import TokenSource
    from hubspot_scheduler_provider.hooks._rate_limit import RateLimitState

CORRELATION_HEADER = "X-HubSpot-Correlation-Id"
#: How long HubSpot holds the lock behind a 423 answer.
LOCK_SECONDS = 2.0


class BearerAuth(AuthBase):
    """Adds the current access token to every request (tokens may be renewed between requests)."""

    def __init__(self, tokens: TokenSource) -> None:
        self.tokens = tokens

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.tokens.token()}"
        return request


def correlation_id(response: requests.Response) -> str | None:
    return response.headers.get(CORRELATION_HEADER)


def _sent_token(response: requests.Response) -> str | None:
    header = response.request.headers.get("Authorization", "") if response.request is not None else ""
    return header[len("Bearer ") :] if isinstance(header, str) and header.startswith("Bearer ") else None


def _policy_name(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("policyName") if isinstance(body, dict) else None


def describe_failure(error: requests.exceptions.RequestException, timeout: float) -> str:
    """A short reason without the URL's query string or a library traceback."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f"no connection within {timeout:g} s"
    if isinstance(error, requests.exceptions.Timeout):
        return f"no answer within {timeout:g} s"
    reason: BaseException | None = (
        error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
    )
    reason = getattr(reason, "reason", None) or reason
    text = str(reason or error)
    # urllib3 says "<HTTPConnection object at 0x..>: Failed to establish ...: [Errno 111] ..."
    text = text.split(">: ", 1)[-1]
    return f"{type(reason or error).__name__}: {quote_body(text)}"


class HubSpotTransport:
    def __init__(
        self,
        *,
        base_url: str,
        session: requests.Session,
        tokens: TokenSource,
        timeout: float,
        policy: RetryPolicy,
        rate_limit: RateLimitState,
        sleep: Callable[[float], None],
        log: logging.Logger | Any,
        pace_on_remaining: bool = True,
    ) -> None:
        self.base_url = base_url
        self.session = session
        # Auth is session-level config (set once, never per call), so get_conn() users are authenticated.
        session.auth = BearerAuth(tokens)
        self.tokens = tokens
        self.timeout = timeout
        self.policy = policy
        self.rate_limit = rate_limit
        #: Wait when ``Remaining`` is low (see ``_pace``). Off when the caller paces every request itself
        #: (``pacing.PacedAdapter``: pausing on top of it would leave part of the limit unused) or must
        #: not block (a trigger waits in ``asyncio.sleep``).
        self.pace_on_remaining = pace_on_remaining
        self._sleep = sleep
        self.log = log

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            if not path.startswith(self.base_url + "/"):
                # Never send the token to a host other than the connection's.
                raise HubSpotConnectionError(
                    f"refusing to send the HubSpot token to a URL outside {self.base_url}"
                )
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        timeout: float | None = None,
        max_retries: int | None = None,
        check: bool = True,
        **request_kwargs: Any,
    ) -> requests.Response:
        """Send with the retry rules of the module docstring; raise :class:`HubSpotError` on failure."""
        method = method.upper()
        url = self.url(path)
        # Masked once here: paths such as /crm/v3/objects/contacts/<email> reach logs and error text.
        where = mask_emails(
            path.split("?", 1)[0] if not path.startswith("http") else url[len(self.base_url) :].split("?")[0]
        )
        retries_allowed = self.policy.max_retries if max_retries is None else max_retries
        seconds = self.timeout if timeout is None else timeout
        retries = 0
        renewed_token = False
        while True:
            self._pace(method, where)
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    data=data,
                    headers=dict(headers or {}),
                    auth=BearerAuth(self.tokens) if authenticate else _NoAuth(),
                    timeout=seconds,
                    **request_kwargs,
                )
            except requests.exceptions.RequestException as error:
                sent = not never_sent(error)
                reason = describe_failure(error, seconds)
                if retries < retries_allowed and (idempotent or not sent):
                    retries += 1
                    wait = self.policy.backoff(retries)
                    self.log.warning(
                        "HubSpot %s %s failed (%s); retry %d/%d in %.1f s",
                        method,
                        where,
                        reason,
                        retries,
                        retries_allowed,
                        wait,
                    )
                    self._sleep(wait)
                    continue
                raise HubSpotConnectionError(
                    f"Could not reach HubSpot at {self.base_url} ({method} {where}): {reason}",
                    outcome_unknown=sent and not idempotent,
                ) from None

            self.rate_limit.update(response.headers)
            status = response.status_code
            if status == 401 and authenticate and not renewed_token:
                rejected = _sent_token(response)
                if rejected and self.tokens.renew_after_rejection(rejected):
                    renewed_token = True
                    self.log.info(
                        "HubSpot rejected the access token; renewed it and repeating %s %s", method, where
                    )
                    continue
            if status < 400 or not check:
                self.log.debug(
                    "HubSpot %s %s -> %s (correlationId %s)", method, where, status, correlation_id(response)
                )
                return response

            delay = self._retry_wait(response, idempotent, retries + 1)
            if delay is not None and retries < retries_allowed and delay <= self.policy.max_wait_seconds:
                retries += 1
                self.log.warning(
                    "HubSpot %s %s answered %s (correlationId %s); retry %d/%d in %.1f s",
                    method,
                    where,
                    status,
                    correlation_id(response),
                    retries,
                    retries_allowed,
                    delay,
                )
                self._sleep(delay)
                continue
            raise error_from_response(
                status,
                response.content,
                headers=response.headers,
                method=method,
                path=where,
                outcome_unknown=status >= 500 and not idempotent,
                retry_after_seconds=retry_after_seconds(response.headers) if status == 429 else None,
            )

    def _pace(self, method: str, where: str) -> None:
        """Wait first when the account's rate-limit window is nearly used up (per the last answer)."""
        if not self.pace_on_remaining:
            return
        pause = self.rate_limit.pause_before_request()
        if pause > 0:
            self.log.info(
                "HubSpot rate limit nearly used up (%s of %s left); waiting %.1f s before %s %s",
                self.rate_limit.remaining,
                self.rate_limit.max,
                pause,
                method,
                where,
            )
            self._sleep(pause)

    def _retry_wait(self, response: requests.Response, idempotent: bool, retry_number: int) -> float | None:
        """Seconds to wait before repeating, or None when this answer must not be retried."""
        status = response.status_code
        if status not in RETRYABLE_STATUSES:
            return None
        if status == 429:
            if _policy_name(response) == "DAILY":
                return None
        elif not idempotent and status not in NOT_PROCESSED_STATUSES:
            return None  # a 5xx to a write: HubSpot may have done it
        asked = retry_after_seconds(response.headers, rate_limited=status == 429)
        wait = asked if asked is not None else self.policy.backoff(retry_number)
        # HubSpot: a 423 lock lasts 2 seconds, so wait at least that long.
        return max(wait, LOCK_SECONDS) if status == 423 else wait

    def json_object(self, response: requests.Response) -> dict[str, Any]:
        """The response's JSON object, or a readable :class:`HubSpotResponseError`."""
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            body = None
        if not isinstance(body, dict):
            raise HubSpotResponseError(
                f"HubSpot answered HTTP {response.status_code} with a body that is not a JSON object: "
                f"{quote_body(response.text)!r}",
                status=response.status_code,
                correlation_id=correlation_id(response),
            )
        return body


class _NoAuth(AuthBase):
    """Overrides any session-level auth (the OAuth token request carries client credentials instead)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


__all__ = ["BearerAuth", "HubSpotError", "HubSpotTransport", "correlation_id"]
