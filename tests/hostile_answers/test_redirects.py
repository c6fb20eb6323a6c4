"""Redirects on EVERY hook endpoint (and the OAuth refresh, the CRM reads, ``run()`` for the stock
HttpOperator and sessions from ``get_conn()``): each of 301/302/303/307/308 points to a second loopback
port (:class:`Recorder`) with a secret-looking path and query. Nothing may arrive there, nothing is
retried, and the error names the status and the target host only."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hubspot_scheduler_provider.errors import HubSpotRedirectError
from hubspot_scheduler_provider.retry_rules import Disposition, classify
from tests.hostile_answers.conftest import ENDPOINTS, TOKEN, WRITES, connect, make_hook
from tests.hostile_answers.servers import HostileServer, Recorder, redirect

STATUSES = (301, 302, 303, 307, 308)
#: ``run()`` is the path the stock HttpOperator takes; the OAuth refresh is the first request of any
#: call on an OAuth connection.
CALLS = [*ENDPOINTS, "oauth_token_refresh"]


def target(recorder: Recorder) -> str:
    # "localhost", not 127.0.0.1: the error must name the redirect's host, not the API's.
    return f"http://localhost:{recorder.port}/steal/{TOKEN}?token={TOKEN}&next=/x#frag"


def nothing_arrived(recorder: Recorder) -> bool:
    time.sleep(0.05)  # a follower would connect at once; give it a moment anyway
    return recorder.connections == 0 and recorder.received == b""


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("call", CALLS)
def test_a_redirect_is_refused_and_nothing_reaches_its_target(
    call: str, status: int, hostile: HostileServer, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    oauth = call == "oauth_token_refresh"
    connect(monkeypatch, hostile, oauth=oauth, api_version="v3" if call == "update_meeting_link" else None)
    hostile.queue(redirect(status, target(recorder)))
    hook = make_hook(max_retries=3)
    endpoint = ENDPOINTS["get_booking_info" if oauth else call]

    with pytest.raises(HubSpotRedirectError) as raised:
        endpoint(hook)

    error = raised.value
    assert nothing_arrived(recorder)
    assert len(hostile.seen) == 1  # not retried
    if oauth:
        assert hostile.seen[0].path == "/oauth/v1/token"
    assert error.status == status and error.target_host == "localhost"
    text = str(error)
    assert f"HTTP {status}" in text and "localhost" in text
    assert "steal" not in text and "token=" not in text and "frag" not in text and TOKEN not in text
    assert classify(error).disposition is Disposition.NOT_PROCESSED
    assert error.outcome_unknown is False  # a booking answered 3xx was not processed
    assert call not in WRITES or not classify(error).airflow_retry_helps


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("headers", [None, {"X-Caller": "1"}], ids=["shared-session", "own-headers"])
def test_sessions_from_get_conn_never_follow_a_redirect(
    status: int,
    headers: Any,
    hostile: HostileServer,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, hostile)
    hostile.queue(redirect(status, target(recorder)))
    hook = make_hook()
    session = hook.get_conn(headers=headers)

    response = session.post(f"{hook.base_url}/anything", json={"a": 1}, allow_redirects=True, timeout=5)

    assert response.status_code == status and response.history == []
    assert nothing_arrived(recorder)
    assert len(hostile.seen) == 1
    with pytest.raises(HubSpotRedirectError):
        hook.check_response(response)


@pytest.mark.parametrize("status", STATUSES)
def test_the_connection_test_reports_a_redirect(
    status: int, hostile: HostileServer, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, hostile)
    hostile.queue(redirect(status, target(recorder)))

    ok, message = make_hook().test_connection()

    assert not ok and f"HTTP {status}" in message and "localhost" in message and "steal" not in message
    assert nothing_arrived(recorder)
    assert len(hostile.seen) == 1


def test_every_hook_method_that_sends_is_covered() -> None:
    """A new endpoint method on the hook fails this until it joins ``ENDPOINTS`` (hence the matrix)."""
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

    no_request_of_their_own = {
        "get_connection_form_widgets",
        "get_ui_field_behaviour",
        "check_response",
        "close",
        "find_slots",  # walks get_availability/get_booking_info
        "next_available_slot",
    }
    # The hook's own methods and its mixins' (hooks/_http_compat), not HttpHook's.
    own = [
        cls for cls in HubSpotSchedulerHook.__mro__ if cls.__module__.startswith("hubspot_scheduler_provider")
    ]
    sending = {
        name
        for cls in own
        for name, value in vars(cls).items()
        if callable(value) and not name.startswith("_") and name not in no_request_of_their_own
    }
    covered = (set(ENDPOINTS) - {"http_operator_run", "crm_contact", "crm_search"}) | {
        "run",  # http_operator_run
        "test_connection",  # test_the_connection_test_reports_a_redirect
        "get_conn",  # test_sessions_from_get_conn_never_follow_a_redirect
    }
    assert sending == covered
