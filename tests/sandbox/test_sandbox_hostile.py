"""No handler crashes: every hostile request to every endpoint gets HubSpot's JSON error with a
correlation id (400 bad input, 404, 405, 411, 413), never a closed connection or Python's HTML page.

The inputs of issue #13 that used to crash the sandbox (``timezone=Europe``, ``monthOffset=100000``,
calendar meetings at the edges of year 1 and 9999, ...) are each here.
"""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from hubspot_scheduler_provider.testing import HubSpotSandbox

from .conftest import MARCH_NOW, booking_body, calendar_request, scheduler_url

if TYPE_CHECKING:
    import requests

VERSIONS = ("v3", "2026-03", "2026-09")
#: A free 30-minute slot on alice-smith at MARCH_NOW (Tuesday 3 March 2026, 10:00 New York).
SLOT_MS = 1_772_550_000_000
BAD_ZONES = [
    "Europe",
    "America",
    "posix/Europe/Berlin",
    "right/Europe/Berlin",
    "localtime",
    "Factory",
    "posixrules",
    "",
    "+02:00",
    "Europe/Berlin\x00",
    "../../../../etc/passwd",
    "Mars/Olympus",
    "E" * 300,
]
BAD_START_TIMES: list[Any] = [
    "2026-W49-3T14:00:00Z",  # ISO week date
    "2026-335T14:00:00Z",  # ordinal date
    "20261201T140000Z",  # basic format
    "2026-12-01 14:00:00Z",  # space instead of T
    "2026-12-01T14:00:00",  # no offset
    "2026-12-01T12:99:00Z",
    "2026-12-01T14:00:60Z",  # leap second
    "2026-12-01T14:00:00+19:00",  # offset beyond Java's 18 hours
    "2026-12-01T14:00:00.1234567890Z",  # ten fraction digits
    "0001-01-01T00:00:00+01:00",  # year 0 in UTC
    "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
    "+10000-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "next tuesday",
    12345,
    None,
]
NUMBERS_OUT_OF_RANGE = [
    "100000",
    "-100000",
    "2147483648",
    "-2147483649",
    "1e3",
    "0x10",
    " 1",
    "1.5",
    "",
    "١٢",
]


def _assert_json_error(answer: requests.Response, *statuses: int) -> dict[str, Any]:
    assert answer.status_code in statuses, (answer.status_code, answer.text[:300])
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["status"] == "error" and body["category"] and body["message"]
    assert body["correlationId"] == answer.headers["X-HubSpot-Correlation-Id"]
    return body


@pytest.fixture
def sandbox() -> Any:
    with HubSpotSandbox(now=MARCH_NOW, rate_limit=None) as running:
        yield running
        assert running.app.internal_errors == []
        assert running.spec_violations == []


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("zone", BAD_ZONES)
@pytest.mark.parametrize(
    "page", ["/meeting-links/book/alice-smith", "/meeting-links/book/availability-page/alice-smith"]
)
def test_time_zones_that_are_not_iana_names_are_a_400(api, sandbox, version, zone, page):
    answer = api.get(scheduler_url(sandbox, version, page), params={"timezone": zone})
    body = _assert_json_error(answer, 400)
    assert body["errors"][0]["in"] == "timezone"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("offset", NUMBERS_OUT_OF_RANGE)
def test_month_offsets_out_of_range_or_not_integers_are_a_400(api, sandbox, version, offset):
    url = scheduler_url(sandbox, version, "/meeting-links/book/availability-page/alice-smith")
    answer = api.get(url, params={"timezone": "UTC", "monthOffset": offset})
    _assert_json_error(answer, 400)


@pytest.mark.parametrize("limit", ["5137064960581", "0", "-1", "abc", "1.5", "2147483648"])
def test_list_limits_out_of_int32_or_below_one_are_a_400(api, sandbox, limit):
    answer = api.get(scheduler_url(sandbox, "2026-09", "/meeting-links"), params={"limit": limit})
    _assert_json_error(answer, 400)


def test_an_unknown_link_type_is_a_400(api, sandbox):
    answer = api.get(scheduler_url(sandbox, "2026-09", "/meeting-links"), params={"type": "EVERYONE"})
    _assert_json_error(answer, 400)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("start_time", BAD_START_TIMES)
