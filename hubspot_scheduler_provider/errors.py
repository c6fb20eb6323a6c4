"""Exceptions for HubSpot API failures, one class per thing a caller can act on.

HubSpot answers errors with ``{status, message, correlationId, category, subCategory, errors[], context}``
(429s use ``errorType``/``policyName`` instead). :func:`error_from_response` turns any answer, even one
that is not HubSpot's shape, into one of the classes below. Every message carries status, category,
subCategory and correlationId, the four things HubSpot support asks for, and never a whole response
body (bodies may hold personal data). Messages are scrubbed at construction: emails masked
(:func:`mask_emails`) and every secret the hook registered redacted (``redaction.redact``), so no
exception text, log line or XCom value built from one can carry a token, even one HubSpot echoed.

This module stays light (no pydantic, no requests): operator modules import it at DAG-parse time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from hubspot_scheduler_provider.answer_json import UnreadableJson, loads_answer
from hubspot_scheduler_provider.redaction import redact

#: Longest excerpt quoted from a response body that is not HubSpot's JSON error shape.
MAX_QUOTED_BODY_CHARS = 200
#: Longest part of HubSpot's own ``message`` quoted in an error.
MAX_QUOTED_MESSAGE_CHARS = 500
#: Longest email address (RFC 5321).
_EMAIL_MARGIN_CHARS = 254


class HubSpotError(AirflowException):
    """A HubSpot API call failed. ``str(err)`` is safe to log."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        sub_category: str | None = None,
        correlation_id: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, Any] | None = None,
        outcome_unknown: bool = False,
        retry_after_seconds: float | None = None,
    ) -> None:
        # Scrubbed once here, so no message (HubSpot's text, a request path, an echoed header) can carry
        # an email or a secret; _render redacts again for secrets registered after construction.
        self.message = redact(mask_emails(message))
        self.status = status
        self.category = _scrubbed_text(category)
        self.sub_category = _scrubbed_text(sub_category)
        self.correlation_id = _scrubbed_text(correlation_id)
        self.errors: list[dict[str, Any]] = _scrubbed_json(errors or [])
        self.context: dict[str, Any] = _scrubbed_json(context or {})
        #: True when a write may or may not have been applied (timeout, 5xx or dropped connection after
        #: sending): the caller must check HubSpot before trying again, or risk a double booking.
        self.outcome_unknown = outcome_unknown
        #: Seconds HubSpot asked to wait before asking again (``Retry-After``), when it said.
        self.retry_after_seconds = retry_after_seconds
        super().__init__(self._render())

    def _details(self) -> list[str]:
        return [
            f"status={self.status if self.status is not None else '-'}",
            f"category={self.category or '-'}",
            f"subCategory={self.sub_category or '-'}",
            f"correlationId={self.correlation_id or '-'}",
        ]

    def _render(self) -> str:
        text = f"{self.message} [{', '.join(self._details())}]"
        if self.outcome_unknown:
            text += (
                " The request may or may not have been processed by HubSpot; check before retrying "
                "(a blind retry can create a duplicate)."
            )
        return redact(text)

    def __str__(self) -> str:
        return self._render()

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive the default pickling of exceptions (multiprocessing,
        # some executors), so rebuild from the instance state instead of re-calling __init__.
        return (_rebuild_error, (type(self), dict(self.__dict__)))


def _scrubbed_text(value: str | None) -> str | None:
    return None if value is None else redact(mask_emails(str(value)))


def _scrubbed_json(value: Any) -> Any:
    """``errors``/``context`` from HubSpot's body, with secrets and emails scrubbed in every string (a
    round trip through JSON text: :func:`redact` knows the JSON-escaped forms)."""
    try:
        return json.loads(redact(mask_emails(json.dumps(value, default=str))))
    except (ValueError, TypeError, RecursionError):
        return type(value)()


def _rebuild_error(cls: type[HubSpotError], state: dict[str, Any]) -> HubSpotError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._render())
    return error


class HubSpotAuthenticationError(HubSpotError):
    """401: the token is missing, wrong, revoked or expired."""


class HubSpotMissingScopesError(HubSpotError):
    """403: the token lacks a scope; ``missing_scopes`` names them when HubSpot says."""

    def __init__(self, message: str, *, missing_scopes: list[str] | None = None, **kwargs: Any) -> None:
        self.missing_scopes = list(missing_scopes or [])
        super().__init__(message, **kwargs)


