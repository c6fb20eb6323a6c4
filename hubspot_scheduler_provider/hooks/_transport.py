"""Sending one HubSpot request: bearer auth, one shared bounded session, retries, errors, pacing.

The session (``_wire.BoundedSession``) never follows a redirect, gives each request one total deadline
and caps the body it reads. Here every failure becomes a :class:`HubSpotError`, and whether to retry is
decided by ``retry_rules`` (the one home of those rules; its docstring has them). In short: HubSpot has
no idempotency key, so a write (``idempotent=False``) is retried only when HubSpot cannot have
processed it (429, 423, 477, a connection refused before sending); after a timeout, a dropped
connection, a 5xx or an unreadable 2xx body it raises with ``outcome_unknown=True``. A 3xx raises
:class:`HubSpotRedirectError` at once. Before each request, when the last answer's
``X-HubSpot-RateLimit-Remaining`` is low, the transport waits (``pacing.RateLimitState``) unless
``pace_on_remaining`` is off. A 401 with an OAuth connection renews the access token once and repeats
the request once (a 401 was not processed, so this is safe for writes too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from hubspot_scheduler_provider.answer_json import UnreadableJson, loads_answer
from hubspot_scheduler_provider.errors import (
    HubSpotConnectionError,
    HubSpotError,
    HubSpotRedirectError,
    HubSpotResponseError,
    error_from_response,
    mask_emails,
    quote_body,
)
from hubspot_scheduler_provider.hooks._retry import never_sent, retry_after_seconds
from hubspot_scheduler_provider.hooks._wire import ResponseTooLarge
from hubspot_scheduler_provider.pacing import new_search_limiter
from hubspot_scheduler_provider.redaction import redact
from hubspot_scheduler_provider.retry_rules import (
    RetryPolicy,
    classify,
    outcome_unknown_after,
    wait_before_retry,
)

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping

    from hubspot_scheduler_provider.hooks._oauth import TokenSource
    from hubspot_scheduler_provider.pacing import RateLimitState, SlidingWindowLimiter
    from hubspot_scheduler_provider.shared_pacing import SharedPacing

CORRELATION_HEADER = "X-HubSpot-Correlation-Id"
#: Bytes of an unreadable body decoded for its quoted excerpt.
MAX_EXCERPT_BYTES = 400
#: Longest correlation id (or redirect host) quoted; HubSpot's are 36-character UUIDs.
_MAX_ID_CHARS = 100


class BearerAuth(AuthBase):
    """Adds the current access token to every request (tokens may be renewed between requests)."""

    def __init__(self, tokens: TokenSource) -> None:
        self.tokens = tokens

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.tokens.token()}"
        return request


def correlation_id(response: requests.Response) -> str | None:
    """HubSpot's correlation id of ``response``: bounded, printable and redacted (a hostile server
    may put anything in a header, a secret included)."""
    value = response.headers.get(CORRELATION_HEADER)
    if value is None:
        return None
    text = "".join(char for char in value[:_MAX_ID_CHARS] if char.isprintable())
    return redact(text) or None


def _sent_token(response: requests.Response) -> str | None:
    header = response.request.headers.get("Authorization", "") if response.request is not None else ""
    return header[len("Bearer ") :] if isinstance(header, str) and header.startswith("Bearer ") else None


def redirect_host(response: requests.Response, base_url: str) -> str | None:
    """The host a 3xx answer points to (never its path or query string), or None if it names none."""
    location = response.headers.get("Location")
    if not location:
        return None
    try:
        parts = urlsplit(location.strip())
        host = parts.hostname if parts.netloc else urlsplit(base_url).hostname
    except ValueError:
        return "an unreadable location"
    if not host:
        return "an unreadable location"
    host = host[:_MAX_ID_CHARS]
    return host if all(char.isalnum() or char in ".-:[]_" for char in host) else "an unreadable location"


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
        shared_pacing: SharedPacing | None = None,
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
        #: Paces CRM searches (a limit of their own, far below the general one); shared by every thread
        #: using this transport (``hooks.crm.search_limiter_for``).
        self.search_limiter: SlidingWindowLimiter = (
            new_search_limiter() if shared_pacing is None else shared_pacing.search_limiter()
        )
        #: The account's windows shared with every other process (connection extra
        #: ``rate_limit_storage_uri``); every attempt takes a slot of it, on top of the pacing above.
        self.shared_pacing = shared_pacing

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
        before_each_attempt: Callable[[int], None] | None = None,
        **request_kwargs: Any,
    ) -> requests.Response:
        """Send with the retry rules of ``retry_rules``; raise :class:`HubSpotError` on failure.

        ``before_each_attempt(attempt)`` runs right before each send (1 for the first): the booking ledger
        records when a retried POST really left, since its outcome is only known from then on."""
        method = method.upper()
        url = self.url(path)
        # Masked once here: paths such as /crm/v3/objects/contacts/<email> reach logs and error text.
        where = mask_emails(
            path.split("?", 1)[0] if not path.startswith("http") else url[len(self.base_url) :].split("?")[0]
        )
        retries_allowed = self.policy.max_retries if max_retries is None else max_retries
        seconds = self.timeout if timeout is None else timeout
        request_kwargs.pop("allow_redirects", None)  # never followed, whatever the caller asks
        request_kwargs.pop("stream", None)  # the session reads (and caps) the body within the deadline
        retries = 0
        renewed_token = False
        attempt = 0
        while True:
            self._pace(method, where)
            attempt += 1
            if before_each_attempt is not None:
                before_each_attempt(attempt)
            if self.shared_pacing is not None:
                # Last before sending: HubSpot counts the request on arrival, this window from here.
                self.shared_pacing.general.acquire()
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
                    allow_redirects=False,
                    **request_kwargs,
                )
            except ResponseTooLarge as error:
                raise self._too_large(error, method, where, idempotent) from None
            except requests.exceptions.ContentDecodingError as error:
                raise self._unreadable(error, method, where, idempotent) from None
            except requests.exceptions.RequestException as error:
                sent = not never_sent(error)
                reason = describe_failure(error, seconds)
                failure: HubSpotError = HubSpotConnectionError(
                    f"Could not reach HubSpot at {self.base_url} ({method} {where}): {reason}",
                    outcome_unknown=outcome_unknown_after(idempotent=idempotent, sent=sent),
                )
                if self._retry(failure, retries, retries_allowed, method, where, f"failed ({reason})"):
                    retries += 1
                    continue
                raise failure from None

            self.rate_limit.update(response.headers)
            if self.shared_pacing is not None:
                self.shared_pacing.general.answered()
            status = response.status_code
            if 300 <= status < 400:
                raise self._redirect_error(response, method, where)
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

            failure = error_from_response(
                status,
                response.content,
                headers=response.headers,
                method=method,
                path=where,
                outcome_unknown=outcome_unknown_after(idempotent=idempotent, sent=True, status=status),
                retry_after_seconds=retry_after_seconds(response.headers, rate_limited=status == 429),
            )
            answered = f"answered {status} (correlationId {correlation_id(response)})"
            if self._retry(failure, retries, retries_allowed, method, where, answered):
                retries += 1
                continue
            raise failure

    def _retry(
        self, failure: HubSpotError, retries: int, retries_allowed: int, method: str, where: str, what: str
    ) -> bool:
        """Wait and return True when ``retry_rules`` says ``failure`` is worth another attempt."""
        if retries >= retries_allowed:
            return False
        wait = wait_before_retry(classify(failure), retries + 1, self.policy)
        if wait is None:
            return False
        self.log.warning(
            "HubSpot %s %s %s; retry %d/%d in %.1f s",
            method,
            where,
            redact(what),
            retries + 1,
            retries_allowed,
            wait,
        )
        self._sleep(wait)
        return True

    def _redirect_error(self, response: requests.Response, method: str, where: str) -> HubSpotRedirectError:
        status = response.status_code
        host = redirect_host(response, self.base_url)
        target = f"a redirect to {host}" if host else "a redirect without a location"
        response.close()
        return HubSpotRedirectError(
            f"HubSpot {method} {where} was answered with HTTP {status} ({target}). Redirects are never "
            "followed (they would re-send the request and its credentials elsewhere), so nothing was sent "
            "there and the request was not processed; check the connection's host",
            status=status,
            correlation_id=correlation_id(response),
            target_host=host,
        )

    def _too_large(
        self, error: ResponseTooLarge, method: str, where: str, idempotent: bool
    ) -> HubSpotResponseError:
        response = error.response
        status = response.status_code if response is not None else None
        return HubSpotResponseError(
            f"HubSpot's answer to {method} {where} (HTTP {status}) is larger than {error.limit} bytes; "
            "not read (the connection extra max_response_bytes raises the cap)",
            status=status,
            correlation_id=correlation_id(response) if response is not None else None,
            outcome_unknown=outcome_unknown_after(idempotent=idempotent, sent=True, status=status),
        )

    def _unreadable(
        self, error: requests.exceptions.RequestException, method: str, where: str, idempotent: bool
    ) -> HubSpotResponseError:
        response = error.response
        status = response.status_code if response is not None else None
        return HubSpotResponseError(
            f"HubSpot's answer to {method} {where} (HTTP {status}) could not be decoded: "
            f"{quote_body(str(error), 100)}",
            status=status,
            correlation_id=correlation_id(response) if response is not None else None,
            outcome_unknown=outcome_unknown_after(idempotent=idempotent, sent=True, status=status),
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

    def json_object(self, response: requests.Response) -> dict[str, Any]:
        """The response's JSON object, or a readable :class:`HubSpotResponseError`."""
        try:
            body = loads_answer(response.content)
        except UnreadableJson as error:
            problem = str(error)
            body = None
        else:
            problem = f"a JSON {type(body).__name__}" if not isinstance(body, dict) else ""
        if not isinstance(body, dict):
            excerpt = response.content[: 2 * MAX_EXCERPT_BYTES].decode("utf-8", errors="replace")
            raise HubSpotResponseError(
                f"HubSpot answered HTTP {response.status_code} with a body that is not a JSON object "
                f"({problem}): {quote_body(excerpt)!r}",
                status=response.status_code,
                correlation_id=correlation_id(response),
            )
        return body


class _NoAuth(AuthBase):
    """Overrides any session-level auth (the OAuth token request carries client credentials instead)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


__all__ = ["BearerAuth", "HubSpotError", "HubSpotTransport", "correlation_id", "redirect_host"]
