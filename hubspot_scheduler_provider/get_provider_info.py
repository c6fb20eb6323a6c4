"""Provider metadata for Airflow's ProvidersManager (the ``apache_airflow_provider`` entry point)."""

from __future__ import annotations

from typing import Any

from hubspot_scheduler_provider import DISTRIBUTION_NAME, __version__
from hubspot_scheduler_provider.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR

_INTEGRATION = "HubSpot Scheduler"
_BOOKING_URIS = {"schemes": ["hubspot"], "handler": "hubspot_scheduler_provider.asset_events.sanitize_uri"}


def get_provider_info() -> dict[str, Any]:
    return {
        # Must equal the installed distribution's canonical name, or discovery breaks for every provider.
        "package-name": DISTRIBUTION_NAME,
        "name": "HubSpot Scheduler",
        "description": "Book HubSpot meetings from Airflow DAGs through HubSpot's Scheduler API.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://developers.hubspot.com/docs/api-reference/scheduler-meetings-v3/guide",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["hubspot_scheduler_provider.hooks.scheduler"],
            }
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "hubspot_scheduler_provider.operators.book_meeting",
                    "hubspot_scheduler_provider.operators.book_meetings",
                    "hubspot_scheduler_provider.operators.meeting_links",
                    "hubspot_scheduler_provider.operators.calendar_meeting",
                    "hubspot_scheduler_provider.operators.meeting_outcome",
                    "hubspot_scheduler_provider.operators.export_meetings",
                    "hubspot_scheduler_provider.operators.one_run_per_booking",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "hubspot_scheduler_provider.sensors.slot_available",
                    "hubspot_scheduler_provider.sensors.new_bookings",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "hubspot_scheduler_provider.triggers.slot_available",
                    "hubspot_scheduler_provider.triggers.new_bookings",
                ],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "hubspot_scheduler_provider.hooks.scheduler.HubSpotSchedulerHook",
                "hook-name": "HubSpot",
                "connection-type": "hubspot",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
        # hubspot://<portal id>/meeting-pages/<slug>: the booking assets (asset_events.booking_asset).
        "asset-uris": [_BOOKING_URIS],
        "dataset-uris": [_BOOKING_URIS],  # Airflow 2's spelling
        "extra-links": [
            "hubspot_scheduler_provider.links.HubSpotContactLink",
            "hubspot_scheduler_provider.links.HubSpotWebConferenceLink",
        ],
    }
