"""The ``hubspot`` connection form, defined once, and its "Test" button's check.

Airflow 3.2+ reads ``conn-fields``/``ui-field-behaviour`` from provider info; older versions call the
hook's ``get_connection_form_widgets``/``get_ui_field_behaviour``. Both are built from the tables
below so the two forms cannot drift. Importing this module is cheap (no Flask, no Airflow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.api_versions import API_VERSIONS, DEFAULT_API_VERSION

if TYPE_CHECKING:
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

#: The scope the connection test needs: it reads one meeting link.
READ_SCOPE = "scheduler.meetings.meeting-link.read"

DEFAULT_HOST = "https://api.hubapi.com"
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Cap on one answer's body: HubSpot's largest answers (a booking page with a month of slots, a page
#: of 100 meeting links) are well under 1 MB.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
#: Account-wide pacing (``rate_limit_storage_uri``): HubSpot's smallest limit until the connection says.
DEFAULT_RATE_LIMIT_MAX_REQUESTS = 100
DEFAULT_RATE_LIMIT_WINDOW_SECONDS = 10

#: Extra fields of the connection: name -> (label, JSON schema, description).
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "api_version": {
        "label": "API version",
        "schema": {"type": ["string", "null"], "default": DEFAULT_API_VERSION, "enum": [*API_VERSIONS, None]},
        "description": "Scheduler API version path. v3 support ends in September 2027.",
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "schema": {"type": ["number", "null"], "default": DEFAULT_TIMEOUT_SECONDS, "minimum": 1},
        "description": "Deadline of each request: connecting plus reading the whole answer.",
    },
    "max_response_bytes": {
        "label": "Max answer size (bytes)",
        "schema": {
            "type": ["integer", "null"],
            "default": DEFAULT_MAX_RESPONSE_BYTES,
            "minimum": 1024,
            "maximum": 1024**3,
        },
        "description": "Longest answer body read (after decompression); a larger one fails the request.",
    },
    "portal_id": {
        "label": "Portal (hub) ID",
        "schema": {"type": ["string", "null"]},
        "description": "Optional; used for links to HubSpot records. Looked up when empty.",
    },
    "rate_limit_storage_uri": {
        "label": "Shared rate-limit store (Redis URL)",
        "schema": {"type": ["string", "null"], "format": "password"},
        "description": "Optional, for several workers: redis://host:port/db. Every process then "
        "shares one rolling window of the account's limit (the [distributed] extra).",
    },
    "rate_limit_storage_password": {
        "label": "Shared rate-limit store password",
        "schema": {"type": ["string", "null"], "format": "password"},
        "description": "The Redis password, kept out of the URL (Airflow masks this field by its name).",
    },
    "rate_limit_max_requests": {
        "label": "Account rate limit (requests per window)",
        "schema": {"type": ["integer", "null"], "default": DEFAULT_RATE_LIMIT_MAX_REQUESTS, "minimum": 1},
        "description": "With the shared store: the account's limit (100, 190, or 110 for OAuth apps).",
    },
    "rate_limit_window_seconds": {
        "label": "Account rate-limit window (seconds)",
        "schema": {"type": ["integer", "null"], "default": DEFAULT_RATE_LIMIT_WINDOW_SECONDS, "minimum": 1},
        "description": "With the shared store: the limit's rolling window (HubSpot's is 10 s).",
    },
    "client_id": {
        "label": "OAuth client ID",
        "schema": {"type": ["string", "null"]},
        "description": "Only for OAuth apps: with the client secret and refresh token, the hook "
        "fetches and refreshes short-lived access tokens itself.",
    },
    "client_secret": {
        "label": "OAuth client secret",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "refresh_token": {
        "label": "OAuth refresh token",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port", "extra"],
    "relabeling": {"password": "Access token (service key, private app or OAuth)"},
    "placeholders": {
        "host": DEFAULT_HOST,
        "password": "pat-na1-... (leave empty when using an OAuth refresh token)",
        "api_version": DEFAULT_API_VERSION,
        "timeout": str(int(DEFAULT_TIMEOUT_SECONDS)),
    },
}


def legacy_ui_field_behaviour() -> dict[str, Any]:
    """``UI_FIELD_BEHAVIOUR`` in the snake_case shape Airflow < 3.2 expects from the hook."""
    return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}


def legacy_connection_form_widgets() -> dict[str, Any]:
    """WTForms widgets for Airflow < 3.2's Flask connection form, built from ``CONN_FIELDS``."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, field in CONN_FIELDS.items():
        label = lazy_gettext(field["label"])
        if field["schema"].get("format") == "password":
            widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget())
        else:
            widgets[name] = StringField(
                label, widget=BS3TextFieldWidget(), description=field.get("description", "")
            )
    return widgets


def check_connection(hook: HubSpotSchedulerHook) -> tuple[bool, str]:
    """One cheap authorized GET (the first meeting link) through ``hook``; the message says what to fix.
    Never raises: the connection test must answer, never crash the UI."""
    from hubspot_scheduler_provider.errors import HubSpotConfigError, HubSpotError, HubSpotMissingScopesError

    try:
        settings = hook.settings
        hook._get_json(hook._path("/meeting-links"), {"limit": 1}, max_retries=0)
    except HubSpotMissingScopesError as error:
        if error.missing_scopes:
            return False, str(error)
        return False, f"{error} Reading meeting links needs the scope {READ_SCOPE}."
    except (HubSpotError, HubSpotConfigError) as error:
        return False, str(error)
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"
    return True, (
        f"Connected to HubSpot at {settings.base_url} (Scheduler API {settings.api_version.name}); "
        "the token can read meeting links."
    )
