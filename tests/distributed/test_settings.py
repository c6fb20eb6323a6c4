"""The shared window's connection extras: validated before any request, secrets kept secret, a Redis
that does not answer never stalls a request."""

from __future__ import annotations

import logging
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.errors import HubSpotConfigError
from hubspot_scheduler_provider.redaction import redact
from hubspot_scheduler_provider.shared_pacing import (
    STORAGE_RETRY_SECONDS,
    AccountWindow,
    account_key,
    shared_pacing_for,
)
from tests.distributed.deployment import redis_command
from tests.distributed.fake_redis import FakeRedis
from tests.e2e.airflow_deployment import free_loopback_port
from tests.hooks.test_connection import settings_for

if TYPE_CHECKING:
    from pathlib import Path

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


def wait_for_connections(redis: FakeRedis, at_least: int) -> int:
    """The listener's count once it has accepted ``at_least`` (its thread accepts a moment later)."""
    deadline = time.monotonic() + 10
    while redis.connections < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    return redis.connections


def test_a_blackholed_redis_costs_one_storage_attempt_per_cool_down() -> None:
    """After one attempt times out, requests skip the shared window (own pacing) for
    STORAGE_RETRY_SECONDS instead of each waiting out the connect and read timeouts; then one tries
    Redis again."""
    now = [1_000_000.0]
    with FakeRedis(echo=False) as redis:
        window = AccountWindow(
            redis.url(), "portal-bh", max_requests=10, window_seconds=1, clock=lambda: now[0]
        )
        window.acquire()
        first = wait_for_connections(redis, 1)
        started = time.monotonic()
        for _ in range(10):
            window.acquire()
            window.answered()
        skipped_in = time.monotonic() - started
        time.sleep(0.3)  # a connection made by those requests would be accepted by now
        assert redis.connections == first, "the requests in the cool-down tried Redis"
        assert skipped_in < 1.0, skipped_in  # each would wait >= STORAGE_TIMEOUT_SECONDS otherwise
        assert window.unshared == 11

        now[0] += STORAGE_RETRY_SECONDS  # the cool-down is over: the next request tries Redis again
        window.acquire()
        assert wait_for_connections(redis, first + 1) > first
        assert window.unshared == 12


@pytest.mark.parametrize("where", ["in the URL", "in rate_limit_storage_password"])
def test_a_redis_quoting_the_password_never_gets_it_into_the_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    password = f"Echoed-Pw-{where.split()[-1][-8:]}-4kQ"  # registered by no other test
    with FakeRedis(echo=True) as redis:
        extra = (
            {"rate_limit_storage_uri": redis.url(f":{password}@")}
            if where == "in the URL"
            else {"rate_limit_storage_uri": redis.url(), "rate_limit_storage_password": password}
        )
        settings = settings_for(monkeypatch, extra=extra)
        pacing = shared_pacing_for(settings, logging.getLogger("test-shared-window"))
        assert pacing is not None
        with caplog.at_level(logging.DEBUG):
            pacing.general.acquire()
            pacing.general.answered()
    assert wait_for_connections(redis, 1) >= 1  # the password went to the server, which quoted it back
    warnings = [record.getMessage() for record in caplog.records if "unreachable" in record.getMessage()]
    assert len(warnings) == 1 and "you sent" in warnings[0], warnings
    assert password not in caplog.text
    assert password not in repr(pacing) and password not in repr(settings)


class ProbeWaits(Exception):
    """Raised from the probe's sleep: the test has seen what it needs while the probe waits."""


def test_redis_back_with_a_full_window_shares_again_while_the_probe_waits(tmp_path: Path) -> None:
    """The first answer of a returned Redis ends the cool-down for every request, not the probe's slot:
    while the probe waits on a full window, the others' answers are counted in it again."""
    port = free_loopback_port()
    uri = f"redis://127.0.0.1:{port}/0"
    cli = ["redis-cli", "-p", str(port)]
    now = [time.time()]
    seen: list[str] = []

    def sleep(seconds: float) -> None:  # the probe waits: another thread's answer arrives meanwhile
        window.answered()
        seen.append(subprocess.run([*cli, "keys", "*answered*"], capture_output=True, text=True).stdout)
        raise ProbeWaits

    limit: dict[str, Any] = {"max_requests": 2, "window_seconds": 60, "reserve_fraction": 0.0}
    window = AccountWindow(uri, "portal-back", clock=lambda: now[0], sleep=sleep, **limit)
    window.acquire()  # nothing listens yet: Redis is down, the cool-down starts
    assert window.unshared == 1
    server = subprocess.Popen(redis_command(port, tmp_path), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while subprocess.run([*cli, "ping"], capture_output=True).returncode:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
        other = AccountWindow(uri, "portal-back", **limit)
        other.acquire(), other.acquire()  # another worker fills the shared window
        now[0] += STORAGE_RETRY_SECONDS  # the cool-down is over: the next request probes Redis
        with pytest.raises(ProbeWaits):
            window.acquire()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert len(seen) == 1 and "portal-back/answered" in seen[0], seen  # counted, not skipped
