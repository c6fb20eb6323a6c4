"""Free slots of a meeting page, read from HubSpot's month-by-month availability pages.

HubSpot lists a page's free slots one calendar month at a time
(``GET .../availability-page/{slug}?timezone=&monthOffset=``, ``hasMore`` when later months exist),
keyed by duration. :func:`find_slots` walks those months in order and keeps the slots of one duration
that lie inside a window. This module only proposes slots; booking one (and the next when another
booker wins it first) is :meth:`hubspot_scheduler_provider.booking_flow.BookingFlow.book_next_available`.

Everything here talks to HubSpot only through the hook method named in :class:`SlotReader`, so it works
with any object that has it (the hook, or a test double).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pendulum
from airflow.providers.common.compat.sdk import AirflowException

from hubspot_scheduler_provider.fields import (
    format_in_zone,
    parse_duration,
    parse_slug,
    parse_start_time,
    parse_timezone,
)
from hubspot_scheduler_provider.units import MS_PER_MINUTE, duration_not_offered

if TYPE_CHECKING:
    from pendulum import DateTime

    from hubspot_scheduler_provider.models import (
        AvailabilityPage,
        LinkAvailability,
    )


#: How many months :func:`find_slots` reads at most; HubSpot pages rarely advertise further ahead.
MAX_MONTHS = 12
#: HubSpot's answer to a booking of a start time the page does not (or no longer) offer.
START_TIME_NOT_VALID = "MeetingsBookingSchedulingError.MEETING_START_TIME_NOT_VALID"

_log = logging.getLogger(__name__)


class SlotReader(Protocol):
    def get_availability(self, slug: str, timezone: str, month_offset: int = 0) -> AvailabilityPage: ...


class NoFreeSlotError(AirflowException):
    """No free slot in the window (or every one tried was taken by someone else first).

    A plain ``AirflowException``: a later retry may find a slot that opened up meanwhile.
    """


@dataclass(frozen=True)
class SlotQuery:
    """What to look for: slots of ``duration_ms`` on ``slug`` that lie inside ``[earliest, latest]``.

    A slot lies inside the window when it starts at or after ``earliest`` and *ends* at or before
    ``latest``: the whole meeting fits. Times are epoch milliseconds; ``None`` leaves that side open.
    ``timezone`` decides HubSpot's month boundaries and the zone of the returned ``DateTime`` values.
    """

    slug: str
    duration_ms: int
    timezone: str
    earliest_ms: int | None = None
    latest_ms: int | None = None

    @classmethod
    def parse(
        cls,
        slug: Any,
        duration: Any,
        timezone: Any = "UTC",
        earliest: Any = None,
        latest: Any = None,
    ) -> SlotQuery:
        """Validate user input (``BookingInputError`` naming the field) before any request is sent.

        ``duration``: milliseconds, ``timedelta`` or ISO 8601 (``"PT30M"``). ``earliest``/``latest``:
        aware or naive ``datetime`` (naive = wall clock in ``timezone``), ISO 8601 or epoch ms.
        """
        from hubspot_scheduler_provider.errors import BookingInputError

        zone = parse_timezone("timezone", timezone if timezone is not None else "UTC")
        query = cls(
            slug=parse_slug("slug", slug),
            duration_ms=parse_duration("duration", duration),
            timezone=zone,
            earliest_ms=_window_bound("earliest", earliest, zone),
            latest_ms=_window_bound("latest", latest, zone),
        )
        earliest_ms, latest_ms = query.earliest_ms, query.latest_ms
        if earliest_ms is not None and latest_ms is not None and earliest_ms + query.duration_ms > latest_ms:
            raise BookingInputError(
                "latest",
                f"{query.describe(latest_ms)} leaves no room for a {query.duration_ms // MS_PER_MINUTE}"
                f"-minute meeting after earliest {query.describe(earliest_ms)}",
            )
        return query

    def fits(self, start_ms: int) -> bool:
        if self.earliest_ms is not None and start_ms < self.earliest_ms:
            return False
        return not self.ends_too_late(start_ms)

    def ends_too_late(self, start_ms: int) -> bool:
        return self.latest_ms is not None and start_ms + self.duration_ms > self.latest_ms

    def to_datetime(self, start_ms: int) -> DateTime:
        return pendulum.from_timestamp(start_ms / 1000, tz=self.timezone)

    def iso(self, epoch_ms: int | None) -> str | None:
        """ISO 8601 in ``timezone`` (what a trigger serializes), or None."""
        return None if epoch_ms is None else self.to_datetime(epoch_ms).isoformat()

    def describe(self, epoch_ms: int) -> str:
        return format_in_zone(epoch_ms, self.timezone)

    def describe_window(self) -> str:
        earliest = self.describe(self.earliest_ms) if self.earliest_ms is not None else "now"
        latest = self.describe(self.latest_ms) if self.latest_ms is not None else "open end"
        return f"{earliest} .. {latest}"

    def no_free_slot(self, why: str = "") -> NoFreeSlotError:
        """The error for "the window has no free slot" (``why``: what else happened, if anything)."""
        return NoFreeSlotError(
            f"No free {self.duration_ms // MS_PER_MINUTE}-minute slot on page {self.slug!r} in "
            f"{self.describe_window()}" + (f" ({why})" if why else "")
        )


def _window_bound(field: str, value: Any, zone: str) -> int | None:
    """Epoch ms of a window bound as the user gave it (naive = wall clock in ``zone``), or None."""
    if value is None:
        return None
    return int(parse_start_time(field, value, zone).timestamp() * 1000)


def slot_starts(availability: LinkAvailability | None, query: SlotQuery) -> list[int]:
    """Sorted slot starts (epoch ms) of ``query.duration_ms`` on one availability page.

    Matched on ``meetingDurationMillis`` (milliseconds in every API version) rather than on the map's
    keys, whose unit the specs do not name. Raises ``BookingInputError`` when the page lists other
    durations but not this one: it would never have a slot, so waiting for one is pointless.
    """
    by_duration = availability.link_availability_by_duration if availability is not None else {}
    for slots in by_duration.values():
        if slots.meeting_duration_millis == query.duration_ms:
            return sorted(slot.start_millis_utc for slot in slots.availabilities)
    if by_duration:
        from hubspot_scheduler_provider.errors import BookingInputError

        offered = sorted(slots.meeting_duration_millis for slots in by_duration.values())
        raise BookingInputError("duration", duration_not_offered(query.slug, query.duration_ms, offered))
    return []


def find_slot_starts(
    reader: SlotReader, query: SlotQuery, *, limit: int | None = None, max_months: int = MAX_MONTHS
) -> list[int]:
    """Starts (epoch ms, ascending) of the free slots matching ``query``, at most ``limit`` of them.

    Reads month 0, 1, 2, ... and stops at the first of: ``limit`` slots found, a slot ending after
    ``latest`` (later months only hold later slots), ``hasMore`` false, or ``max_months`` read.
    """
    if limit is not None and limit < 1:
        raise ValueError("limit: must be at least 1")
    found: list[int] = []
    seen: set[int] = set()
    for month_offset in range(max_months):
        page = reader.get_availability(query.slug, query.timezone, month_offset)
        availability = page.link_availability
        for start_ms in slot_starts(availability, query):
            if query.ends_too_late(start_ms):
                return found
            if start_ms in seen or not query.fits(start_ms):
                continue
            seen.add(start_ms)
            found.append(start_ms)
            if limit is not None and len(found) >= limit:
                return found
        if availability is None or not availability.has_more:
            break
    return found


def find_slots(
    reader: SlotReader,
    slug: Any,
    duration: Any,
    timezone: Any = "UTC",
    earliest: Any = None,
    latest: Any = None,
    limit: int | None = None,
    *,
    max_months: int = MAX_MONTHS,
) -> list[DateTime]:
    """Free slots of ``duration`` on page ``slug`` inside ``[earliest, latest]``, as aware ``DateTime``
    values in ``timezone``, earliest first. See :class:`SlotQuery` for the accepted input."""
    query = SlotQuery.parse(slug, duration, timezone, earliest, latest)
    starts = find_slot_starts(reader, query, limit=limit, max_months=max_months)
    return [query.to_datetime(start_ms) for start_ms in starts]


def next_available_slot(
    reader: SlotReader,
    slug: Any,
    duration: Any,
    timezone: Any = "UTC",
    earliest: Any = None,
    latest: Any = None,
    *,
    max_months: int = MAX_MONTHS,
) -> DateTime | None:
    """The first free slot of :func:`find_slots`, or ``None`` when the window has none."""
    slots = find_slots(reader, slug, duration, timezone, earliest, latest, limit=1, max_months=max_months)
    return slots[0] if slots else None


def is_slot_taken(error: BaseException) -> bool:
    """Whether HubSpot refused a booking because its start time is not (or no longer) offered."""
    from hubspot_scheduler_provider.errors import HubSpotValidationError

    # HubSpot prefixes the subcategory with its error family; compare the part that names the cause.
    return isinstance(error, HubSpotValidationError) and (error.sub_category or "").endswith(
        START_TIME_NOT_VALID.rsplit(".", 1)[-1]
    )
