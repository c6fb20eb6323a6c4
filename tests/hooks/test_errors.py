"""HubSpot error answers become one exception class per actionable problem, with a readable message."""

from __future__ import annotations

import json
import logging
import pickle
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from hubspot_scheduler_provider.connection_form import READ_SCOPE
from hubspot_scheduler_provider.errors import (
    BookingInputError,
    HubSpotAuthenticationError,
    HubSpotError,
    HubSpotMissingScopesError,
    HubSpotNotFoundError,
    HubSpotRateLimitError,
    HubSpotResponseError,
    HubSpotServerError,
    HubSpotValidationError,
    error_from_response,
)
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.testing import MalformedJson, Status
from tests.hooks.conftest import Answer, ScriptedServer, recording

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing import HubSpotSandbox

CORRELATION = "aeb5f871-7f07-4993-9211-075dc63e7cbf"


def body(**fields: Any) -> bytes:
    return json.dumps({"status": "error", "correlationId": CORRELATION, **fields}).encode()


@pytest.mark.parametrize(
    ("status", "payload", "cls"),
    [
        (401, body(message="Authentication credentials not found.", category="INVALID_AUTHENTICATION"),
         HubSpotAuthenticationError),
        (403, body(message="This app hasn't been granted all required scopes.", category="MISSING_SCOPES"),
         HubSpotMissingScopesError),
        (404, body(message="Meeting link not found", category="OBJECT_NOT_FOUND"), HubSpotNotFoundError),
        (400, body(message="Invalid start time", category="VALIDATION_ERROR",
                   subCategory="MeetingsBookingSchedulingError.MEETING_START_TIME_NOT_VALID"),
         HubSpotValidationError),
        (422, body(message="Bad", category="VALIDATION_ERROR"), HubSpotValidationError),
        (429, body(message="You have reached your ten_secondly_rolling limit.", errorType="RATE_LIMIT",
                   policyName="TEN_SECONDLY_ROLLING"), HubSpotRateLimitError),
        (500, body(message="internal error", category="INTERNAL_ERROR"), HubSpotServerError),
        (503, b"", HubSpotServerError),
    ],
)  # fmt: skip
def test_each_status_maps_to_its_class(status: int, payload: bytes, cls: type[HubSpotError]) -> None:
    error = error_from_response(status, payload, headers={"X-HubSpot-Correlation-Id": "from-header"})
    assert type(error) is cls
    assert isinstance(error, AirflowException)
    assert error.status == status
    text = str(error)
    assert f"status={status}" in text and "category=" in text and "subCategory=" in text
    assert "correlationId=" in text
    if payload:
        assert error.correlation_id == CORRELATION and f"correlationId={CORRELATION}" in text
    else:  # no body: the header still identifies the request for HubSpot support
        assert error.correlation_id == "from-header"


def test_validation_error_carries_sub_category_and_details() -> None:
    error = error_from_response(
        400,
        body(
            message="Invalid input",
            category="VALIDATION_ERROR",
            errors=[{"message": "'company' is required", "in": "company",
                     "subCategory": "MeetingsBookingSchedulingError.MISSING_REQUIRED_FORM_FIELD"}],
            context={"slug": ["demo-with-form"]},
        ),
        method="POST",
        path="/scheduler/2026-09/meetings/meeting-links/book",
    )  # fmt: skip
    assert isinstance(error, HubSpotValidationError)
    # HubSpot sometimes names the sub-category only on the error detail.
    assert error.sub_category == "MeetingsBookingSchedulingError.MISSING_REQUIRED_FORM_FIELD"
    assert error.errors[0]["in"] == "company"
    assert error.context == {"slug": ["demo-with-form"]}
    assert str(error).startswith(
        "HubSpot POST /scheduler/2026-09/meetings/meeting-links/book failed with HTTP 400: Invalid input ["
    )


def test_missing_scopes_are_named() -> None:
    error = error_from_response(
        403,
        body(message="missing", category="MISSING_SCOPES",
             errors=[{"message": "scopes", "context": {"missingScopes": ["crm.objects.contacts.write"]}}]),
    )  # fmt: skip
    assert isinstance(error, HubSpotMissingScopesError)
    assert error.missing_scopes == ["crm.objects.contacts.write"]
    assert "crm.objects.contacts.write" in str(error)


def test_rate_limit_policy_and_daily_message() -> None:
    error = error_from_response(
        429, body(message="daily", errorType="RATE_LIMIT", policyName="DAILY"), retry_after_seconds=5.0
    )
    assert isinstance(error, HubSpotRateLimitError)
    assert (error.policy_name, error.category, error.retry_after_seconds) == ("DAILY", "RATE_LIMIT", 5.0)
    assert "policyName=DAILY" in str(error) and "DAILY API limit is used up" in str(error)


