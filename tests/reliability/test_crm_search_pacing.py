"""CRM searches of one hook stay under HubSpot's separate search limit, whatever the number of threads.

A retried batch reconciles every item from up to 8 threads through one hook, and each reconciliation is
a CRM meeting search. HubSpot allows far fewer searches per second than other requests; the sandbox here
enforces a (scaled-down) search limit and counts its 429s.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.hooks.crm import MEETING_SEARCH_PATH, search_limiter_for
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.models import MeetingBooking
from hubspot_scheduler_provider.reconcile import BookingReconciler
from tests.reliability.helpers import SANDBOX_NOW, TOKEN, free_slots, payload

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing import HubSpotSandbox

BOOKINGS = 30
THREADS = 8
#: The sandbox's search limit: HubSpot's own (a scaled-down window would let a busy machine's slow
#: threads stay under it unpaced, and the negative test below could not fail for the right reason).
SEARCH_LIMIT = 5
SEARCH_WINDOW_SECONDS = 1.0
LOG = logging.getLogger(__name__)


@pytest.fixture
def search_limited_sandbox(hubspot_sandbox_factory: Any) -> HubSpotSandbox:
    sandbox: HubSpotSandbox = hubspot_sandbox_factory(
        token=TOKEN,
        now=SANDBOX_NOW,
        rate_limit=None,  # only the search limit can refuse
        crm_search_rate_limit=SEARCH_LIMIT,
        crm_search_window_seconds=SEARCH_WINDOW_SECONDS,
    )
    return sandbox


def _book_then_reconcile_all(sandbox: HubSpotSandbox, search_max_requests: int) -> list[int | None]:
    """Book ``BOOKINGS`` meetings, then reconcile each from ``THREADS`` threads sharing one hook; return
    the statuses the sandbox answered to the meeting searches."""
    bookings = [
        MeetingBooking.model_validate(payload(index, start))
        for index, start in enumerate(free_slots(BOOKINGS))
    ]
    hook = HubSpotSchedulerHook()
    # A refused search is retried after HubSpot's backoff (seconds); the scaled-down window needs less.
    hook._sleep = lambda seconds: time.sleep(min(seconds, SEARCH_WINDOW_SECONDS))
    try:
        for booking in bookings:
            hook.book_meeting(booking)
        already_sent = len(sandbox.requests)
        search_limiter_for(hook.transport).configure(search_max_requests, SEARCH_WINDOW_SECONDS)
        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = list(pool.map(lambda b: BookingReconciler(hook, b, LOG).find(), bookings))
    finally:
        hook.close()
    assert all(outcome is not None and outcome["reconciled"] for outcome in outcomes)
    reconciling = sandbox.requests[already_sent:]
    return [r.status for r in reconciling if r.method == "POST" and r.path == MEETING_SEARCH_PATH]


def test_default_search_pace_is_hubspots_limit(search_limited_sandbox: HubSpotSandbox) -> None:
    limiter = search_limiter_for(HubSpotSchedulerHook().transport)
    assert (limiter.max_requests, limiter.window_seconds) == (5, 1.0)


def test_threads_sharing_a_hook_get_no_search_429(search_limited_sandbox: HubSpotSandbox) -> None:
    statuses = _book_then_reconcile_all(search_limited_sandbox, search_max_requests=SEARCH_LIMIT)
    assert statuses.count(429) == 0
    assert len(statuses) == BOOKINGS


def test_without_the_pace_the_search_limit_answers_429(search_limited_sandbox: HubSpotSandbox) -> None:
    """The scenario above does hit the limit when searches are not paced: that test can fail."""
    statuses = _book_then_reconcile_all(search_limited_sandbox, search_max_requests=1000)
    assert statuses.count(429) > 0
    refusals = [r for r in search_limited_sandbox.requests if r.status == 429]
    assert {r.path for r in refusals} == {MEETING_SEARCH_PATH}