def test_booking_start_times_outside_javas_iso_forms_are_a_400(api, sandbox, version, start_time):
    body = booking_body("alice-smith", SLOT_MS, 1_800_000, startTime=start_time)
    answer = api.post(scheduler_url(sandbox, version, "/meeting-links/book"), json=body)
    _assert_json_error(answer, 400)
    assert sandbox.bookings == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"duration": 2**63},
        {"duration": -1},
        {"duration": 1.5},
        {"duration": "1800000"},
        {"duration": True},
        {"timezone": "Europe"},
        {"timezone": "posix/Europe/Berlin"},
        {"slug": "no-such-page"},
        {"slug": "x" * 10_000},
        {"formFields": [{"name": "company"}]},
        {"legalConsentResponses": [{"communicationTypeId": 4711, "consented": "yes"}]},
        {"email": "not-an-email"},
    ],
    ids=lambda overrides: repr(overrides)[:40],
)
def test_hostile_booking_fields_are_a_4xx(api, sandbox, overrides):
    body = {**booking_body("alice-smith", SLOT_MS, 1_800_000), **overrides}
    answer = api.post(scheduler_url(sandbox, "2026-09", "/meeting-links/book"), json=body)
    _assert_json_error(answer, 400, 404)
    assert sandbox.bookings == []


def with_association(type_id: int, contact_id: str = "42") -> dict[str, Any]:
    association = {
        "to": {"id": contact_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }
    return {**calendar_request(), "associations": [association]}


def with_reminder(count: int) -> dict[str, Any]:
    reminders = {"reminders": [{"numberOfTimeUnits": count, "timeUnit": "DAYS"}]}
    return {
        **calendar_request(),
        "emailReminderSchedule": {**reminders, "shouldIncludeInviteDescription": False},
    }


CALENDAR_CASES: dict[str, tuple[dict[str, str | None], dict[str, Any]]] = {
    "start in year 1, +01:00": ({}, calendar_request(hs_meeting_start_time="0001-01-01T00:00:00+01:00")),
    "end in year 9999, -01:00": ({}, calendar_request(hs_meeting_end_time="9999-12-31T23:59:59-01:00")),
    "hs_timestamp 12:99": ({}, calendar_request(hs_timestamp="2024-01-01T12:99:00Z")),
    "week-date start": ({}, calendar_request(hs_meeting_start_time="2026-W49-3T14:00:00Z")),
    "end before start": ({}, calendar_request(hs_meeting_end_time="2026-03-10T13:00:00Z")),
    "end equals start": ({}, calendar_request(hs_meeting_end_time="2026-03-10T14:00:00Z")),
    "unknown outcome": ({}, calendar_request(hs_meeting_outcome="DONE")),
    "unknown property": ({}, calendar_request(favourite_colour="blue")),
    "unknown organizer": ({"organizerUserId": "999999"}, calendar_request()),
    "empty organizer": ({"organizerUserId": ""}, calendar_request()),
    "no organizer": ({"organizerUserId": None}, calendar_request()),
    "unknown zone": ({}, {**calendar_request(), "timezone": "Europe"}),
    "posix zone": ({}, {**calendar_request(), "timezone": "posix/Europe/Berlin"}),
    "unknown contact": ({}, with_association(200, contact_id="777777")),
    "not a contact association": ({}, with_association(999)),
    "association type beyond int32": ({}, with_association(2**40)),
    "reminder count beyond int32": ({}, with_reminder(2**31)),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", list(CALENDAR_CASES))
def test_hostile_calendar_meetings_are_a_400_and_consume_no_meeting_id(api, sandbox, version, case):
    query, body = CALENDAR_CASES[case]
    params = {"organizerUserId": "1001", **query}
    url = scheduler_url(sandbox, version, "/calendar")
    _assert_json_error(
        api.post(url, params={k: v for k, v in params.items() if v is not None}, json=body), 400
    )
    created = api.post(url, params={"organizerUserId": "1001"}, json=calendar_request())
    assert created.status_code == 200, created.text
    assert created.json()["id"] == "9001"  # the refused call took no id


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
        (b"", "application/json"),
        (b"[]", "application/json"),
        (b'"text"', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"slug=alice-smith", "application/x-www-form-urlencoded"),
    ],
    ids=["malformed", "deep-array", "deep-object", "empty", "array", "string", "not-utf8", "form"],
)
@pytest.mark.parametrize("suffix", ["/meeting-links/book", "/calendar?organizerUserId=1001"])
def test_hostile_bodies_are_a_400(api, sandbox, raw, content_type, suffix):
    answer = api.post(
        scheduler_url(sandbox, "2026-09", suffix), data=raw, headers={"Content-Type": content_type}
    )
    _assert_json_error(answer, 400)