@pytest.mark.parametrize(
    "raw",
    [
        b"<html><body>" + b"Bad gateway from the corporate proxy. " * 40 + b"</body></html>",
        b"\xff\xfe not utf-8 at all",
        b'["a", "json", "list"]',
        b"",
    ],
)
def test_a_body_not_in_hubspot_shape_still_reads_well(raw: bytes) -> None:
    error = error_from_response(502, raw, method="GET", path="/scheduler/2026-09/meetings/meeting-links")
    assert isinstance(error, HubSpotServerError)
    text = str(error)
    assert text.startswith("HubSpot GET /scheduler/2026-09/meetings/meeting-links failed with HTTP 502")
    assert "status=502, category=-, subCategory=-, correlationId=-" in text
    assert "\n" not in text
    assert len(text) < 450  # the quoted excerpt is capped (~200 chars)
    if raw.startswith(b"<html>"):
        assert "Bad gateway from the corporate proxy." in text and text.count("corporate proxy") < 10


def test_errors_pickle_with_all_details() -> None:
    error = error_from_response(
        403,
        body(message="no", category="MISSING_SCOPES", context={"missingScopes": ["a.read"]}),
        outcome_unknown=True,
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is HubSpotMissingScopesError
    assert (copy.missing_scopes, copy.correlation_id, copy.outcome_unknown) == (["a.read"], CORRELATION, True)
    assert str(copy) == str(error)


def test_booking_input_error_fails_the_task_without_retry() -> None:
    error = BookingInputError("start_time", "must be in the future")
    assert isinstance(error, AirflowFailException) and isinstance(error, ValueError)
    assert str(error) == "start_time: must be in the future" and error.field == "start_time"
    assert pickle.loads(pickle.dumps(error)).field == "start_time"


# ------------------------------------------------------------------------------------- over real HTTP
def test_wrong_token(hubspot_sandbox_factory: Any) -> None:
    sandbox = hubspot_sandbox_factory()
    sandbox.tokens.static_token = "another-token"  # the connection still holds "sandbox-token"
    with pytest.raises(HubSpotAuthenticationError) as raised:
        HubSpotSchedulerHook().get_booking_info("alice-smith", "UTC")
    assert raised.value.status == 401 and "access token" in str(raised.value)
    assert "sandbox-token" not in str(raised.value)


def test_missing_scope_named_from_hubspot_answer(hubspot_sandbox_factory: Any) -> None:
    hubspot_sandbox_factory(scopes=["crm.objects.contacts.write"])
    with pytest.raises(HubSpotMissingScopesError) as raised:
        list(HubSpotSchedulerHook().list_meeting_links())
    assert READ_SCOPE in raised.value.missing_scopes and READ_SCOPE in str(raised.value)


def test_success_status_with_broken_json(hubspot_sandbox: HubSpotSandbox) -> None:
    hubspot_sandbox.inject(MalformedJson(), method="GET", path_contains="/meeting-links")
    with pytest.raises(HubSpotResponseError, match="not a JSON object") as raised:
        list(HubSpotSchedulerHook().list_meeting_links())
    assert raised.value.correlation_id == hubspot_sandbox.requests[-1].correlation_id


def test_success_with_wrong_shape_names_fields_not_values(
    scripted_server: ScriptedServer, scripted_hook: HubSpotSchedulerHook
) -> None:
    scripted_server.queue(Answer(body={"results": [{"slug": "secret-person@example.com"}], "total": "x"}))
    with pytest.raises(HubSpotResponseError) as raised:
        list(scripted_hook.list_meeting_links())
    text = str(raised.value)
    assert "CollectionResponseWithTotalExternalLinkMetadata" in text and "results.0.id: missing" in text
    assert "secret-person@example.com" not in text


def test_error_bodies_are_not_logged(
    hubspot_sandbox: HubSpotSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "PERSONAL-DATA-ada@example.com"
    failure = Status(500, body={"message": "boom", "echo": marker})
    hubspot_sandbox.inject(failure, method="GET", path_contains="/book/", times=6)
    hook = recording(HubSpotSchedulerHook())
    with caplog.at_level(logging.DEBUG), pytest.raises(HubSpotServerError) as raised:
        hook.get_booking_info("alice-smith", "UTC")
    assert marker not in caplog.text
    assert marker not in str(raised.value)
    assert "sandbox-token" not in caplog.text


def test_emails_in_hubspot_messages_are_masked(hubspot_sandbox: HubSpotSandbox) -> None:
    from datetime import datetime, timezone

    from hubspot_scheduler_provider.models import MeetingBooking

    booking = MeetingBooking(
        slug="alice-smith",
        email="not-an-email@nowhere",
        first_name="Ada",
        last_name="Lovelace",
        start_time=datetime(2030, 1, 7, 15, tzinfo=timezone.utc),
        duration=1_800_000,
    )
    hubspot_sandbox.inject(
        Status(
            400,
            body={
                "message": "email: 'ada.lovelace@example.com' is not valid",
                "category": "VALIDATION_ERROR",
            },
        )
    )
    with pytest.raises(HubSpotValidationError) as raised:
        HubSpotSchedulerHook().book_meeting(booking)
    assert "a***@example.com" in str(raised.value)
    assert "ada.lovelace" not in str(raised.value)
