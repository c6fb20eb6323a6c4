"""A local test double of HubSpot's Scheduler API, shipped for tests. It is NOT HubSpot.

``HubSpotSandbox`` runs a real HTTP server on loopback that speaks the Scheduler endpoints of every API
version, validated against HubSpot's OpenAPI specs (``specs/``), with seeded meeting pages, computed
availability, bookings, HubSpot-format errors, rate limits, OAuth refresh and fault injection.
Importing this package does not import pytest; the fixtures live in ``testing.pytest_plugin``.
"""

from __future__ import annotations

from hubspot_scheduler_provider.testing.app import RecordedRequest
from hubspot_scheduler_provider.testing.faults import (
    Delay,
    DropAfterCommit,
    DropBeforeCommit,
    Fault,
    MalformedJson,
    SlowAfterCommit,
    Status,
)
from hubspot_scheduler_provider.testing.pages import ConsentCheckbox, FormField, Host, MeetingPage
from hubspot_scheduler_provider.testing.sandbox import DEFAULT_SCOPES, DEFAULT_TOKEN, HubSpotSandbox

__all__ = [
    "DEFAULT_SCOPES",
    "DEFAULT_TOKEN",
    "ConsentCheckbox",
    "Delay",
    "DropAfterCommit",
    "DropBeforeCommit",
    "Fault",
    "FormField",
    "Host",
    "HubSpotSandbox",
    "MalformedJson",
    "MeetingPage",
    "RecordedRequest",
    "SlowAfterCommit",
    "Status",
]
