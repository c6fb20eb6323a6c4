"""OAuth connections: the hook fetches access tokens itself, renews them before their 30-minute expiry,
and once after a 401 (then repeats that request once). Refreshes are serialised across threads."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import redact

from hubspot_scheduler_provider.errors import HubSpotAuthenticationError
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from tests.hooks.conftest import Answer, ScriptedServer, recording, set_connection
from tests.hooks.test_endpoints import make_booking, open_slots

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing import HubSpotSandbox

T0 = datetime(2030, 1, 7, 8, 0, tzinfo=timezone.utc)
CLIENT = {
    "oauth_client_id": "client-1",
    "oauth_client_secret": "client-secret-xyz",
    "oauth_refresh_token": "refresh-token-abc",
}


class Clock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def oauth_sandbox(hubspot_sandbox_factory: Any) -> HubSpotSandbox:
    return hubspot_sandbox_factory(token=None, now=T0, **CLIENT)  # type: ignore[no-any-return]


def token_requests(sandbox: HubSpotSandbox) -> list[Any]:
    return [r for r in sandbox.requests if r.path == "/oauth/v1/token"]


def test_fetches_a_token_with_the_refresh_grant(oauth_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    assert hook.get_booking_info("alice-smith", "UTC").link_id
    assert hook.get_booking_info("alice-smith", "UTC").link_id
    [token_request] = token_requests(oauth_sandbox)
    assert token_request.method == "POST"
    assert token_request.headers.get("Content-Type") == "application/x-www-form-urlencoded"
    assert token_request.body["grant_type"] == "refresh_token"
    assert token_request.body["client_id"] == "client-1"
    assert "Authorization" not in token_request.headers  # the token request carries client credentials only


def test_renews_before_the_30_minute_expiry(oauth_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    hook._clock = clock = Clock()
    hook.get_booking_info("alice-smith", "UTC")
    clock.seconds += 1400
    oauth_sandbox.advance(timedelta(seconds=1400))
    hook.get_booking_info("alice-smith", "UTC")
    assert len(token_requests(oauth_sandbox)) == 1  # still fresh
    clock.seconds += 150  # 25.8 minutes in: inside the renewal margin, before expiry
    oauth_sandbox.advance(timedelta(seconds=150))
    hook.get_booking_info("alice-smith", "UTC")
    assert len(token_requests(oauth_sandbox)) == 2
    assert all(r.status != 401 for r in oauth_sandbox.requests)  # renewed before HubSpot refused it


def test_expired_token_renewed_once_and_the_booking_repeated_once(oauth_sandbox: HubSpotSandbox) -> None:
    hook = recording(HubSpotSchedulerHook())
    [(start, duration_ms)] = open_slots(hook, "alice-smith")
    oauth_sandbox.expire_access_tokens()
    result = hook.book_meeting(make_booking("alice-smith", start, duration_ms))
    calls = [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in oauth_sandbox.requests[-3:]]
    assert calls == [("POST", "book", 401), ("POST", "token", 200), ("POST", "book", 200)]
    assert len(oauth_sandbox.bookings) == 1 and result.meeting.start == start
    assert hook.waits == []  # type: ignore[attr-defined]


def test_a_second_401_is_raised_not_looped(
    scripted_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(
        monkeypatch,
        host=scripted_server.url,
        extra={"client_id": "c", "client_secret": "s3cr3t-client", "refresh_token": "r3fr3sh-token"},
    )
    token = {
        "access_token": "tok-{}",
        "refresh_token": "r3fr3sh-token",
        "expires_in": 1800,
        "token_type": "bearer",
    }
    unauthorized = Answer(401, {"status": "error", "message": "expired", "category": "EXPIRED_AUTHENTICATION",
                                "correlationId": "c-1"})  # fmt: skip
    scripted_server.queue(
        Answer(body={**token, "access_token": "tok-1"}), unauthorized,
        Answer(body={**token, "access_token": "tok-2"}), unauthorized,
    )  # fmt: skip
    with pytest.raises(HubSpotAuthenticationError) as raised:
        HubSpotSchedulerHook().get_booking_info("alice-smith", "UTC")
    assert [s.path.split("?")[0].rsplit("/", 1)[-1] for s in scripted_server.seen] == [
        "token", "alice-smith", "token", "alice-smith",
    ]  # fmt: skip
    assert [s.headers.get("Authorization") for s in scripted_server.seen[1::2]] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]
    assert raised.value.category == "EXPIRED_AUTHENTICATION"


def test_refused_refresh_token(hubspot_sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = hubspot_sandbox_factory(token=None, **CLIENT)
    set_connection(
        monkeypatch,
        host=sandbox.url,
        extra={
            "client_id": "client-1",
            "client_secret": "client-secret-xyz",
            "refresh_token": "revoked-token",
        },
    )
    with pytest.raises(HubSpotAuthenticationError) as raised:
        HubSpotSchedulerHook().get_booking_info("alice-smith", "UTC")
    text = str(raised.value)
    assert "OAuth token refresh was refused" in text and "client_id, client_secret and refresh_token" in text
    assert "revoked-token" not in text and "client-secret-xyz" not in text
    assert len(sandbox.requests) == 1


def test_threads_sharing_a_hook_refresh_once(oauth_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def read() -> None:
        try:
            barrier.wait()
            hook.get_booking_info("alice-smith", "UTC")
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(token_requests(oauth_sandbox)) == 1
    assert sum(1 for r in oauth_sandbox.requests if r.path.endswith("/alice-smith")) == 8


def test_secrets_are_registered_with_the_masker(oauth_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    hook.get_booking_info("alice-smith", "UTC")
    access_token = hook.transport.tokens.token()
    for secret in ("client-secret-xyz", "refresh-token-abc", access_token):
        redacted = redact(f"log line with {secret} inside")
        assert secret not in redacted and "***" in redacted
    assert "client-secret-xyz" not in repr(hook.settings) and "refresh-token-abc" not in repr(hook.settings)
