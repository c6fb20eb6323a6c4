"""Fault injection: each mode, consumption order and matching, and the redacted request log."""

from __future__ import annotations

import json
import time

import pytest
import requests

from hubspot_scheduler_provider.testing import (
    Delay,
    DropAfterCommit,
    DropBeforeCommit,
    MalformedJson,
    SlowAfterCommit,
    Status,
)

from .conftest import booking_body, scheduler_url, slots

HALF_HOUR = 1_800_000


@pytest.fixture
def book(api, sandbox):
    url = scheduler_url(sandbox, "2026-09", "/meeting-links/book")
    free = iter(slots(api, sandbox, "alice-smith", duration_ms=HALF_HOUR)[::4])

    def send(**kwargs):
        return api.post(url, json=booking_body("alice-smith", next(free), HALF_HOUR), **kwargs)

    return send


def test_delay_answers_normally_after_waiting(book, sandbox):
    sandbox.inject(Delay(0.3))
    started = time.monotonic()
    answer = book()
    assert time.monotonic() - started >= 0.3
    assert answer.status_code == 200
    assert len(sandbox.bookings) == 1


def test_status_fault_answers_without_booking(book, sandbox):
    sandbox.inject(Status(503, headers={"Retry-After": "2"}))
    answer = book()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "2"
    assert answer.json()["category"] == "INTERNAL_ERROR"
    assert sandbox.bookings == []
    assert book().status_code == 200  # used up


def test_status_429_storm_uses_the_rate_limit_body(book, sandbox):
    sandbox.inject(Status(429), times=3)
    answers = [book() for _ in range(4)]
    assert [answer.status_code for answer in answers] == [429, 429, 429, 200]
    assert answers[0].json()["errorType"] == "RATE_LIMIT"
    assert len(sandbox.bookings) == 1


def test_status_fault_with_custom_body(book, sandbox):
    sandbox.inject(Status(502, body="<html>Bad gateway</html>", headers={"Content-Type": "text/html"}))
    answer = book()
    assert answer.status_code == 502
    assert answer.text == "<html>Bad gateway</html>"


def test_drop_before_commit_closes_without_answer_and_books_nothing(book, sandbox):
    sandbox.inject(DropBeforeCommit())
    with pytest.raises(requests.ConnectionError):
        book()
    assert sandbox.bookings == []
    assert sandbox.requests[-1].fault == "DropBeforeCommit"
    assert sandbox.requests[-1].status is None


def test_drop_after_commit_closes_without_answer_but_books(book, sandbox):
    sandbox.inject(DropAfterCommit())
    with pytest.raises(requests.ConnectionError):
        book()
    assert len(sandbox.bookings) == 1


def test_slow_after_commit_times_the_client_out_but_books(book, sandbox):
    sandbox.inject(SlowAfterCommit(1.0))
    with pytest.raises(requests.ReadTimeout):
        book(timeout=0.3)
    assert len(sandbox.bookings) == 1


def test_malformed_json_after_commit(book, sandbox):
    sandbox.inject(MalformedJson())
    answer = book()
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)
    assert len(sandbox.bookings) == 1


def test_faults_match_method_and_path_and_are_consumed_in_order(api, book, sandbox):
    sandbox.inject(Status(500), method="GET", path_contains="/meeting-links")
    sandbox.inject(Status(502))
    sandbox.inject(Status(504))
    assert book().status_code == 502
    assert book().status_code == 504
    assert book().status_code == 200
    assert api.get(scheduler_url(sandbox, "v3", "/meeting-links")).status_code == 500
    assert api.get(scheduler_url(sandbox, "v3", "/meeting-links")).status_code == 200
    sandbox.inject(Status(500), method=None, path_contains="/account-info")
    assert api.get(f"{sandbox.url}/account-info/v3/details").status_code == 500


def test_inject_rejects_non_positive_times(sandbox):
    with pytest.raises(ValueError, match="times"):
        sandbox.inject(Delay(0.1), times=0)


def test_request_log_redacts_the_token(book, sandbox):
    book()
    logged = sandbox.requests[-1]
    assert logged.method == "POST"
    assert logged.path == "/scheduler/2026-09/meetings/meeting-links/book"
    assert logged.body["slug"] == "alice-smith"
    assert logged.status == 200
    assert logged.headers["Authorization"] == "Bearer <redacted>"
    assert sandbox.token not in repr(sandbox.requests)


def test_reset_forgets_bookings_faults_and_requests(book, sandbox):
    book()
    sandbox.inject(Status(500))
    sandbox.reset()
    assert (sandbox.bookings, sandbox.requests, sandbox.app.faults.pending()) == ([], [], 0)
    assert book().status_code == 200
