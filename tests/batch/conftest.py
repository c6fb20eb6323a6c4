"""Fixtures for batch booking tests: a sandbox on a fixed clock, and payloads for free slots on it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from tests.operators.conftest import SANDBOX_NOW, TOKEN

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing import HubSpotSandbox

#: Wednesday 2026-12-02 09:00 New York: the first of ``alice-smith``'s free 30-minute slots.
FIRST_SLOT = datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc)
#: Free 30-minute slots per day on ``alice-smith`` from 09:00 to 12:00 New York (before Thursday's lunch).
SLOTS_PER_DAY = 6


def slot(number: int) -> str:
    """The ``number``-th free 30-minute slot on ``alice-smith``, Wednesday to Friday mornings."""
    day, index = divmod(number, SLOTS_PER_DAY)
    if day > 2:
        raise ValueError("only three mornings of free slots are laid out")
    moment = FIRST_SLOT + timedelta(days=day, minutes=30 * index)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def lead(number: int, **changes: Any) -> dict[str, Any]:
    """A booking payload for slot ``number`` with a distinct booker."""
    return {
        "slug": "alice-smith",
        "email": f"lead{number}@example.com",
        "firstName": "Lead",
        "lastName": f"Number{number}",
        "startTime": slot(number),
        "duration": 1800000,
        **changes,
    }


@pytest.fixture
def sandbox(hubspot_sandbox_factory: Any, airflow_db: str) -> HubSpotSandbox:
    """A started sandbox on a fixed clock; connection ``hubspot_default`` points at it."""
    sandbox: HubSpotSandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW)
    return sandbox
