"""``NewBookingsTrigger``: fire once per meeting booked through HubSpot meeting pages, by anyone.

An event trigger: on Airflow 3 it drives an ``AssetWatcher`` (a DAG scheduled on the watched asset runs
for new bookings, no polling DAG); on Airflow 2.11 the deferrable ``NewBookingsSensor`` defers to it.

It polls HubSpot's CRM meeting search (``hook.iter_booked_meetings``: meetings booked through meeting
pages, by creation time ``hs_createdate``, oldest first) in a worker thread (``asyncio.to_thread``, as
``slot_available`` does), each search paced by the hook's shared search limiter (HubSpot allows about 5
searches per second per token). It only reads (HubSpot's search is a ``POST`` by design, but changes
nothing; no booking or update is ever sent from here): a triggerer restart re-runs ``run()``.

**Exactly once per meeting** (:class:`BookingWatermark`): each poll asks for meetings created since the
watermark (the newest ``hs_createdate`` seen) minus ``overlap_seconds``, and fires for ids not seen in
that overlap. The overlap covers HubSpot's CRM index lag (a meeting created at ``t`` may show up in the
search only seconds later, when newer ones are already seen) and equal timestamps (several meetings in
one millisecond); keep it at least the lag. ``seen`` holds only the ids inside the overlap.

**Where the watermark lives**: Airflow 3.3+ injects the watched asset's state store into event
triggers (``BaseEventTrigger.asset_state_store``); the watermark and the ids seen are kept there under
:meth:`NewBookingsTrigger.state_key`, so a triggerer restart resumes where it stopped (bookings made
while the triggerer was down fire after it). The first start stores its starting watermark at once,
so a restart before any booking resumes from it too; later, the state is written
:data:`COMMIT_DELAY_SECONDS` after a poll's events left the trigger: Airflow's triggerer hands fired
events to the metadata database once per loop (about a second) and does not flush them when it stops,
so writing at once could lose them. A restart inside that delay fires that poll's meetings again (at
least once, never lost). Airflow 3.0-3.2 (and 2.11, a deferred sensor's trigger) have no such store:
the state lives in memory, and a restarted trigger starts again from ``created_after`` (meetings since
then fire again) or, without it, from the moment it starts (meetings booked while it was down do not
fire).

**Flush events** (asset watchers only): Airflow's scheduler (3.3.2, ``_create_dag_runs_asset_triggered``)
gives an asset-triggered run only the events up to its queue row's creation, and the queue row is made by
the FIRST event since the previous run: so of the K meetings one poll fires back to back, all but the
first may land in no run until the next event on the asset (hours, on a quiet portal). So after a poll
that fired 2+ meetings (or one, less than :data:`FLUSH_AFTER_SECONDS` after the previous firing, which may
have shared its queue row), the first poll that finds no new meeting and comes at least
:data:`FLUSH_AFTER_SECONDS` after the last firing fires ONE flush event, :func:`flush_payload`
(``{"flush": true}``, no ``meeting_id``): it makes a new queue row, and the run it starts takes the
stranded events with it. Consumers skip it (``one_run_per_booking.meeting_events_of``).
The flush neither moves nor reads the watermark; the pending flag is stored with it (``flush_pending``),
so a restart fires a pending flush too (a restart inside the commit delay fires the poll's meetings
again, which asks for the flush again). Residual case: a scheduler that makes no run for
:data:`FLUSH_AFTER_SECONDS` (stopped, stalled) lets the flush share the old queue row too; the stranded
events then wait for the next event on the asset (not lost). The sensor's form never fires a flush.

**Errors** never reach an asset watcher as events (Airflow would make an error event an asset event, a
run for a booking that does not exist, and end the watch): they are logged (scrubbed) and the search
is tried again with a back-off. Only the sensor's form (``single_event``) ends with an error event.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.triggers import BaseEventTrigger
from airflow.triggers.base import TriggerEvent

from hubspot_scheduler_provider.retry_rules import poll_again_after
from hubspot_scheduler_provider.triggers._hook_lifecycle import PollingHookLifecycle

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Iterable

    from hubspot_scheduler_provider.hooks.crm import CrmMeeting
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

#: HubSpot's CRM search may show a new meeting this late (seconds, sometimes more); the default overlap.
DEFAULT_OVERLAP_SECONDS = 120.0
#: How long after a poll's events left the trigger its watermark is stored (see the module docstring).
COMMIT_DELAY_SECONDS = 3.0
#: Meetings fired per poll at most; the rest follow on the next poll (oldest first).
MAX_EVENTS_PER_POLL = 500
#: An asset watcher's longest wait between polls that fail in a way waiting cannot fix (a bad token).
MAX_FATAL_BACKOFF_SECONDS = 300.0
#: A flush event fires this long after the last firing at the earliest: Airflow's scheduler (a loop about
#: every second) has made the run of the events before it by then, so the flush gets a queue row of its own.
FLUSH_AFTER_SECONDS = 10.0
#: The payload field that marks a flush event (it has no ``meeting_id``).
FLUSH_FIELD = "flush"
_STATE_PREFIX = "hubspot-new-bookings:"


@dataclass
class BookingWatermark:
    """What has fired: ``watermark_ms`` (newest ``hs_createdate`` seen, epoch ms) and ``seen`` (meeting id ->
    its ``hs_createdate``) for the meetings inside the overlap below the watermark; ``flush_pending``: a
    flush event is owed (the module docstring), independent of the watermark."""

    watermark_ms: int
    overlap_ms: int
    seen: dict[str, int] = field(default_factory=dict)
    flush_pending: bool = False

    @property
    def query_from_ms(self) -> int:
        """Where the next search starts: the overlap below the watermark."""
        return self.watermark_ms - self.overlap_ms

    def take_new(self, meetings: Iterable[CrmMeeting]) -> list[CrmMeeting]:
        """The meetings not fired yet, oldest first (ties by id), marking them seen."""
        fresh = []
        for meeting in sorted(meetings, key=lambda m: (created_ms(m), str(m.id))):
            meeting_id = str(meeting.id)
            if meeting_id in self.seen or created_ms(meeting) < self.query_from_ms:
                continue
            self.seen[meeting_id] = created_ms(meeting)
            fresh.append(meeting)
        if self.seen:
            self.watermark_ms = max(self.watermark_ms, max(self.seen.values()))
        floor = self.query_from_ms
        self.seen = {key: stamp for key, stamp in self.seen.items() if stamp >= floor}
        return fresh

    def to_json(self) -> dict[str, Any]:
        return {"watermark_ms": self.watermark_ms, "seen": self.seen, "flush_pending": self.flush_pending}

    @classmethod
    def from_json(cls, value: Any, overlap_ms: int) -> BookingWatermark | None:
        if not isinstance(value, dict) or not isinstance(value.get("watermark_ms"), int):
            return None
        seen = value.get("seen")
        if not isinstance(seen, dict):
            seen = {}
        pending = value.get("flush_pending") is True
        return cls(int(value["watermark_ms"]), overlap_ms, {str(k): int(v) for k, v in seen.items()}, pending)


def created_ms(meeting: CrmMeeting) -> int:
    """A CRM meeting's ``hs_createdate`` in epoch milliseconds."""
    if meeting.created_at is None:
        raise ValueError(f"CRM meeting {meeting.id} has no hs_createdate")
    return int(meeting.created_at.timestamp() * 1000)


