"""Hostile answers, table-driven: each case is what a broken or malicious server (or a proxy in front
of HubSpot) sends, against real hook calls over loopback. Every case asserts:

* the call fails with the expected ``HubSpotError`` subclass (never another exception), short, with the
  correlation id when the server sent one, and ``outcome_unknown`` exactly for writes whose answer was
  lost or unreadable;
* how many requests the server saw (nothing retried that must not be);
* bounded wall time (a drip or a silent server cannot outlive the 2 s timeout) and bounded memory
  (peak RSS growth, sampled while the call runs: a 50 MB body or a gzip bomb is never held);
* no secret (token, short token, client secret, refresh token, issued token) in the error's text, repr,
  details or correlation id, in any escaped or encoded form.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest

from hubspot_scheduler_provider.errors import (
    HubSpotAuthenticationError,
    HubSpotConnectionError,
    HubSpotError,
    HubSpotRateLimitError,
    HubSpotRedirectError,
    HubSpotResponseError,
    HubSpotServerError,
    HubSpotValidationError,
)
from hubspot_scheduler_provider.redaction import forms_of
from tests.hostile_answers.conftest import (
    CLIENT_SECRET,
    ENDPOINTS,
    ISSUED_TOKEN,
    REFRESH_TOKEN,
    SECRETS,
    SHORT_TOKEN,
    TOKEN,
    connect,
    make_hook,
    measure,
)
from tests.hostile_answers.servers import (
    Action,
    HostileServer,
    answer,
    big_body,
    drip,
    raw_bytes,
    redirect,
    silent,
)

MB = 2**20
CORRELATION = "corr-hostile-0001"
CORRELATED = {"X-HubSpot-Correlation-Id": CORRELATION, "Content-Type": "application/json"}
TIMEOUT = 2.0
#: Slack for a busy 2-core machine: a drip case must end well before it would without the deadline.
SLACK_SECONDS = 2.5
MAX_MESSAGE_CHARS = 2000


def _head(status: int = 200, **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _compressed(kind: str, size: int) -> Action:
    """A body of ``size`` zero bytes compressed (about 1000:1): a bomb for a client that inflates it.
    Built here, once, so the (in-process) server's own memory is not measured as the client's."""
    zeros = b"0" * size
    data = gzip.compress(zeros, 9) if kind == "gzip" else zlib.compress(zeros, 9)
    del zeros
    head = _head(200, **{"Content-Encoding": kind, "Content-Length": str(len(data))})
    return raw_bytes(head + data)


def echo(status: int, *, token: str = TOKEN, extra: dict[str, Any] | None = None) -> Action:
    """An error answer quoting the secrets back: raw, repr-escaped, JSON-escaped, percent-encoded,
    base64 (as in a Basic header), in the message, the details, the context and the headers."""
    quoted = [token, repr(token), json.dumps(token), quote(token, safe=""), CLIENT_SECRET, REFRESH_TOKEN]
    quoted.append(base64.b64encode(f"hostile-client-1:{CLIENT_SECRET}".encode()).decode())
    body = {
        "status": "error",
        "message": f"Authorization 'Bearer {token}' rejected; saw {' '.join(quoted)}",
        "correlationId": token,
        "category": f"CAT_{token}",
        "errors": [{"message": token, "context": {"refresh_token": [REFRESH_TOKEN]}}],
        "context": {"client_secret": [CLIENT_SECRET], "echo": json.dumps({"t": token})},
        **(extra or {}),
    }
    return answer(status, body, {"X-HubSpot-Correlation-Id": token, "X-Echo": token})


@dataclass(frozen=True)
class Case:
    id: str
    endpoint: str
    actions: tuple[Action, ...]
    error: type[HubSpotError]
    requests: int = 1
    outcome_unknown: bool = False
    correlated: bool = True
    max_seconds: float = 5.0
    max_rss_mb: float = 25.0
    extra: dict[str, Any] = field(default_factory=dict)
    hook: dict[str, Any] = field(default_factory=dict)
    oauth: bool = False
    token: str = TOKEN


def case(id: str, endpoint: str, *actions: Action, error: type[HubSpotError], **kw: Any) -> Any:
    return pytest.param(Case(id, endpoint, actions, error, **kw), id=id)


DEEP = b"[" * 100_000 + b"]" * 100_000
DRIP_TIME = TIMEOUT + SLACK_SECONDS

CASES = [
    # size
    case(
        "body-50mb-content-length",
        "get_booking_info",
        big_body(50 * MB),
        error=HubSpotResponseError,
        correlated=False,
    ),
    case(
        "body-50mb-chunked",
        "list_meeting_links",
        big_body(50 * MB, mode="chunked"),
        error=HubSpotResponseError,
        correlated=False,
    ),
    case(
        "body-50mb-close-delimited",
        "crm_search",
        big_body(50 * MB, mode="close"),
        error=HubSpotResponseError,
        correlated=False,
    ),
    case(
        "booking-200-body-50mb",
        "book_meeting",
        big_body(50 * MB, mode="chunked"),
        error=HubSpotResponseError,
        outcome_unknown=True,
        correlated=False,
    ),
    case(
        "get-500-body-50mb",
        "get_availability",
        big_body(50 * MB, mode="chunked", status=500),
        error=HubSpotResponseError,
        correlated=False,
        hook={"max_retries": 2},
    ),
    case(
        "gzip-bomb-64mb",
        "get_booking_info",
        _compressed("gzip", 64 * MB),
        error=HubSpotResponseError,
        correlated=False,
    ),
    case(
        "deflate-bomb-64mb",
        "list_meeting_links",
        _compressed("deflate", 64 * MB),
        error=HubSpotResponseError,
        correlated=False,
    ),
    # time
    case(
        "drip-body-1-byte-per-second",
        "get_booking_info",
        drip(_head(200, **{"Content-Length": "40"}), b'{"linkId": "1", "customParams": {}}    '),
        error=HubSpotConnectionError,
        correlated=False,
        max_seconds=DRIP_TIME,
        extra={"timeout": TIMEOUT},
    ),
    case(
        "drip-headers-1-byte-per-second",
        "get_portal_id",
        drip(_head(200, **{"Content-Length": "2", "X-Pad": "p" * 40}), b"{}", in_headers=True),
        error=HubSpotConnectionError,
        correlated=False,
        max_seconds=DRIP_TIME,
        extra={"timeout": TIMEOUT},
    ),
    case(
        "drip-booking-answer",
        "book_meeting",
        drip(_head(200, **{"Content-Length": "40"}), b'{"contactId": "1"}' + b" " * 22),
        error=HubSpotConnectionError,
        outcome_unknown=True,
        correlated=False,
        max_seconds=DRIP_TIME,
        extra={"timeout": TIMEOUT},
        hook={"max_retries": 3},
    ),
    case(
        "silent-server",
        "crm_contact",
        silent(30),
        error=HubSpotConnectionError,
        correlated=False,
        max_seconds=DRIP_TIME,
        extra={"timeout": TIMEOUT},
    ),
    # structure and encodings
    case("deep-nesting-200", "get_booking_info", answer(200, DEEP, CORRELATED), error=HubSpotResponseError),
    case(
        "deep-nesting-400-error-body",
        "book_meeting",
        answer(400, b'{"message": ' + DEEP + b"}", CORRELATED),
        error=HubSpotValidationError,
    ),
    case(
        "deep-nesting-booking-200",
        "book_meeting",
        answer(200, DEEP, CORRELATED),
        error=HubSpotResponseError,
        outcome_unknown=True,
    ),
    case(
        "invalid-utf8-200",
        "list_meeting_links",
        answer(200, b'{"results": ["\xff\xfe\x80"]}', CORRELATED),
        error=HubSpotResponseError,
    ),
    case(
        "nan-200",
        "get_availability",
        answer(200, b'{"linkAvailability": NaN}', CORRELATED),
        error=HubSpotResponseError,
    ),
    case(
        "huge-integer-200",
        "crm_search",
        answer(200, b'{"results": [' + b"9" * 5000 + b"]}", CORRELATED),
        error=HubSpotResponseError,
    ),
    case(
        "float-overflow-200",
        "get_booking_info",
        answer(200, b'{"linkId": 1e999}', CORRELATED),
        error=HubSpotResponseError,
    ),
    case(
        "lone-surrogate-200",
        "crm_contact",
        answer(200, b'{"id": "\\ud800"}', CORRELATED),
        error=HubSpotResponseError,
    ),
    case(
        "wrong-types-200",
        "get_booking_info",
        answer(200, {"linkId": {"a": [1]}, "customParams": 7}, CORRELATED),
        error=HubSpotResponseError,
    ),
    case(
        "booking-200-wrong-types",
        "book_meeting",
        answer(200, {"contactId": ["x"], "start": 5}, CORRELATED),
        error=HubSpotResponseError,
        outcome_unknown=True,
    ),
    case(
        "brotli-not-asked-for",
        "get_portal_id",
        answer(200, b"\x1b\x00", {**CORRELATED, "Content-Encoding": "br"}),
        error=HubSpotResponseError,
    ),
    case(
        "corrupt-gzip",
        "crm_contact",
        answer(200, b"\x1f\x8bnot gzip", {**CORRELATED, "Content-Encoding": "gzip"}),
        error=HubSpotResponseError,
    ),
    # the protocol itself
    case(
        "content-length-lie",
        "get_booking_info",
        raw_bytes(_head(200, **{"Content-Length": "1000"}) + b'{"linkId"'),
        error=HubSpotConnectionError,
        correlated=False,
    ),
    case(
        "not-http",
        "get_booking_info",
        raw_bytes(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        error=HubSpotConnectionError,
        correlated=False,
    ),
    case(
        "too-many-headers",
        "list_meeting_links",
        raw_bytes(_head(200, **{f"X-H{i}": "v" for i in range(500)}) + b"{}"),
        error=HubSpotConnectionError,
        correlated=False,
    ),
    case(
        "header-line-100kb",
        "list_meeting_links",
        raw_bytes(_head(200, **{"X-Big": "b" * 100_000}) + b"{}"),
        error=HubSpotConnectionError,
        correlated=False,
    ),
    case(
        "status-999", "get_booking_info", answer(999, {"message": "?"}, CORRELATED), error=HubSpotServerError
    ),
    case(
        "retry-after-huge",
        "get_booking_info",
        answer(429, {"policyName": "TEN_SECONDLY_ROLLING"}, {**CORRELATED, "Retry-After": "1" + "0" * 20}),
        error=HubSpotRateLimitError,
        hook={"max_retries": 3},
    ),
    case(
        "retry-after-infinite",
        "list_meeting_links",
        answer(429, {"policyName": "TEN_SECONDLY_ROLLING"}, {**CORRELATED, "Retry-After": "inf"}),
        error=HubSpotRateLimitError,
        hook={"max_retries": 3},
    ),
    case(
        "redirect-location-with-secrets",
        "get_booking_info",
        redirect(
            307, f"http://{quote(TOKEN)}:{quote(CLIENT_SECRET)}@evil.example:8443/steal?token={TOKEN}#f"
        ),
        error=HubSpotRedirectError,
        correlated=False,
        hook={"max_retries": 3},
    ),
    case(
        "redirect-without-location",
        "book_meeting",
        answer(302, b"", {}),
        error=HubSpotRedirectError,
        correlated=False,
        hook={"max_retries": 3},
    ),
    # echoed secrets
    case("echo-token-401", "get_booking_info", echo(401), error=HubSpotAuthenticationError, correlated=False),
    case(
        "echo-token-500-on-read", "list_meeting_links", echo(500), error=HubSpotServerError, correlated=False
    ),
    case(
        "echo-short-token-400",
        "book_meeting",
        echo(400, token=SHORT_TOKEN),
        error=HubSpotValidationError,
        correlated=False,
        token=SHORT_TOKEN,
    ),
    case(
        "echo-token-in-unparseable-200",
        "get_booking_info",
        answer(200, f"<html>proxy saw Bearer {TOKEN} and {CLIENT_SECRET}</html>".encode(), CORRELATED),
        error=HubSpotResponseError,
    ),
    case(
        "oauth-refusal-echoes-client-secret",
        "get_booking_info",
        echo(400, extra={"status": "BAD_REFRESH_TOKEN"}),
        error=HubSpotAuthenticationError,
        correlated=False,
        oauth=True,
    ),
    case(
        "oauth-token-with-header-injection",
        "get_booking_info",
        answer(200, {"access_token": f"{ISSUED_TOKEN}\r\nX-Evil: 1", "expires_in": 1800}, CORRELATED),
        error=HubSpotResponseError,
        oauth=True,
        correlated=False,
    ),
    case(
        "oauth-lifetime-not-a-number",
        "get_booking_info",
        answer(200, {"access_token": ISSUED_TOKEN, "expires_in": True}, CORRELATED),
        error=HubSpotResponseError,
        oauth=True,
        correlated=False,
    ),
]


def known_secrets(c: Case) -> tuple[str, ...]:
    """What the hook of this case knows, hence must scrub (an OAuth connection has no static token)."""
    return (CLIENT_SECRET, REFRESH_TOKEN, ISSUED_TOKEN) if c.oauth else (c.token,)


def assert_no_secret(text: str, secrets: tuple[str, ...] = SECRETS) -> None:
    leaks = [(secret, form) for secret in secrets for form in forms_of(secret) if form in text]
    assert leaks == [], leaks


def error_texts(error: BaseException) -> str:
    parts = [str(error), repr(error), error.args.__repr__()]
    if isinstance(error, HubSpotError):
        parts += [
            json.dumps(error.errors),
            json.dumps(error.context),
            str(error.correlation_id),
            str(error.category),
            str(error.sub_category),
        ]
    return "\n".join(parts)


@pytest.mark.parametrize("hostile_case", CASES)
def test_hostile_answer_is_one_bounded_clear_error(
    hostile_case: Case, hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = hostile_case
    connect(monkeypatch, hostile, oauth=c.oauth, token=c.token, **c.extra)
    hostile.queue(*c.actions)
    hook = make_hook(**c.hook)
    call = ENDPOINTS[c.endpoint]
    if c.endpoint == "book_meeting":
        from tests.hostile_answers.conftest import a_booking

        booking = a_booking()

        def call(hook: Any) -> Any:
            return hook.book_meeting(booking)

    measured = measure(lambda: call(hook))

    error = measured.error
    assert isinstance(error, c.error), repr(error)
    assert len(hostile.seen) == c.requests, [(s.method, s.path) for s in hostile.seen]
    assert measured.seconds < c.max_seconds, measured.seconds
    assert measured.rss_growth_mb < c.max_rss_mb, measured.rss_growth_mb
    assert error.outcome_unknown is c.outcome_unknown
    text = str(error)
    assert len(text) <= MAX_MESSAGE_CHARS, len(text)
    assert "Traceback" not in text
    assert error.__cause__ is None or isinstance(error.__cause__, HubSpotError)
    if c.correlated:
        assert error.correlation_id == CORRELATION and CORRELATION in text
    assert_no_secret(error_texts(error), known_secrets(c))


def test_the_table_has_at_least_25_hostile_answers() -> None:
    assert len(CASES) >= 25


def test_a_drip_is_cut_at_the_deadline_not_after_it_ends(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drip above would take 40 s; with the deadline removed (per-read timeouts only) it would."""
    connect(monkeypatch, hostile, timeout=TIMEOUT)
    hostile.queue(drip(_head(200, **{"Content-Length": "40"}), b"{" + b" " * 38 + b"}"))
    measured = measure(lambda: make_hook().get_portal_id())
    assert isinstance(measured.error, HubSpotConnectionError)
    assert f"within {TIMEOUT:g} s" in str(measured.error)
    assert TIMEOUT * 0.9 <= measured.seconds < TIMEOUT + SLACK_SECONDS


def test_a_hostile_rate_limit_interval_never_parks_the_caller(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, hostile)
    headers = {
        "X-HubSpot-RateLimit-Max": "100",
        "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "9" * 15,
    }
    hostile.queue(answer(200, {"portalId": 1}, headers), answer(200, {"portalId": 1}))
    hook = make_hook()
    waits: list[float] = []
    hook._sleep = waits.append
    hook.get_portal_id()
    hook._portal_id = None
    hook.get_portal_id()
    assert len(hostile.seen) == 2 and waits and max(waits) <= 10.0