class HubSpotNotFoundError(HubSpotError):
    """404: no such meeting page (slug), object or path."""


class HubSpotValidationError(HubSpotError):
    """400/409/422: HubSpot rejected the request; ``sub_category`` says why (e.g. start time not offered)."""


class HubSpotRateLimitError(HubSpotError):
    """429 that the hook did not (or could no longer) wait out."""

    def __init__(self, message: str, *, policy_name: str | None = None, **kwargs: Any) -> None:
        self.policy_name = _scrubbed_text(policy_name)
        super().__init__(message, **kwargs)

    def _details(self) -> list[str]:
        return [*super()._details(), f"policyName={self.policy_name or '-'}"]


class HubSpotDailyLimitError(HubSpotRateLimitError, AirflowFailException):
    """429 with ``policyName`` ``DAILY``: the account's daily quota is used up until midnight (account time
    zone). An ``AirflowFailException`` so Airflow does not retry: retries minutes later fail the same way."""


class HubSpotServerError(HubSpotError):
    """5xx: HubSpot failed. For writes this usually means ``outcome_unknown``."""


class HubSpotResponseError(HubSpotError):
    """HubSpot answered success but the body is not JSON or not the documented shape."""


class HubSpotConnectionError(HubSpotError):
    """HubSpot could not be reached, or did not answer in time."""


class HubSpotRedirectError(HubSpotError):
    """HubSpot (or a proxy in front of it) answered 3xx. Redirects are never followed: a 307/308 would
    re-send the body (an OAuth client secret, an invitee's details) and the token to another host. The
    request was not processed; the message names the status and the target host, never its path."""

    def __init__(self, message: str, *, target_host: str | None = None, **kwargs: Any) -> None:
        self.target_host = target_host
        super().__init__(message, **kwargs)


class BookingOutcomeUnknownError(HubSpotError):
    """A booking may or may not exist in HubSpot, and the provider could not find out, so it did not
    send the booking again. The message says what to check. Retrying the task is safe: every repeated
    attempt checks HubSpot's CRM before booking."""

    def _render(self) -> str:
        return redact(f"{self.message} [{', '.join(self._details())}]")


class BookingInputError(AirflowFailException, ValueError):
    """Bad user input, found before any request is sent. ``field`` names the offending field.

    An ``AirflowFailException`` so Airflow fails the task without retrying: the same input would fail again.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        # Masked once here: problems quote the user's value, which may be (or contain) an email.
        self.problem = mask_emails(problem)
        super().__init__(f"{field}: {self.problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.problem))


#: An email address, also percent-encoded (``ada%40example.com``) as it appears in URL paths such as
#: the CRM's ``/contacts/{email}?idProperty=email``. A match may start only where a run of local-part
#: characters starts (the look-behind): tried from every character of a long run without "@", the
#: pattern took quadratic time (32k characters: 22 s); from run starts only, each run is scanned once.
#: The domain is at most 253 characters (RFC 1035), which bounds the backtracking after each "@".
_LOCAL_CHARS = "A-Za-z0-9._%+-"
_EMAIL = re.compile(
    rf"(?<![{_LOCAL_CHARS}])([{_LOCAL_CHARS}])[{_LOCAL_CHARS}]*(?:@|%40)([A-Za-z0-9.-]{{1,253}}\.[A-Za-z]{{2,}})",
    re.IGNORECASE,
)


def mask_emails(text: str) -> str:
    """``ada.lovelace@example.com`` (or ``ada.lovelace%40example.com``) -> ``a***@example.com``:
    HubSpot messages and request paths may carry the invitee's email."""
    return _EMAIL.sub(r"\1***@\2", text)


def quote_body(text: str, limit: int = MAX_QUOTED_BODY_CHARS) -> str:
    """A short, single-line excerpt of a body that is not HubSpot's error JSON (e.g. a proxy's HTML page)."""
    # Only a bounded head is flattened and masked (no need to scan megabytes for a 200-character
    # excerpt). The margin keeps an address that straddles the limit whole while it is masked.
    head_size = 2 * limit + _EMAIL_MARGIN_CHARS
    flat = mask_emails(" ".join(text[:head_size].split()))
    return flat if len(flat) <= limit and len(text) <= head_size else flat[:limit] + "..."