PATHS = {
    "/meeting-links": "GET",
    "/meeting-links/book/alice-smith": "GET",
    "/meeting-links/book/availability-page/alice-smith": "GET",
    "/meeting-links/book": "POST",
    "/calendar": "POST",
}


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "PROPFIND", "CONNECT"])
@pytest.mark.parametrize("suffix", list(PATHS))
def test_unsupported_methods_are_a_405_naming_the_allowed_ones(api, sandbox, method, suffix):
    answer = api.request(method, scheduler_url(sandbox, "2026-09", suffix))
    assert answer.status_code == 405, answer.text
    assert answer.headers["Allow"] == PATHS[suffix]
    assert answer.headers["X-HubSpot-Correlation-Id"]
    if method == "HEAD":
        assert answer.content == b""  # a HEAD answer has no body
    else:
        _assert_json_error(answer, 405)


def test_the_v3_meeting_link_patch_is_served_and_other_versions_have_no_such_path(api, sandbox):
    slug = quote("sales-team/round-robin", safe="")
    v3 = scheduler_url(sandbox, "v3", f"/meeting-links/{slug}")
    assert api.get(v3).headers["Allow"] == "PATCH"
    updated = api.patch(v3, json={"paymentLinkId": "pl-123"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["paymentLinkId"] == "pl-123" and updated.json()["slug"] == "sales-team/round-robin"
    listed = api.get(scheduler_url(sandbox, "v3", "/meeting-links"), params={"type": "ROUND_ROBIN_CALENDAR"})
    assert listed.json()["results"][0]["paymentLinkId"] == "pl-123"
    removed = api.patch(v3, json={})
    assert "paymentLinkId" not in removed.json()
    _assert_json_error(api.patch(scheduler_url(sandbox, "v3", "/meeting-links/no-such-page"), json={}), 404)
    _assert_json_error(api.patch(scheduler_url(sandbox, "2026-09", f"/meeting-links/{slug}"), json={}), 404)


def test_unknown_paths_are_a_404(api, sandbox):
    for path in ("/scheduler/v4/meetings/meeting-links", "/", "/%00", "/scheduler/v3/meetings/" + "x" * 5000):
        _assert_json_error(api.get(sandbox.url + path), 404)


BOOK_LINE = b"POST /scheduler/v3/meetings/meeting-links/book HTTP/1.1\r\n"


def _raw_exchange(sandbox: HubSpotSandbox, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=10) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET http://[::1 HTTP/1.1\r\n\r\n", 400),
        (b"GET /scheduler/v3/meetings/meeting-links HTTP/9.9\r\n\r\n", 505),
        (b"GET /" + b"x" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (BOOK_LINE + b"Content-Length: ten\r\n\r\n", 400),
        (BOOK_LINE + b"Content-Length: -5\r\n\r\n", 400),
        (
            BOOK_LINE + b"Content-Length: 999999999999\r\n\r\n",
            413,
        ),
        (
            BOOK_LINE + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            411,
        ),
    ],
    ids=[
        "request-line",
        "broken-ipv6-target",
        "http-version",
        "uri-too-long",
        "length-text",
        "length-negative",
        "length-huge",
        "chunked",
    ],
)
def test_requests_the_http_layer_refuses_get_hubspot_json_too(sandbox, request_bytes, status):
    answered, headers, body = _raw_exchange(sandbox, request_bytes)
    assert answered == status
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["correlationId"] == headers["X-HubSpot-Correlation-Id"]


def test_a_handler_bug_still_gets_an_answer_with_a_correlation_id(api, sandbox, monkeypatch):
    from hubspot_scheduler_provider.testing import endpoints

    def broken(call: Any) -> Any:
        raise IsADirectoryError("simulated handler bug")

    monkeypatch.setitem(endpoints.HANDLERS, "list_links", broken)
    answer = api.get(scheduler_url(sandbox, "2026-09", "/meeting-links"))
    body = _assert_json_error(answer, 500)
    assert body["category"] == "INTERNAL_ERROR"
    assert sandbox.app.internal_errors == [
        "GET /scheduler/2026-09/meetings/meeting-links: IsADirectoryError: simulated handler bug"
    ]
    sandbox.app.internal_errors.clear()  # seen; the fixture asserts none other
