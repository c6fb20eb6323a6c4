"""Malformed or unexpected answers (not JSON, wrong types, missing fields, huge bodies) give one short,
clear ``HubSpotError`` carrying HubSpot's correlation id, never a library traceback or a whole body.

A scripted HTTP server on loopback plays HubSpot, answering each case's bytes exactly."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from hubspot_scheduler_provider.errors import HubSpotError
from hubspot_scheduler_provider.hooks.crm import CrmLookup
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from tests.hooks.conftest import Answer, ScriptedServer, set_connection
from tests.reliability.test_exactly_once import a_booking

SCRIPTED_TOKEN = "pat-na1-SCRIPTED-0c4f-must-never-leak"
#: An error message may quote HubSpot's message and a short body excerpt, not pages of it.
MAX_MESSAGE_CHARS = 2000
MEGABYTE = 1024 * 1024
VALID_BOOKING_ANSWER = {
    "bookingTimezone": "UTC",
    "calendarEventId": "evt-1",
    "contactId": "501",
    "duration": 1800000,
    "start": "2026-12-02T14:00:00Z",
    "end": "2026-12-02T14:30:00Z",
    "formFields": [],
    "guestEmails": [],
    "isOffline": False,
    "legalConsentResponses": [],
    "subject": "Meet Alice",
}

Call = Callable[[HubSpotSchedulerHook], Any]


def book(hook: HubSpotSchedulerHook) -> Any:
    return hook.book_meeting(a_booking())


def booking_info(hook: HubSpotSchedulerHook) -> Any:
    return hook.get_booking_info("alice-smith", "UTC")


def contact(hook: HubSpotSchedulerHook) -> Any:
    return CrmLookup(hook.transport).contact_id_by_email("ada@example.com")


def meetings(hook: HubSpotSchedulerHook) -> Any:
    return CrmLookup(hook.transport).meetings_of_contact_at(
        "501", datetime(2026, 12, 2, 14, tzinfo=timezone.utc)
    )


def links(hook: HubSpotSchedulerHook) -> Any:
    return list(hook.list_meeting_links())


def case(call: Call, status: int, body: Any, *, outcome_unknown: bool = False, id: str) -> Any:
    return pytest.param(call, status, body, outcome_unknown, id=id)


CASES = [
    # the booking answer (HTTP 200: HubSpot probably booked it, so the outcome is unknown)
    case(book, 200, b"<html><body>Bad gateway</body></html>", outcome_unknown=True, id="book-200-html"),
    case(book, 200, b"", outcome_unknown=True, id="book-200-empty"),
    case(book, 200, [], outcome_unknown=True, id="book-200-json-list"),
    case(book, 200, "booked", outcome_unknown=True, id="book-200-json-string"),
    case(book, 200, None, outcome_unknown=True, id="book-200-json-null"),
    case(book, 200, {}, outcome_unknown=True, id="book-200-missing-fields"),
    case(
        book,
        200,
        {**VALID_BOOKING_ANSWER, "duration": "thirty"},
        outcome_unknown=True,
        id="book-200-duration-text",
    ),
    case(
        book,
        200,
        {**VALID_BOOKING_ANSWER, "start": "tomorrow"},
        outcome_unknown=True,
        id="book-200-start-not-a-date",
    ),
    case(
        book,
        200,
        {**VALID_BOOKING_ANSWER, "isOffline": "maybe"},
        outcome_unknown=True,
        id="book-200-isoffline-text",
    ),
    case(
        book, 200, b'{"contactId": "501", "start": "2026-', outcome_unknown=True, id="book-200-truncated-json"
    ),
    case(book, 200, b"x" * (2 * MEGABYTE), outcome_unknown=True, id="book-200-huge-junk"),
    case(
        book,
        200,
        {k: v for k, v in VALID_BOOKING_ANSWER.items() if k != "contactId"} | {"subject": "s" * MEGABYTE},
        outcome_unknown=True,
        id="book-200-huge-field-and-missing-contact",
    ),
    # the booking's error answers
    case(
        book,
        500,
        b"<html>" + b"proxy error " * 5000 + b"</html>",
        outcome_unknown=True,
        id="book-500-huge-html",
    ),
    case(
        book,
        400,
        {"status": "error", "message": "m" * MEGABYTE, "category": "VALIDATION_ERROR"},
        id="book-400-huge-message",
    ),
    case(book, 400, b"\xff\xfe not utf-8 \x00\x01", id="book-400-binary"),
    case(
        book,
        404,
        {"status": 404, "message": ["not", "a", "string"], "errors": "nope"},
        id="book-404-wrong-types",
    ),
    # reads
    case(booking_info, 200, {"linkId": 5, "customParams": "none"}, id="info-200-wrong-types"),
    case(booking_info, 200, b"not json at all", id="info-200-not-json"),
    case(booking_info, 200, [1, 2, 3], id="info-200-list"),
    case(links, 200, {"results": "none"}, id="links-200-results-not-a-list"),
    case(links, 200, {"results": [], "paging": {"next": {"after": 7}}}, id="links-200-cursor-not-text"),
    # CRM reads used for reconciliation
    case(contact, 200, {"properties": {}}, id="contact-200-without-id"),
    case(contact, 200, b"<xml/>", id="contact-200-not-json"),
    case(meetings, 200, {"results": "none"}, id="search-200-results-not-a-list"),
    case(meetings, 200, {"results": [{"id": "9"}]}, id="search-200-result-without-properties"),
    case(
        meetings,
        200,
        {"results": [{"id": "9", "properties": {"hs_meeting_start_time": "soon"}}]},
        id="search-200-bad-time",
    ),
]


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.thread.start()
    set_connection(monkeypatch, host=server.url, password=SCRIPTED_TOKEN)
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.mark.parametrize(("call", "status", "body", "outcome_unknown"), CASES)
def test_bad_answer_gives_a_short_clear_error_with_the_correlation_id(
    scripted: ScriptedServer, call: Call, status: int, body: Any, outcome_unknown: bool, request: Any
) -> None:
    correlation = f"corr-{request.node.callspec.id}"
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    scripted.queue(Answer(status=status, body=raw, headers={"X-HubSpot-Correlation-Id": correlation}))
    hook = HubSpotSchedulerHook(max_retries=0)

    with pytest.raises(HubSpotError) as raised:
        call(hook)

    error = raised.value
    text = str(error)
    assert error.correlation_id == correlation and correlation in text
    assert error.outcome_unknown is outcome_unknown
    assert len(text) <= MAX_MESSAGE_CHARS, len(text)
    assert "Traceback" not in text and SCRIPTED_TOKEN not in text
    assert error.__cause__ is None or isinstance(
        error.__cause__, HubSpotError
    )  # no library exception chained
