"""Everything the sandbox remembers: pages, busy times, bookings, CRM. A test double, not HubSpot.

One re-entrant lock guards it all, so a slot check and the booking that takes the slot are atomic even
with the threaded HTTP server (two concurrent bookings of one slot: exactly one wins).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hubspot_scheduler_provider.testing.api_errors import not_found
from hubspot_scheduler_provider.testing.availability import (
    DAY_MS,
    WEEK_MS,
    BusyIndex,
    BusyInterval,
    from_ms,
    local_ms,
    month_window,
    to_ms,
)
from hubspot_scheduler_provider.testing.crm import CrmStore
from hubspot_scheduler_provider.testing.pages import SEEDED_BUSY_RULES, Host, MeetingPage, seeded_pages

if TYPE_CHECKING:
    from collections.abc import Callable

#: Outcomes that free the time a meeting held, as cancelling or moving it in HubSpot does.
FREEING_OUTCOMES = frozenset({"CANCELED", "RESCHEDULED"})


def calendar_busy_source(crm_meeting_id: str) -> str:
    """The busy-index source of a calendar meeting (bookings use their calendar event id)."""
    return f"calendar-meeting-{crm_meeting_id}"


#: How far around "now" (at reset) the recurring seeded busy times are laid out.
_SEED_BEFORE_MS = WEEK_MS
_SEED_AFTER_MS = 26 * WEEK_MS


@dataclass(frozen=True)
class Reservation:
    host: Host
    calendar_event_id: str
    contact_id: str
    crm_meeting_id: str


class SandboxState:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.pages: dict[str, MeetingPage] = {}
        self.busy = BusyIndex()
        self.bookings: list[dict[str, Any]] = []
        self.calendar_meetings: list[dict[str, Any]] = []
        self.crm = CrmStore()
        #: The portal's web app host (``uiDomain`` of the account details); EU portals use ``app-eu1...``.
        self.ui_domain = "app.hubspot.com"
        self._next_event = 1
        self.reset()

    def now_ms(self) -> int:
        return to_ms(self.clock())

    def reset(self) -> None:
        """Back to the seeded pages and busy times (laid out around the clock's current time)."""
        with self.lock:
            self.pages = {page.slug: page for page in seeded_pages()}
            self.busy = BusyIndex()
            self.bookings = []
            self.calendar_meetings = []
            self.crm = CrmStore(index_lag_seconds=self.crm.index_lag_seconds)  # a setting, kept
            self._next_event = 1
            self.crm.seed_contacts(self.now_ms())
            self._seed_busy_times()

    def _seed_busy_times(self) -> None:
        hosts = {host.user_id: host for page in self.pages.values() for host in page.hosts}
        now = self.now_ms()
        for user_id, weekday, start_minute, end_minute in SEEDED_BUSY_RULES:
            zone = ZoneInfo(hosts[user_id].timezone)
            day = from_ms(now - _SEED_BEFORE_MS).astimezone(zone).date()
            last = from_ms(now + _SEED_AFTER_MS).astimezone(zone).date()
            while day <= last:
                if day.weekday() == weekday:
                    interval = BusyInterval(
                        local_ms(day, start_minute, zone), local_ms(day, end_minute, zone), "busy"
                    )
                    self.busy.add(user_id, interval)
                day += timedelta(days=1)

    def page(self, slug: str) -> MeetingPage:
        with self.lock:
            page = self.pages.get(slug)
        if page is None:
            raise not_found(f"Meeting page with slug '{slug}' was not found.")
        return page

    def add_page(self, page: MeetingPage) -> None:
        with self.lock:
            self.pages[page.slug] = page

    def add_busy_time(self, slug: str, start: datetime, end: datetime) -> None:
        """Mark every host of page ``slug`` busy over ``[start, end)`` (aware datetimes)."""
        page = self.page(slug)
        interval = BusyInterval(to_ms(start), to_ms(end), "busy")
        with self.lock:
            for host in page.hosts:
                self.busy.add(host.user_id, interval)

    def fill(self, slug: str, month_offset: int = 0, timezone: str | None = None) -> None:
        """Make month ``month_offset`` (calendar month in ``timezone``, default the page's) fully booked."""
        page = self.page(slug)
        start, end = month_window(self.now_ms(), timezone or page.timezone, month_offset)
        self.add_busy_time(slug, from_ms(start - DAY_MS), from_ms(end + DAY_MS))

    def set_meeting_outcome(self, crm_meeting_id: str, outcome: str) -> None:
        """Set a CRM meeting's ``hs_meeting_outcome``; ``CANCELED``/``RESCHEDULED`` free its slot (a
        booking's host's, or a calendar meeting's organizer's)."""
        with self.lock:
            self.crm.set_meeting_outcome(crm_meeting_id, outcome, self.now_ms())
            self._free_if_void(crm_meeting_id, outcome)

    def update_meeting(self, crm_meeting_id: str, properties: dict[str, str]) -> dict[str, Any]:
        """``PATCH`` of a CRM meeting (checked by ``CrmStore.update_meeting``); an outcome that voids
        the meeting frees its slot, as above. Returns the meeting's JSON (every property)."""
        with self.lock:
            meeting = self.crm.update_meeting(crm_meeting_id, properties, self.now_ms())
            if "hs_meeting_outcome" in properties:
                self._free_if_void(crm_meeting_id, properties["hs_meeting_outcome"])
            return meeting.to_json()

    def _free_if_void(self, crm_meeting_id: str, outcome: str) -> None:
        if outcome not in FREEING_OUTCOMES:
            return
        for booking in self.bookings:
            if booking["crmMeetingId"] == crm_meeting_id:
                self.busy.remove(booking["hostUserId"], booking["calendarEventId"])
        for meeting in self.calendar_meetings:
            if meeting["id"] == crm_meeting_id:
                self.busy.remove(meeting["organizerUserId"], calendar_busy_source(crm_meeting_id))

    def user(self, user_id: str) -> Host | None:
        """The portal user ``user_id``: a host of some page (the users the sandbox knows)."""
        with self.lock:
            return next(
                (host for page in self.pages.values() for host in page.hosts if host.user_id == user_id), None
            )

    def update_page(self, page: MeetingPage) -> None:
        with self.lock:
            self.pages[page.slug] = page

    def reserve(
        self,
        page: MeetingPage,
        *,
        start_ms: int,
        duration_ms: int,
        host: Host,
        email: str,
        first_name: str,
        last_name: str,
        created_ms: int | None = None,
    ) -> Reservation:
        """Take the slot for ``host`` and record the contact and CRM meeting (created at ``created_ms``,
        default now). Caller holds ``lock`` and has checked the slot is free."""
        event_id = f"sandbox-event-{self._next_event}"
        self._next_event += 1
        end_ms = start_ms + duration_ms
        self.busy.add(host.user_id, BusyInterval(start_ms, end_ms, event_id))
        now = self.now_ms() if created_ms is None else created_ms
        contact = self.crm.upsert_contact(email, first_name, last_name, now)
        meeting = self.crm.add_booked_meeting(
            contact_id=contact.id,
            start_ms=start_ms,
            end_ms=end_ms,
            title=f"{page.name} ({first_name} {last_name})",
            owner_id=host.crm_owner_id,
            link_id=page.link_id,
            external_url=f"https://calendar.sandbox.example/events/{event_id}",
            calendar_event_id=event_id,
            now_ms=now,
        )
        return Reservation(host, event_id, contact.id, meeting.id)
