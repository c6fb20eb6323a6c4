"""HubSpot-format error answers of the sandbox (a test double, not HubSpot).

Bodies follow the specs' ``Error`` schema: ``status``, ``message``, ``correlationId``, ``category``,
``subCategory``, ``errors[]`` and ``context``. The two booking subcategories
``MEETING_START_TIME_NOT_VALID`` / ``MEETING_DURATION_NOT_VALID`` are HubSpot's; the other
``MeetingsBookingSchedulingError.*`` names (form field, consent, email) are this sandbox's labels for
checks HubSpot performs but whose exact subcategory is not documented.
"""

from __future__ import annotations

from typing import Any

START_TIME_NOT_VALID = "MeetingsBookingSchedulingError.MEETING_START_TIME_NOT_VALID"
DURATION_NOT_VALID = "MeetingsBookingSchedulingError.MEETING_DURATION_NOT_VALID"
MISSING_REQUIRED_FORM_FIELD = "MeetingsBookingSchedulingError.MISSING_REQUIRED_FORM_FIELD"
MISSING_REQUIRED_CONSENT = "MeetingsBookingSchedulingError.MISSING_REQUIRED_LEGAL_CONSENT"
INVALID_EMAIL = "MeetingsBookingSchedulingError.INVALID_EMAIL"


class ApiError(Exception):
    """An error answer; raised anywhere in request handling, rendered once by the dispatcher."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        sub_category: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        status_text: str = "error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.sub_category = sub_category
        self.errors = errors or []
        self.context = context or {}
        self.status_text = status_text

    def body(self, correlation_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": self.status_text,
            "message": self.message,
            "correlationId": correlation_id,
            "category": self.category,
        }
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.errors:
            body["errors"] = self.errors
        if self.context:
            body["context"] = self.context
        return body


def validation_error(
    message: str, *, sub_category: str | None = None, errors: list[dict[str, Any]] | None = None
) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, sub_category=sub_category, errors=errors)


def not_found(message: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", message)


def missing_credentials() -> ApiError:
    return ApiError(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
        "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )


def invalid_token() -> ApiError:
    return ApiError(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
        "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        sub_category="INVALID_AUTHENTICATION.INVALID_TOKEN",
    )


def expired_token(seconds_ago: int) -> ApiError:
    return ApiError(
        401,
        "EXPIRED_AUTHENTICATION",
        f"The OAuth token used to make this call expired {seconds_ago} second(s) ago.",
    )


def missing_scopes(required_any_of: tuple[str, ...]) -> ApiError:
    scopes = list(required_any_of)
    return ApiError(
        403,
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about required "
        "scopes here: https://developers.hubspot.com/scopes.",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": scopes},
            }
        ],
        context={"missingScopes": scopes},
    )


def rate_limit_body(correlation_id: str, policy_name: str, limit: int | None) -> dict[str, Any]:
    """HubSpot's 429 body, which (unlike other errors) has ``errorType``/``policyName`` and no category."""
    if policy_name == "DAILY":
        message = "You have reached your daily limit."
    elif policy_name == "SECONDLY":
        message = "You have reached your secondly limit."
    else:
        message = f"You have reached your ten_secondly_rolling limit of {limit} requests."
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id,
        "policyName": policy_name,
        "groupName": "sandbox-app",
    }
