"""The shared window's connection extras: validated before any request, secrets kept secret, a Redis
that does not answer never stalls a request."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from hubspot_scheduler_provider.errors import HubSpotConfigError
from hubspot_scheduler_provider.redaction import redact
from hubspot_scheduler_provider.shared_pacing import AccountWindow, account_key, shared_pacing_for
from tests.e2e.airflow_deployment import free_loopback_port
from tests.hooks.test_connection import settings_for

PASSWORD = "redis-pw-Zq81xv"
TOKEN = "pat-na1-token"


def test_storage_uri_is_read_and_its_password_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"redis://:{PASSWORD}@127.0.0.1:6379/1"
    settings = settings_for(
        monkeypatch, extra={"rate_limit_storage_uri": uri, "rate_limit_max_requests": "190"}
    )
    assert (settings.rate_limit_storage_uri, settings.rate_limit_max_requests) == (uri, 190)
    assert settings.rate_limit_window_seconds == 10
    assert PASSWORD not in redact(f"could not reach {uri}")
    assert PASSWORD not in repr(settings)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"rate_limit_storage_uri": f"http://:{PASSWORD}@cache:6379"}, "rate_limit_storage_uri"),
        # Malformed: urlsplit raises on the port or the host before the password can be read from it
        # (passwords no other test registers, so the scrubber cannot hide a leak here).
        (
            {"rate_limit_storage_uri": "redis://:Pw1-NEVER-SHOWN-a91@cache:notaport/0"},
            "rate_limit_storage_uri",
        ),
        ({"rate_limit_storage_uri": "redis://:Pw2-NEVER-SHOWN-b92@[::1/0"}, "rate_limit_storage_uri"),
        ({"rate_limit_storage_uri": "redis://u:Pw3-NEVER-SHOWN-c93@cache:99999/0"}, "rate_limit_storage_uri"),
        ({"rate_limit_storage_uri": "redis://"}, "rate_limit_storage_uri"),
        (
            {"rate_limit_storage_uri": "redis://h:1", "rate_limit_max_requests": "lots"},
            "rate_limit_max_requests",
        ),
        (
            {"rate_limit_storage_uri": "redis://h:1", "rate_limit_window_seconds": 0.5},
            "rate_limit_window_seconds",
        ),
    ],
)
def test_bad_extras_name_the_field(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], field: str
) -> None:
    with pytest.raises(HubSpotConfigError, match=field) as raised:
        settings_for(monkeypatch, extra=extra)
    assert PASSWORD not in str(raised.value) and "NEVER-SHOWN" not in str(raised.value)


def test_key_names_the_account_never_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    by_token = settings_for(monkeypatch, extra={"rate_limit_storage_uri": "redis://h:1"})
    assert TOKEN not in account_key(by_token) and account_key(by_token).startswith("credentials-")
    by_portal = settings_for(
        monkeypatch, extra={"rate_limit_storage_uri": "redis://h:1", "portal_id": "4711"}
    )
    assert account_key(by_portal) == "portal-4711"


def test_without_the_extra_nothing_is_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    assert shared_pacing_for(settings_for(monkeypatch)) is None


def test_unreachable_redis_sends_with_local_pacing(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test-shared-window")
    uri = f"redis://:{PASSWORD}@127.0.0.1:{free_loopback_port()}/1"  # nothing listens there
    window = AccountWindow(uri, "portal-1", max_requests=10, window_seconds=1, log=log)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            window.acquire()
    assert time.monotonic() - started < 5
    assert window.unshared == 3
    warnings = [record.getMessage() for record in caplog.records if "unreachable" in record.getMessage()]
    assert len(warnings) == 1, warnings  # once, not once per request
    assert PASSWORD not in caplog.text
