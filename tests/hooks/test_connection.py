"""The ``hubspot`` connection: host/scheme rules, extras, auth header, one session, HttpOperator use,
the connection form and ``test_connection`` messages."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.connection_form import (
    CONN_FIELDS,
    DEFAULT_HOST,
    DEFAULT_TIMEOUT_SECONDS,
    READ_SCOPE,
    legacy_ui_field_behaviour,
)
from hubspot_scheduler_provider.errors import HubSpotConfigError
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from tests.hooks.conftest import Answer, ScriptedServer, set_connection
from tests.hooks.test_endpoints import make_booking, open_slots
from tests.hooks.test_retries import free_port

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing import HubSpotSandbox


def settings_for(
    monkeypatch: pytest.MonkeyPatch, hook_kwargs: dict[str, Any] | None = None, **conn: Any
) -> Any:
    set_connection(monkeypatch, **{"password": "pat-na1-token", **conn})
    return HubSpotSchedulerHook(**(hook_kwargs or {})).settings


# ------------------------------------------------------------------------------------------- settings
@pytest.mark.parametrize(
    ("conn", "base_url"),
    [
        ({}, DEFAULT_HOST),
        ({"host": "api.hubapi.com"}, "https://api.hubapi.com"),  # no scheme: https, not HttpHook's http
        ({"host": "https://api.hubapi.com/"}, "https://api.hubapi.com"),
        ({"host": "http://127.0.0.1:8089"}, "http://127.0.0.1:8089"),
        ({"host": "http://localhost", "port": 8089}, "http://localhost:8089"),
        ({"host": "http://[::1]:8089"}, "http://[::1]:8089"),
        ({"host": "proxy.example.com", "schema": "https", "port": 8443}, "https://proxy.example.com:8443"),
    ],
)
def test_base_url(monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], base_url: str) -> None:
    assert settings_for(monkeypatch, **conn).base_url == base_url


@pytest.mark.parametrize("host", ["http://api.hubapi.com", "http://10.0.0.5:8080", "ftp://api.hubapi.com"])
def test_plain_http_refused_for_non_loopback_hosts(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    with pytest.raises(HubSpotConfigError, match=r"^hubspot connection 'hubspot_default': host: "):
        settings_for(monkeypatch, host=host)


def test_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    default = settings_for(monkeypatch)
    assert (default.api_version.name, default.timeout) == ("2026-09", DEFAULT_TIMEOUT_SECONDS)
    from_extra = settings_for(monkeypatch, extra={"api_version": "2026-03", "timeout": "12.5"})
    assert (from_extra.api_version.name, from_extra.timeout) == ("2026-03", 12.5)
    from_args = settings_for(
        monkeypatch, {"api_version": "v3", "timeout": 4}, extra={"api_version": "2026-03", "timeout": 12}
    )
    assert (from_args.api_version.name, from_args.timeout) == ("v3", 4.0)


@pytest.mark.parametrize(
    ("conn", "field"),
    [
        ({"extra": {"api_version": "v4"}}, "api_version"),
        ({"extra": {"timeout": "soon"}}, "timeout"),
        ({"extra": {"timeout": 0}}, "timeout"),
        ({"password": None}, "password"),
        (
            {"password": None, "extra": {"client_id": "client-id-1", "refresh_token": "refresh-token-1"}},
            "client_secret",
        ),
    ],
)
def test_bad_connection_names_the_field(
    monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], field: str
) -> None:
    with pytest.raises(HubSpotConfigError, match=rf"^hubspot connection 'hubspot_default': {field}: "):
        settings_for(monkeypatch, **conn)


def test_max_retries_is_checked() -> None:
    with pytest.raises(HubSpotConfigError, match=r"^max_retries: "):
        HubSpotSchedulerHook(max_retries=-1)


# ------------------------------------------------------------------------------------------- on the wire
def test_bearer_token_one_session_and_no_extras_as_headers(
    scripted_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {"api_version": "2026-09", "timeout": 7, "portal_id": "99", "some_flag": True, "nested": {"a": 1}}
    set_connection(monkeypatch, host=scripted_server.url, password="pat-na1-secret", extra=extra)
    hook = HubSpotSchedulerHook()
    page = {"results": [], "total": 0}
    scripted_server.queue(Answer(body=page), Answer(body=page), Answer(body=page))
    for _ in range(3):
        list(hook.list_meeting_links())
    assert {s.headers["Authorization"] for s in scripted_server.seen} == {"Bearer pat-na1-secret"}
    sent_headers = {name.lower() for s in scripted_server.seen for name in s.headers}
    assert not sent_headers & {name.lower() for name in extra}
    assert len({s.client_port for s in scripted_server.seen}) == 1  # one kept-alive connection
    assert hook.get_conn() is hook.get_conn() is hook.transport.session


def test_finite_default_timeout_is_applied(hubspot_sandbox_factory: Any) -> None:
    from hubspot_scheduler_provider.errors import HubSpotConnectionError
    from hubspot_scheduler_provider.testing import Delay

    sandbox = hubspot_sandbox_factory()
    assert HubSpotSchedulerHook().transport.timeout == DEFAULT_TIMEOUT_SECONDS
    sandbox.inject(Delay(1.0), method="GET", path_contains="/book/")
    with pytest.raises(HubSpotConnectionError, match=r"no answer within 0.2 s"):
        HubSpotSchedulerHook(timeout=0.2, max_retries=0).get_booking_info("alice-smith", "UTC")


def test_http_operator_works_with_a_hubspot_connection(hubspot_sandbox: HubSpotSandbox) -> None:
    from airflow.providers.http.operators.http import HttpOperator

    operator = HttpOperator(
        task_id="list_links",
        http_conn_id="hubspot_default",
        method="GET",
        endpoint="/scheduler/2026-09/meetings/meeting-links",
        data={"limit": 2},
        response_filter=lambda response: response.json()["total"],
    )
    assert isinstance(operator.hook, HubSpotSchedulerHook)
    assert operator.execute(context={}) == 4  # type: ignore[arg-type]
    [request] = hubspot_sandbox.requests
    assert request.query == {"limit": ["2"]} and request.status == 200


def test_http_operator_post_is_not_replayed_after_5xx(hubspot_sandbox: HubSpotSandbox) -> None:
    from airflow.providers.http.operators.http import HttpOperator

    from hubspot_scheduler_provider.errors import HubSpotServerError
    from hubspot_scheduler_provider.testing import Status

    hubspot_sandbox.inject(Status(503))
    operator = HttpOperator(
        task_id="book",
        http_conn_id="hubspot_default",
        method="POST",
        endpoint="/scheduler/2026-09/meetings/meeting-links/book",
        data=json.dumps({"slug": "alice-smith"}),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(HubSpotServerError) as raised:
        operator.execute(context={})  # type: ignore[arg-type]
    assert raised.value.outcome_unknown is True
    assert len(hubspot_sandbox.requests) == 1


def test_one_hook_books_from_several_threads(hubspot_sandbox: HubSpotSandbox) -> None:
    hook = HubSpotSchedulerHook()
    slots = open_slots(hook, "alice-smith", count=6)
    results: list[Any] = []
    errors: list[BaseException] = []

    def book(start: Any, duration_ms: int) -> None:
        try:
            results.append(hook.book_meeting(make_booking("alice-smith", start, duration_ms)))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=book, args=slot) for slot in slots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(r.meeting.start for r in results) == sorted(start for start, _ in slots)
    assert len(hubspot_sandbox.bookings) == 6
    assert len({r.correlation_id for r in results}) == 6


# ------------------------------------------------------------------------------------------- UI form
def test_legacy_form_methods_delegate_to_connection_form() -> None:
    assert HubSpotSchedulerHook.get_ui_field_behaviour() == legacy_ui_field_behaviour()
    pytest.importorskip("flask_appbuilder", reason="the Flask connection form exists on Airflow 2 only")
    assert list(HubSpotSchedulerHook.get_connection_form_widgets()) == list(CONN_FIELDS)


# ------------------------------------------------------------------------------------------- test_connection
def test_connection_ok(hubspot_sandbox: HubSpotSandbox) -> None:
    ok, message = HubSpotSchedulerHook().test_connection()
    assert ok, message
    assert message == (
        f"Connected to HubSpot at {hubspot_sandbox.url} (Scheduler API 2026-09); "
        "the token can read meeting links."
    )
    [request] = hubspot_sandbox.requests
    assert request.method == "GET" and request.query == {"limit": ["1"]}


def test_connection_bad_token(hubspot_sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, host=hubspot_sandbox.url, password="pat-na1-wrong")
    ok, message = HubSpotSchedulerHook().test_connection()
    assert not ok
    assert "HTTP 401" in message and "Check the connection's access token" in message
    assert "pat-na1-wrong" not in message


def test_connection_missing_scope_is_named(hubspot_sandbox_factory: Any) -> None:
    hubspot_sandbox_factory(scopes=["crm.objects.contacts.write"])
    ok, message = HubSpotSchedulerHook().test_connection()
    assert not ok and READ_SCOPE in message and "HTTP 403" in message


def test_connection_missing_scope_named_even_when_hubspot_does_not(
    scripted_server: ScriptedServer, scripted_hook: HubSpotSchedulerHook
) -> None:
    forbidden = {
        "status": "error",
        "message": "Forbidden",
        "category": "MISSING_SCOPES",
        "correlationId": "c-9",
    }
    scripted_server.queue(Answer(403, forbidden))
    ok, message = scripted_hook.test_connection()
    assert not ok and f"needs the scope {READ_SCOPE}" in message and "correlationId=c-9" in message


def test_connection_unreachable_host(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    set_connection(monkeypatch, host=f"http://127.0.0.1:{port}", password="pat-na1-token")
    hook = HubSpotSchedulerHook()
    waits: list[float] = []
    hook._sleep = waits.append
    ok, message = hook.test_connection()
    assert not ok and message.startswith(f"Could not reach HubSpot at http://127.0.0.1:{port}")
    assert waits == []  # a connection test answers at once, without retries


def test_connection_refuses_clear_text_http(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, host="http://api.hubapi.com", password="pat-na1-token")
    ok, message = HubSpotSchedulerHook().test_connection()
    assert not ok and "clear text" in message and "pat-na1-token" not in message


def test_run_and_check_response_like_http_hook(hubspot_sandbox: HubSpotSandbox) -> None:
    from hubspot_scheduler_provider.errors import HubSpotConnectionError, HubSpotNotFoundError

    hook = HubSpotSchedulerHook(method="GET")
    response = hook.run("scheduler/2026-09/meetings/meeting-links", {"limit": 1})
    assert response.json()["total"] == 4
    missing = hook.run("/scheduler/2026-09/meetings/meeting-links/book/nope", {"timezone": "UTC"},
                       extra_options={"check_response": False})  # fmt: skip
    assert missing.status_code == 404
    with pytest.raises(HubSpotNotFoundError):
        hook.check_response(missing)
    with pytest.raises(HubSpotConnectionError, match="refusing to send the HubSpot token"):
        hook.run("https://elsewhere.example.com/steal")
    assert len(hubspot_sandbox.requests) == 2


@pytest.mark.parametrize(
    "host",
    [
        "http:evil.com",
        "https:evil.com",
        "http:/evil.com",
        "api.hub api.com",
        "api.hub\napi.com",
        "api.hubapi.com\tx",
        "https://user:pw@api.hubapi.com",
        "https://pat-na1-token@api.hubapi.com",
        "user:pw@api.hubapi.com",
        "https://api.hubapi.com?x=1",
        "https://api.hubapi.com/#frag",
        "https://api.hubapi.com:99999",
        "https://api.hubapi.com:port",
        "https://api.hubapi.com:0",
        "https://-bad-.example.com",
        "https://api..hubapi.com",
        "https://exa mple.com",
        "https://exämple.com",
        "https://api.hubapi.com\\@evil.com",
        "https://api.hubapi.com/pa th",
        "https://",
        "//api.hubapi.com",
        "javascript:alert(1)",
    ],
)
def test_a_malformed_host_is_a_config_error_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch, scripted_server: Any, host: str
) -> None:
    """Nothing is sent (the scripted server sees no request) and nothing is retried."""
    set_connection(monkeypatch, host=host, password="pat-na1-token")
    hook = HubSpotSchedulerHook(max_retries=5)
    hook._sleep = lambda seconds: pytest.fail("a malformed host must not be retried")
    with pytest.raises(HubSpotConfigError, match=r"^hubspot connection 'hubspot_default': (host|port): "):
        hook.get_booking_info("alice-smith", "UTC")
    assert scripted_server.seen == []


def test_max_response_bytes_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_for(monkeypatch).max_response_bytes == 4 * 1024 * 1024
    assert settings_for(monkeypatch, extra={"max_response_bytes": "65536"}).max_response_bytes == 65536
    for bad in ("lots", 10, True, -5, 2**40):
        with pytest.raises(
            HubSpotConfigError, match=r"^hubspot connection 'hubspot_default': max_response_bytes: "
        ):
            settings_for(monkeypatch, extra={"max_response_bytes": bad})