def _parse_body(body: bytes | str | None) -> tuple[dict[str, Any] | None, str]:
    if body is None:
        return None, ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        parsed = loads_answer(text)
    except UnreadableJson:
        return None, text
    return (parsed if isinstance(parsed, dict) else None), text


def _missing_scopes(payload: Mapping[str, Any]) -> list[str]:
    """Scopes from ``context.missingScopes`` and from each ``errors[].context.missingScopes``."""
    scopes: list[str] = []
    errors = payload.get("errors")
    contexts = [payload.get("context")]
    # A hostile body may put any JSON where HubSpot puts lists: only lists are walked.
    if isinstance(errors, list):
        contexts += [e.get("context") for e in errors if isinstance(e, Mapping)]
    for context in contexts:
        listed = context.get("missingScopes") if isinstance(context, Mapping) else None
        for scope in listed if isinstance(listed, list) else []:
            if str(scope) not in scopes:
                scopes.append(str(scope))
    return scopes


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def error_from_response(
    status: int,
    body: bytes | str | None,
    *,
    headers: Mapping[str, str] | None = None,
    method: str = "",
    path: str = "",
    outcome_unknown: bool = False,
    retry_after_seconds: float | None = None,
) -> HubSpotError:
    """Build the right :class:`HubSpotError` for an HTTP error answer.

    ``path`` must not contain secrets (the hook passes the path without query string).
    """
    headers = headers or {}
    payload, text = _parse_body(body)
    header_correlation = next(
        (v for k, v in headers.items() if k.lower() == "x-hubspot-correlation-id"), None
    )
    where = f"{method} {path}".strip()
    prefix = (
        f"HubSpot {where} failed with HTTP {status}"
        if where
        else f"HubSpot request failed with HTTP {status}"
    )
    if payload is not None:
        detail = quote_body(str(payload.get("message") or ""), MAX_QUOTED_MESSAGE_CHARS)
        category = _optional_str(payload.get("category") or payload.get("errorType"))
        sub_category = _optional_str(payload.get("subCategory"))
        correlation_id = _optional_str(payload.get("correlationId")) or header_correlation
        raw_errors = payload.get("errors")
        errors = [e for e in raw_errors if isinstance(e, dict)] if isinstance(raw_errors, list) else []
        context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
        if not sub_category:
            # Booking problems often name the sub-category only on the first error detail.
            sub_category = next(
                (_optional_str(e.get("subCategory")) for e in errors if e.get("subCategory")), None
            )
        message = f"{prefix}: {detail}" if detail else prefix
    else:
        category = sub_category = None
        correlation_id = header_correlation
        errors, context = [], {}
        excerpt = quote_body(text)
        message = f"{prefix}; the body is not HubSpot's JSON error: {excerpt!r}" if excerpt else prefix
    common: dict[str, Any] = {
        "status": status,
        "category": category,
        "sub_category": sub_category,
        "correlation_id": correlation_id,
        "errors": errors,
        "context": context,
        "outcome_unknown": outcome_unknown,
        "retry_after_seconds": retry_after_seconds,
    }
    if status == 401:
        return HubSpotAuthenticationError(
            f"{message}. Check the connection's access token (it may be wrong, revoked or expired).", **common
        )
    if status == 403:
        scopes = _missing_scopes(payload or {})
        hint = (
            f". The token lacks scope(s): {', '.join(scopes)}; add them to the app and re-issue the token."
            if scopes
            else ". The token may lack a required scope."
        )
        return HubSpotMissingScopesError(message + hint, missing_scopes=scopes, **common)
    if status == 404:
        return HubSpotNotFoundError(message, **common)
    if status == 429:
        policy = _optional_str((payload or {}).get("policyName"))
        hint = (
            ". The account's DAILY API limit is used up; retrying before it resets at midnight "
            "(account time zone) will not help."
            if policy == "DAILY"
            else ""
        )
        rate_limit_class = HubSpotDailyLimitError if policy == "DAILY" else HubSpotRateLimitError
        return rate_limit_class(message + hint, policy_name=policy, **common)
    if status >= 500:
        return HubSpotServerError(message, **common)
    if 400 <= status < 500:
        return HubSpotValidationError(message, **common)
    return HubSpotResponseError(message, **common)


class HubSpotConfigError(AirflowFailException, ValueError):
    """The ``hubspot`` connection (or a hook argument) is unusable; found before any request is sent.

    An ``AirflowFailException`` so Airflow does not retry: a broken connection stays broken until fixed.
    """
