"""Availability arithmetic of the sandbox (a test double, not HubSpot).

A page offers a slot of duration ``d`` starting at ``s`` when:

* ``s`` lies in the page's weekly hours on its local day (wall-clock minutes in the page's time zone, so
  a 09:00 start moves in UTC across a DST change), stepping by the page's increment from the start of
  the hours, and ``s + d`` does not pass the end of the hours;
* ``now + minimum notice <= s < now + weeksToAdvertise``;
* some host of the page is free over ``[s - buffer, s + d + buffer)``: busy times and existing bookings
  are indexed per host and UTC day, so a check costs O(events on that day), not O(all bookings).

Months (``monthOffset``) are calendar months in the time zone the caller asks for.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hubspot_scheduler_provider.testing.pages import Host, MeetingPage

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)


def local_ms(day: date, minute_of_day: int, zone: ZoneInfo) -> int:
    """Epoch ms of wall-clock ``minute_of_day`` on ``day`` in ``zone``."""
    wall = datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minute_of_day)
    # Adding a timedelta to an aware datetime is wall-clock arithmetic; re-attach to resolve the offset.
    return to_ms(wall.replace(tzinfo=zone))


@dataclass(frozen=True)
class BusyInterval:
    start_ms: int
    end_ms: int
    #: "busy" for calendar busy times, else the booking's calendar event id.
    source: str


class BusyIndex:
    """Busy intervals per host user id, bucketed by UTC day for cheap overlap checks. Not thread-safe:
    the caller (``SandboxState``) holds its lock."""

    def __init__(self) -> None:
        self._by_user: dict[str, dict[int, list[tuple[int, int, str]]]] = defaultdict(
            lambda: defaultdict(list)
        )

    def add(self, user_id: str, interval: BusyInterval) -> None:
        buckets = self._by_user[user_id]
        entry = (interval.start_ms, interval.end_ms, interval.source)
        for day in range(interval.start_ms // DAY_MS, (interval.end_ms - 1) // DAY_MS + 1):
            bisect.insort(buckets[day], entry)

    def remove(self, user_id: str, source: str) -> None:
        """Free what ``source`` (a calendar event id) held, e.g. when its meeting is cancelled."""
        for day, entries in self._by_user.get(user_id, {}).items():
            self._by_user[user_id][day] = [entry for entry in entries if entry[2] != source]

    def is_free(self, user_id: str, start_ms: int, end_ms: int) -> bool:
        buckets = self._by_user.get(user_id)
        if not buckets:
            return True
        for day in range(start_ms // DAY_MS, (end_ms - 1) // DAY_MS + 1):
            for busy_start, busy_end, _source in buckets.get(day, ()):
                if busy_start >= end_ms:
                    break
                if busy_end > start_ms:
                    return False
        return True

    def between(self, user_id: str, start_ms: int, end_ms: int) -> list[BusyInterval]:
        """Distinct intervals of ``user_id`` overlapping ``[start_ms, end_ms)``, in start order."""
        buckets = self._by_user.get(user_id, {})
        found: set[tuple[int, int, str]] = set()
        for day in range(start_ms // DAY_MS, (end_ms - 1) // DAY_MS + 1):
            found.update(entry for entry in buckets.get(day, ()) if entry[0] < end_ms and entry[1] > start_ms)
        return [BusyInterval(*entry) for entry in sorted(found)]


def month_window(now_ms: int, zone_name: str, month_offset: int) -> tuple[int, int]:
    """``[start, end)`` epoch ms of the month ``month_offset`` months after now's, in ``zone_name``."""
    zone = ZoneInfo(zone_name)
    local_now = from_ms(now_ms).astimezone(zone)
    month_index = local_now.year * 12 + (local_now.month - 1) + month_offset
    first = date(month_index // 12, month_index % 12 + 1, 1)
    following = date((month_index + 1) // 12, (month_index + 1) % 12 + 1, 1)
    return local_ms(first, 0, zone), local_ms(following, 0, zone)


def bookable_window(page: MeetingPage, now_ms: int) -> tuple[int, int]:
    """``[earliest, latest)`` start times the page accepts at ``now_ms``."""
    return now_ms + page.minimum_notice_ms, now_ms + page.weeks_to_advertise * WEEK_MS


def candidate_starts(page: MeetingPage, duration_ms: int, start_ms: int, end_ms: int) -> Iterator[int]:
    """Slot starts inside the page's hours (ignoring busy times) with ``start_ms <= s < end_ms``."""
    zone = ZoneInfo(page.timezone)
    step = page.increment_ms or duration_ms
    day = from_ms(start_ms).astimezone(zone).date() - timedelta(days=1)
    last_day = from_ms(end_ms).astimezone(zone).date()
    while day <= last_day:
        hours = page.hours.get(day.weekday())
        if hours is not None:
            window_start, window_end = local_ms(day, hours[0], zone), local_ms(day, hours[1], zone)
            slot = window_start
            while slot + duration_ms <= window_end:
                if start_ms <= slot < end_ms:
                    yield slot
                slot += step
        day += timedelta(days=1)


def free_host(
    page: MeetingPage, busy: BusyIndex, start_ms: int, duration_ms: int, preferred: tuple[str, ...] = ()
) -> Host | None:
    """A host of ``page`` free for the slot including buffers (``preferred`` user ids first), or None."""
    low, high = start_ms - page.buffer_ms, start_ms + duration_ms + page.buffer_ms
    hosts = sorted(page.hosts, key=lambda host: host.user_id not in preferred)
    return next((host for host in hosts if busy.is_free(host.user_id, low, high)), None)


def available_slots(
    page: MeetingPage, busy: BusyIndex, duration_ms: int, now_ms: int, start_ms: int, end_ms: int
) -> list[int]:
    """Bookable slot starts of ``duration_ms`` within ``[start_ms, end_ms)`` at ``now_ms``."""
    earliest, latest = bookable_window(page, now_ms)
    low, high = max(start_ms, earliest), min(end_ms, latest)
    if low >= high:
        return []
    return [
        slot
        for slot in candidate_starts(page, duration_ms, low, high)
        if free_host(page, busy, slot, duration_ms) is not None
    ]


def is_offered_start(page: MeetingPage, duration_ms: int, start_ms: int, now_ms: int) -> bool:
    """Whether ``start_ms`` is one of the page's slot starts at ``now_ms`` (busy times not considered)."""
    earliest, latest = bookable_window(page, now_ms)
    if not earliest <= start_ms < latest:
        return False
    return start_ms in candidate_starts(page, duration_ms, start_ms, start_ms + 1)
