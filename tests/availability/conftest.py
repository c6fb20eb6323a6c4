"""Shared helpers of the availability tests: a sandbox on a fixed clock and what it was asked."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing import HubSpotSandbox

#: Monday 2026-03-02 12:00 UTC (07:00 in New York): the week before New York's spring DST change.
MARCH_NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
TOKEN = "sandbox-token-availability-never-print-me"


@pytest.fixture
def sandbox(hubspot_sandbox_factory: Any) -> HubSpotSandbox:
    """A sandbox fixed at :data:`MARCH_NOW`; connection ``hubspot_default`` points at it."""
    started: HubSpotSandbox = hubspot_sandbox_factory(token=TOKEN, now=MARCH_NOW)
    return started


def availability_reads(sandbox: HubSpotSandbox) -> list[tuple[str, int]]:
    """``(slug path segment, monthOffset)`` of every availability GET the sandbox received, in order."""
    return [
        (r.path.rsplit("/", 1)[1], int(r.query.get("monthOffset", ["0"])[0]))
        for r in sandbox.requests
        if r.method == "GET" and "/availability-page/" in r.path
    ]


def booking_posts(sandbox: HubSpotSandbox) -> list[dict[str, Any]]:
    return [r.body for r in sandbox.requests if r.method == "POST" and r.path.endswith("/book")]
