"""Sandbox, visitor bookings and request counting for the CRM meeting tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from tests.operators.conftest import SANDBOX_NOW, TOKEN

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing import HubSpotSandbox

HALF_HOUR_MS = 1_800_000
SEARCH_PATH = "/crm/v3/objects/meetings/search"
ASSOCIATIONS_PATH = "/crm/v4/associations/meetings/contacts/batch/read"


@pytest.fixture
def sandbox(hubspot_sandbox_factory: Any, airflow_db: str) -> HubSpotSandbox:
    """A started sandbox on a fixed clock; connection ``hubspot_default`` points at it."""
    started: HubSpotSandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW)
    return started


@pytest.fixture
def hook(sandbox: HubSpotSandbox) -> Any:
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

    made = HubSpotSchedulerHook()
    yield made
    made.close()


def free_starts(sandbox: HubSpotSandbox, count: int, slug: str = "alice-smith") -> list[datetime]:
    """``count`` free, non-overlapping 30-minute starts on ``slug`` (computed, no request sent)."""
    from hubspot_scheduler_provider.testing.availability import available_slots, to_ms

    now = to_ms(sandbox.now)
    with sandbox.state.lock:
        offered = available_slots(
            sandbox.pages[slug], sandbox.state.busy, HALF_HOUR_MS, now, now, now + 60 * 86_400_000
        )
    chosen: list[int] = []
    for start in offered:
        if not chosen or start >= chosen[-1] + HALF_HOUR_MS:
            chosen.append(start)
    assert len(chosen) >= count, f"only {len(chosen)} free slots"
    return [datetime.fromtimestamp(start / 1000, tz=timezone.utc) for start in chosen[:count]]


def book_visitors(
    sandbox: HubSpotSandbox,
    count: int,
    *,
    created_at: list[datetime] | None = None,
    slug: str = "alice-smith",
) -> list[dict[str, Any]]:
    """``count`` bookings by leads on the public page (not through the provider); ``created_at`` sets
    each CRM meeting's creation time (default: one millisecond apart, in order)."""
    times = created_at or [SANDBOX_NOW + timedelta(milliseconds=index) for index in range(count)]
    return [
        sandbox.book_as_visitor(slug, start, email=f"lead{index}@example.com", created_at=times[index])
        for index, start in enumerate(free_starts(sandbox, count, slug))
    ]


def meeting_ids(sandbox: HubSpotSandbox) -> list[str]:
    return [booking["crmMeetingId"] for booking in sandbox.bookings]


def requests_to(sandbox: HubSpotSandbox, method: str, path_part: str) -> list[Any]:
    return [r for r in sandbox.requests if r.method == method and path_part in r.path]
