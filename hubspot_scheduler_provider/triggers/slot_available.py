"""``MeetingSlotAvailableTrigger``: wait in the triggerer until a meeting page has a free slot.

The triggerer runs every trigger on one event loop, so nothing here may block it. Each poll runs the
ordinary synchronous hook in a worker thread (``asyncio.to_thread``): it reuses the hook's auth, token
refresh and error handling instead of a second, async HTTP client. The hook is built with
``max_retries=0`` and ``pace_on_remaining=False`` so that every wait (a 429, a low
``X-HubSpot-RateLimit-Remaining``) happens here, in ``asyncio.sleep``, and never parks a shared
worker thread in ``time.sleep``. The hook's session is closed when the trigger ends.

Only reads happen here. Booking stays in a task: a triggerer restart re-runs ``run()`` from the start,
and a re-sent booking could double-book (HubSpot has no idempotency key).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from hubspot_scheduler_provider.retry_rules import DAILY_LIMIT_BACKOFF_SECONDS, poll_again_after
from hubspot_scheduler_provider.triggers._hook_lifecycle import PollingHookLifecycle
from hubspot_scheduler_provider.units import MS_PER_MINUTE, parse_iso_instant

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from hubspot_scheduler_provider.availability import SlotQuery

__all__ = ["DAILY_LIMIT_BACKOFF_SECONDS", "MeetingSlotAvailableTrigger"]


class MeetingSlotAvailableTrigger(PollingHookLifecycle, BaseTrigger):
    """Fire once page ``slug`` has a free slot of ``duration_ms`` inside ``[earliest, latest]``.

    Events (``payload["status"]``):

    * ``"success"``: ``payload["slot"]`` is the first free slot, ISO 8601 in ``timezone``;
    * ``"timeout"``: ``deadline`` passed without a free slot;
    * ``"error"``: a problem waiting will not fix (bad input, authentication, missing scope, unknown
      page); ``payload["retryable"]`` is false for bad input.

    Rate limits, 5xx answers and unreachable HubSpot are waited out until ``deadline``.

    :param slug: Meeting page slug.
    :param duration_ms: Meeting length in milliseconds.
    :param timezone: IANA zone for HubSpot's month pages and the returned slot.
    :param earliest: ISO 8601 start of the window, or None.
    :param latest: ISO 8601 end of the window (the meeting must end by then), or None.
    :param hubspot_conn_id: Connection to HubSpot (only its id is serialized, never a secret).
    :param poll_interval: Seconds between polls.
    :param deadline: ISO 8601 moment (UTC) after which the trigger gives up, or None for never.
    :param api_version: HubSpot API version, or None for the connection's.
    """

    def __init__(
        self,
        *,
        slug: str,
        duration_ms: int,
        timezone: str = "UTC",
        earliest: str | None = None,
        latest: str | None = None,
        hubspot_conn_id: str = "hubspot_default",
        poll_interval: float = 60.0,
        deadline: str | None = None,
        api_version: str | None = None,
    ) -> None:
        super().__init__()
        self.slug = slug
        self.duration_ms = duration_ms
        self.timezone = timezone
        self.earliest = earliest
        self.latest = latest
        self.hubspot_conn_id = hubspot_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.api_version = api_version

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "slug": self.slug,
                "duration_ms": self.duration_ms,
                "timezone": self.timezone,
                "earliest": self.earliest,
                "latest": self.latest,
                "hubspot_conn_id": self.hubspot_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "api_version": self.api_version,
            },
        )

    async def _events(self) -> AsyncGenerator[TriggerEvent, None]:
        from hubspot_scheduler_provider.availability import SlotQuery
        from hubspot_scheduler_provider.errors import BookingInputError

        try:
            query = SlotQuery.parse(self.slug, self.duration_ms, self.timezone, self.earliest, self.latest)
            deadline = _parse_deadline(self.deadline)
        except (BookingInputError, ValueError) as error:
            yield _error_event(error, retryable=False)
            return
        polls = 0
        while True:
            await self._pace()
            polls += 1
            try:
                slot = await asyncio.to_thread(self._first_slot, query)
            except Exception as error:
                wait = self._wait_after(error)
                if wait is None:
                    yield _error_event(error, retryable=not isinstance(error, BookingInputError))
                    return
            else:
                if slot is not None:
                    self.log.info("Page %r has a free slot at %s (poll %d)", self.slug, slot, polls)
                    yield TriggerEvent({"status": "success", "slot": slot, "polls": polls})
                    return
                wait = self.poll_interval
            now = datetime.now(dt_timezone.utc)
            remaining = None if deadline is None else (deadline - now).total_seconds()
            if remaining is not None and remaining <= 0:
                yield TriggerEvent(
                    {
                        "status": "timeout",
                        "polls": polls,
                        "message": f"No free {query.duration_ms // MS_PER_MINUTE}-minute slot on page "
                        f"{self.slug!r} in {query.describe_window()} before the deadline {self.deadline}",
                    }
                )
                return
            self.log.debug(
                "No free slot on page %r yet (poll %d); next poll in %.1f s", self.slug, polls, wait
            )
            await asyncio.sleep(wait if remaining is None else min(wait, remaining))

    async def _pace(self) -> None:
        """Wait, without blocking the loop, when HubSpot's last answer said the account is nearly out
        (``pacing.RateLimitState.pause_before_request``, the same rule as the hook's own pause)."""
        pause = self.hook.rate_limit_state.pause_before_request()
        if pause > 0:
            self.log.info("HubSpot rate limit nearly used up; polling page %r in %.1f s", self.slug, pause)
            await asyncio.sleep(pause)

    def _first_slot(self, query: SlotQuery) -> str | None:
        """One poll; runs in a worker thread (the hook is synchronous)."""
        from hubspot_scheduler_provider.availability import find_slot_starts

        starts = find_slot_starts(self.hook, query, limit=1)
        return query.to_datetime(starts[0]).isoformat() if starts else None

    def _wait_after(self, error: Exception) -> float | None:
        """Seconds to wait before polling again after ``error``, or None when waiting cannot help
        (``retry_rules.poll_again_after`` decides)."""
        wait = poll_again_after(error, self.poll_interval)
        if wait is not None:
            self.log.warning("Polling page %r failed (%s); polling again in %.1f s", self.slug, error, wait)
        return wait


def _parse_deadline(deadline: str | None) -> datetime | None:
    if deadline is None:
        return None
    moment = parse_iso_instant(deadline)
    if moment.tzinfo is None:
        raise ValueError(f"deadline: {deadline!r} has no UTC offset")
    return moment


def _error_event(error: BaseException, *, retryable: bool) -> TriggerEvent:
    return TriggerEvent(
        {"status": "error", "error_type": type(error).__name__, "message": str(error), "retryable": retryable}
    )
