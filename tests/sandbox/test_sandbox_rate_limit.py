"""Rate limits as HubSpot applies them: rolling window, daily quota, headers on every answer, 429 body."""

from __future__ import annotations

import time

import requests

from hubspot_scheduler_provider.testing import HubSpotSandbox

from .conftest import MARCH_NOW, assert_conforms, scheduler_url

WINDOW_SECONDS = 1.0


def _get(sandbox: HubSpotSandbox, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token or sandbox.token}"}
    return requests.get(scheduler_url(sandbox, "2026-09", "/meeting-links"), headers=headers)


def test_rolling_window_headers_and_429_body():
    with HubSpotSandbox(
        now=MARCH_NOW, rate_limit=3, rate_window_seconds=WINDOW_SECONDS, daily_limit=1000
    ) as sandbox:
        answers = [_get(sandbox) for _ in range(4)]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
        assert [answer.headers["X-HubSpot-RateLimit-Remaining"] for answer in answers] == ["2", "1", "0", "0"]
        for answer in answers:
            assert answer.headers["X-HubSpot-RateLimit-Max"] == "3"
            assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "1000"
            assert answer.headers["X-HubSpot-RateLimit-Daily"] == "1000"
        assert [answer.headers["X-HubSpot-RateLimit-Daily-Remaining"] for answer in answers] == [
            "999",
            "998",
            "997",
            "997",
        ]
        body = answers[3].json()
        assert body["errorType"] == "RATE_LIMIT"
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["status"] == "error"
        assert body["correlationId"] == answers[3].headers["X-HubSpot-Correlation-Id"]
        assert {"message", "groupName"} <= body.keys()
        time.sleep(WINDOW_SECONDS + 0.05)
        assert _get(sandbox).status_code == 200  # the window rolled on


def test_window_is_rolling_not_fixed():
    with HubSpotSandbox(now=MARCH_NOW, rate_limit=2, rate_window_seconds=1.0) as sandbox:
        assert _get(sandbox).status_code == 200
        time.sleep(0.6)
        assert _get(sandbox).status_code == 200
        time.sleep(0.6)  # the first request left the window, the second has not
        assert _get(sandbox).status_code == 200
        assert _get(sandbox).status_code == 429


def test_daily_limit_answers_daily_policy():
    with HubSpotSandbox(now=MARCH_NOW, rate_limit=100, daily_limit=2) as sandbox:
        assert [_get(sandbox).status_code for _ in range(2)] == [200, 200]
        refused = _get(sandbox)
        assert refused.status_code == 429
        assert refused.json()["policyName"] == "DAILY"
        assert refused.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_unauthorised_requests_are_not_counted_but_carry_headers():
    with HubSpotSandbox(now=MARCH_NOW, rate_limit=1, rate_window_seconds=5) as sandbox:
        rejected = _get(sandbox, token="wrong")
        assert rejected.status_code == 401
        assert rejected.headers["X-HubSpot-RateLimit-Remaining"] == "1"
        assert_conforms("scheduler-meetings-2026-09.json", "Error", rejected.json())
        assert _get(sandbox).status_code == 200


def test_rate_limit_none_disables_the_window():
    with HubSpotSandbox(now=MARCH_NOW, rate_limit=None, daily_limit=None) as sandbox:
        answers = [_get(sandbox) for _ in range(30)]
        assert {answer.status_code for answer in answers} == {200}
        assert "X-HubSpot-RateLimit-Max" not in answers[0].headers


def test_default_limit_is_hubspots_hundred_per_ten_seconds(sandbox):
    answer = _get(sandbox)
    assert answer.headers["X-HubSpot-RateLimit-Max"] == "100"
    assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