def event_payload(meeting: CrmMeeting) -> dict[str, Any]:
    """The event of one meeting: ids, start and creation time (JSON; no contact details)."""
    return {
        "meeting_id": meeting.id,
        "start": _iso(meeting.start),
        "owner_id": meeting.owner_id,
        "contact_id": meeting.contact_id,
        "link_id": meeting.source_id,
        "created_at": _iso(datetime.fromtimestamp(created_ms(meeting) / 1000, tz=timezone.utc)),
    }


def flush_payload() -> dict[str, Any]:
    """A flush event's payload: no meeting, only there to start the run of the events before it."""
    return {FLUSH_FIELD: True}


def is_flush(payload: Any) -> bool:
    """Whether an event payload is a flush event (:func:`flush_payload`)."""
    return isinstance(payload, dict) and payload.get(FLUSH_FIELD) is True and "meeting_id" not in payload


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class NewBookingsTrigger(PollingHookLifecycle, BaseEventTrigger):
    """Fire one event per meeting booked through the chosen meeting pages (or of the chosen owners), and
    a flush event (no meeting) after a burst; read a run's meetings with ``meeting_events_of``.

    Each event's payload: ``meeting_id``, ``start`` (ISO 8601 UTC), ``owner_id``, ``contact_id``,
    ``link_id`` (the page) and ``created_at``. Rate limits and outages are waited out. Errors waiting
    cannot fix (a rejected token, a missing scope, an unknown slug) are logged at ERROR and polled
    again with a back-off (an asset watcher has no task to fail); only ``single_event`` (the sensor)
    ends with ``{"status": "error", ...}``.

    :param link_ids: Meeting page ids (``MeetingLink.id``; HubSpot's ``hs_engagement_source_id``).
    :param slugs: Meeting page slugs, turned into page ids by one read of the meeting pages when the
        trigger starts (scope ``scheduler.meetings.meeting-link.read``); with ``link_ids``, both count.
    :param owner_ids: HubSpot owner ids (hosts); with pages too, a meeting must match both.
    :param created_after: ISO 8601 instant: fire for meetings created after it (first start only; the
        stored watermark wins later). Default: when the trigger first runs. A fixed value, never one
        computed when the DAG is parsed: an asset watcher's trigger is identified by its arguments.
    :param hubspot_conn_id: Connection to HubSpot (scope ``crm.objects.contacts.read``).
    :param poll_interval: Seconds between searches.
    :param overlap_seconds: Re-searched below the watermark each poll; at least HubSpot's index lag.
    :param page_size: Search page size (HubSpot allows up to 200).
    :param api_version: HubSpot API version, or None for the connection's.
    :param single_event: Fire ONE event, ``{"status": "success", "meetings": [payload, ...]}``, for the
        first poll that finds new meetings, then end (the deferrable sensor's form). Default: run for
        ever, one event per meeting (an asset watcher), plus a flush event (``{"flush": true}``, no
        meeting) after a burst, so every meeting reaches a run (the module docstring).
    """

    def __init__(
        self,
        *,
        link_ids: Iterable[str] = (),
        slugs: Iterable[str] = (),
        owner_ids: Iterable[str] = (),
        created_after: str | None = None,
        hubspot_conn_id: str = "hubspot_default",
        poll_interval: float = 30.0,
        overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
        page_size: int = 100,
        api_version: str | None = None,
        single_event: bool = False,
    ) -> None:
        super().__init__()
        self.link_ids = sorted({str(i) for i in link_ids})
        self.slugs = sorted({str(slug).strip("/ ") for slug in slugs})
        self.owner_ids = sorted({str(i) for i in owner_ids})
        if not (self.link_ids or self.slugs or self.owner_ids):
            raise ValueError("link_ids/slugs/owner_ids: name at least one meeting page or owner to watch")
        self.created_after = created_after
        self.hubspot_conn_id = hubspot_conn_id
        self.poll_interval = float(poll_interval)
        self.overlap_seconds = float(overlap_seconds)
        if self.poll_interval <= 0 or self.overlap_seconds < 0:
            raise ValueError("poll_interval must be > 0 and overlap_seconds >= 0")
        self.page_size = int(page_size)
        self.api_version = api_version
        self.single_event = single_event

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "link_ids": self.link_ids,
                "slugs": self.slugs,
                "owner_ids": self.owner_ids,
                "created_after": self.created_after,
                "hubspot_conn_id": self.hubspot_conn_id,
                "poll_interval": self.poll_interval,
                "overlap_seconds": self.overlap_seconds,
                "page_size": self.page_size,
                "api_version": self.api_version,
                "single_event": self.single_event,
            },
        )

    @property
    def state_key(self) -> str:
        """The asset state store key of this watch (pages and owners), so two watches of one asset keep
        their own watermarks."""
        watched = [self.link_ids, self.owner_ids] + ([self.slugs] if self.slugs else [])
        digest = hashlib.sha256(json.dumps(watched).encode()).hexdigest()[:16]
        return f"{_STATE_PREFIX}{digest}"

    async def _events(self) -> AsyncGenerator[TriggerEvent, None]:
        state = await self._load_state()
        failures = 0
        # Monotonic time of the last event (meeting or flush); a flush stored as pending (a restart) waits
        # FLUSH_AFTER_SECONDS from the start, as one after a firing would.
        last_fired: float | None = time.monotonic() if state.flush_pending else None
        while True:
            pause = self.hook.rate_limit_state.pause_before_request()
            if pause > 0:
                await asyncio.sleep(pause)
            try:
                if self.slugs and not hasattr(self, "_watched_links"):
                    self._watched_links = await asyncio.to_thread(self.watched_link_ids, self.hook)
                meetings = await asyncio.to_thread(self._search, state)
            except Exception as error:
                failures += 1
                wait = self._wait_after(error, failures)
                if wait is None:
                    yield _error_event(error)
                    return
                await asyncio.sleep(wait)
                continue
            failures = 0
            fresh = state.take_new(meetings)
            started = time.monotonic()
            if fresh and self.single_event:
                payloads = [event_payload(meeting) for meeting in fresh]
                yield TriggerEvent({"status": "success", "meetings": payloads})
                return
            for meeting in fresh:
                yield TriggerEvent(event_payload(meeting))
            if fresh:
                recent = last_fired is not None and started - last_fired < FLUSH_AFTER_SECONDS
                state.flush_pending = state.flush_pending or len(fresh) > 1 or recent
                last_fired = time.monotonic()
                self.log.info("%d new booking(s); watermark %d", len(fresh), state.watermark_ms)
                await asyncio.sleep(COMMIT_DELAY_SECONDS)
                await self._save_state(state)
            elif (
                state.flush_pending
                and not self.single_event
                and (last_fired is None or started - last_fired >= FLUSH_AFTER_SECONDS)
            ):
                yield TriggerEvent(flush_payload())
                last_fired = time.monotonic()
                state.flush_pending = False
                self.log.info("Flush event fired (the last burst's meetings join the run it starts)")
                await asyncio.sleep(COMMIT_DELAY_SECONDS)
                await self._save_state(state)
            await asyncio.sleep(max(0.0, self.poll_interval - (time.monotonic() - started)))

    def _wait_after(self, error: Exception, failures: int) -> float | None:
        """Seconds before the next poll after ``failures`` failed polls in a row, or None: end with an
        error event (only the sensor's ``single_event`` form, so the task fails saying why).

        An asset watcher never yields an error: Airflow would turn it into an asset event (a run for a
        booking that does not exist) and end the watch. Errors waiting cannot fix (bad input, a rejected
        token, a missing scope) are logged at ERROR on every try, with a back-off from ``poll_interval``
        doubling up to :data:`MAX_FATAL_BACKOFF_SECONDS`, until a person fixes them."""
        from hubspot_scheduler_provider.redaction import redacting

        log = redacting(self.log)
        wait = poll_again_after(error, self.poll_interval)
        if wait is not None:
            log.warning("Searching new bookings failed (%s); again in %.1f s", error, wait)
            return wait
        if self.single_event:
            return None
        cap = max(self.poll_interval, MAX_FATAL_BACKOFF_SECONDS)
        wait = min(self.poll_interval * 2 ** min(failures - 1, 30), cap)
        log.error(
            "Watching new bookings fails (%s: %s), which waiting cannot fix; fix it (the watch goes on, "
            "again in %.1f s)",
            type(error).__name__,
            error,
            wait,
        )
        return wait

    def _search(self, state: BookingWatermark) -> list[CrmMeeting]:
        """One search from the overlap below the watermark (its pages, as far as
        :data:`MAX_EVENTS_PER_POLL` meetings not fired yet); in a worker thread."""
        found: list[CrmMeeting] = []
        fresh = 0
        for meeting in self.hook.iter_booked_meetings(
            datetime.fromtimestamp(state.query_from_ms / 1000, tz=timezone.utc),
            link_ids=getattr(self, "_watched_links", self.link_ids),
            owner_ids=self.owner_ids,
            page_size=self.page_size,
        ):
            found.append(meeting)
            fresh += meeting.id not in state.seen
            if fresh >= MAX_EVENTS_PER_POLL:
                break
        return found

    def watched_link_ids(self, hook: HubSpotSchedulerHook) -> list[str]:
        """``link_ids`` plus the ids of the pages ``slugs`` (one listing of the meeting pages, if any)."""
        from hubspot_scheduler_provider.errors import BookingInputError

        if not self.slugs:
            return self.link_ids
        ids = {link.slug: link.id for link in hook.list_meeting_links()}
        unknown = [slug for slug in self.slugs if slug not in ids]
        if unknown:
            raise BookingInputError("slugs", f"no meeting page with slug {', '.join(map(repr, unknown))}")
        return sorted({*self.link_ids, *(ids[slug] for slug in self.slugs)})

    # --- state ----------------------------------------------------------------------------------------

    @property
    def _store(self) -> Any:
        """The watched asset's state store (Airflow 3.3+ asset watchers), else None."""
        return getattr(self, "asset_state_store", None)

    async def _load_state(self) -> BookingWatermark:
        overlap_ms = int(self.overlap_seconds * 1000)
        if self._store is not None:
            stored = BookingWatermark.from_json(await self._store.aget(self.state_key), overlap_ms)
            if stored is not None:
                self.log.info("Resuming from the stored watermark %d", stored.watermark_ms)
                return stored
        start = _parse_instant(self.created_after) if self.created_after else datetime.now(timezone.utc)
        # The first search starts at the given moment, not an overlap before it.
        state = BookingWatermark(int(start.timestamp() * 1000) + overlap_ms, overlap_ms)
        # Stored at once: a restart before the first booking resumes from here, not from a later "now".
        await self._save_state(state)
        return state

    async def _save_state(self, state: BookingWatermark) -> None:
        if self._store is None:
            return
        try:
            await self._store.aset(self.state_key, state.to_json())
        except Exception as error:
            # Keep watching from memory; only a restart before the next successful write fires again.
            self.log.warning("Could not store the watermark (%s); keeping it in memory", error)


def _error_event(error: BaseException) -> TriggerEvent:
    return TriggerEvent({"status": "error", "error_type": type(error).__name__, "message": str(error)})


def _parse_instant(text: str) -> datetime:
    from hubspot_scheduler_provider.units import parse_iso_instant

    moment = parse_iso_instant(text)
    if moment.tzinfo is None:
        raise ValueError(f"created_after: {text!r} has no UTC offset")
    return moment
