"""A local test double of HubSpot's Scheduler API, shipped for tests. It is NOT HubSpot.

``HubSpotSandbox`` runs a real HTTP server on loopback that speaks the Scheduler endpoints of every API
version, validated against HubSpot's OpenAPI specs (``specs/``), with seeded meeting pages, computed
availability, bookings, HubSpot-format errors, rate limits, OAuth refresh and fault injection.
Importing this package does not import pytest; the fixtures live in ``testing.pytest_plugin``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Loaded on first use (PEP 562): pytest imports ``testing.pytest_plugin``, and so this package, in
#: every test run of every project that installs the provider; most never start a sandbox.
_EXPORTS = {
    "RecordedRequest": "app",
    **dict.fromkeys(
        (
            "Delay",
            "DropAfterCommit",
            "DropBeforeCommit",
            "Fault",
            "MalformedJson",
            "SlowAfterCommit",
            "Status",
        ),
        "faults",
    ),
    **dict.fromkeys(("ConsentCheckbox", "FormField", "Host", "MeetingPage"), "pages"),
    **dict.fromkeys(("DEFAULT_SCOPES", "DEFAULT_TOKEN", "HubSpotSandbox"), "sandbox"),
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
