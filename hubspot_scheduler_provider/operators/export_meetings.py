"""``ExportMeetingsOperator``: meetings booked through meeting pages, as JSON Lines in object storage.

For a warehouse load: one flat row per meeting, streamed page by page from HubSpot's CRM search
(``hooks.crm_meetings``) to an ``ObjectStoragePath`` (``file://``, ``s3://``, ``gs://``, ...), never
held in memory or XCom. Module imports stay cheap (DAG files importing this are parsed often): the hook
and object storage load inside ``execute``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator

from hubspot_scheduler_provider.operators._base import HubSpotHookMixin

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from airflow.providers.common.compat.sdk import Context

    from hubspot_scheduler_provider.hooks.crm import CrmMeeting

#: The columns of every row, in order (a warehouse table's schema). No names, titles or emails.
ROW_FIELDS = (
    "meeting_id",
    "created_at",
    "start",
    "end",
    "duration_ms",
    "outcome",
    "owner_id",
    "contact_id",
    "link_id",
)


def meeting_row(meeting: CrmMeeting) -> dict[str, Any]:
    """One flat row: ids as text, times as ISO 8601 UTC (``Z``), ``None`` where HubSpot recorded nothing."""
    from hubspot_scheduler_provider.models.booking import format_utc

    created = meeting.created_at
    return {
        "meeting_id": meeting.id,
        "created_at": None if created is None else format_utc(created),
        "start": format_utc(meeting.start),
        "end": None if meeting.end is None else format_utc(meeting.end),
        "duration_ms": meeting.duration_ms,
        "outcome": meeting.outcome,
        "owner_id": meeting.owner_id,
        "contact_id": meeting.contact_id,
        "link_id": meeting.source_id,
    }


class ExportMeetingsOperator(HubSpotHookMixin, BaseOperator):
    """Write the meetings booked through meeting pages and created in a time window as JSON Lines.

    The window is the run's data interval by default (so a daily DAG exports each day once, and a
    re-run or backfill rewrites that day's file; a run without an interval, as Airflow 3's default cron
    schedules make them, exports since the end of the last successful run's interval), or
    ``[created_after, created_before)`` (``created_before`` None: up to now). Rows
    (:data:`ROW_FIELDS`) come in creation order, each meeting once, however many there are (HubSpot's
    10,000-results-per-search cap is handled by the hook).
    Meetings the CRM index has not caught up with yet (seconds) are left for the window they were
    created in: export a window once it has ended.

    Returns (to XCom) a summary only: ``{"path", "rows", "created_after", "created_before"}``. Rows go
    to a temporary sibling (``.<name>.tmp-<try>-<random>``) moved onto the destination only once complete:
    a failed re-run leaves the earlier export as it was and removes its temporary. Everything is checked
    before any request.

    :param destination: Where to write: an ``ObjectStoragePath`` or its URL, e.g.
        ``"file:///tmp/hubspot-exports/{{ ds }}.jsonl"``. Templated.
    :param destination_conn_id: Airflow connection of the object store (None: the scheme's default).
    :param created_after: Start of the window (aware ``datetime``, ISO 8601 or epoch ms). Templated.
    :param created_before: End of the window, exclusive. Templated.
    :param link_ids: Only meetings booked on these pages (``linkId``). Templated.
    :param owner_ids: Only meetings of these owners (``hubspot_owner_id``). Templated.
    :param page_size: Results per CRM search request (1 to 200).
    :param hubspot_conn_id: Connection to HubSpot. Templated.
    :param api_version: HubSpot API version; default: the connection's.
    """

    template_fields: Sequence[str] = (
        "destination",
        "created_after",
        "created_before",
        "link_ids",
        "owner_ids",
        "hubspot_conn_id",
    )
    ui_color = "#ff7a59"

    def __init__(
        self,
        *,
        destination: Any,
        destination_conn_id: str | None = None,
        created_after: datetime | str | int | None = None,
        created_before: datetime | str | int | None = None,
        link_ids: Sequence[str] = (),
        owner_ids: Sequence[str] = (),
        page_size: int = 100,
        hubspot_conn_id: str = "hubspot_default",
        api_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.created_after = created_after
        self.created_before = created_before
        self.link_ids = link_ids
        self.owner_ids = owner_ids
        self.page_size = page_size
        self.hubspot_conn_id = hubspot_conn_id
        self.api_version = api_version

    def execute(self, context: Context) -> dict[str, Any]:
        import json

        from hubspot_scheduler_provider.models.booking import format_utc

        low, high = self._window(context)
        path = self._path()
        with self.hook_closed_after() as hook:
            meetings = hook.iter_booked_meetings(
                low, high, link_ids=self.link_ids, owner_ids=self.owner_ids, page_size=self.page_size
            )
            first = next(meetings, None)  # checks the arguments and reads page 1 before touching storage
            rows = 0
            _make_parent(path)
            # Written beside the destination, moved into place only when complete: a failed (or killed)
            # re-run never truncates nor removes the last good export, nor leaves half a file under its name.
            partial = _temporary_sibling(path, context)
            try:
                with partial.open("w", encoding="utf-8") as output:
                    for meeting in meetings if first is None else _chain(first, meetings):
                        output.write(json.dumps(meeting_row(meeting), separators=(",", ":")) + "\n")
                        rows += 1
                partial.replace(path)
            except BaseException:
                _remove_quietly(partial)
                raise
        window = f"[{format_utc(low)}, {format_utc(high) if high else 'now'})"
        self.log.info("Exported %d meeting(s) created in %s to %s", rows, window, path)
        return {
            "path": str(path),
            "rows": rows,
            "created_after": format_utc(low),
            "created_before": None if high is None else format_utc(high),
        }

    def _window(self, context: Context) -> tuple[datetime, datetime | None]:
        from hubspot_scheduler_provider.errors import BookingInputError
        from hubspot_scheduler_provider.fields import parse_start_time

        if self.created_after in (None, ""):
            start, end = context.get("data_interval_start"), context.get("data_interval_end")
            if start is not None and start == end:
                # Airflow 3's default cron schedules give runs no interval: since the last success.
                start = context.get("prev_data_interval_end_success")
            if start is None or end is None:
                raise BookingInputError(
                    "created_after",
                    "this run has no data interval and no earlier successful run: give created_after "
                    "(or schedule with intervals, e.g. CronDataIntervalTimetable)",
                )
            low = parse_start_time("data_interval_start", start, "UTC")
            high = parse_start_time("data_interval_end", end, "UTC")
            if self.created_before not in (None, ""):
                high = parse_start_time("created_before", self.created_before, "UTC")
            return low, high
        low = parse_start_time("created_after", self.created_after, "UTC")
        if self.created_before in (None, ""):
            return low, None
        return low, parse_start_time("created_before", self.created_before, "UTC")

    def _path(self) -> Any:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        from hubspot_scheduler_provider.errors import BookingInputError

        if isinstance(self.destination, ObjectStoragePath):
            return self.destination
        if not isinstance(self.destination, str) or "://" not in self.destination:
            raise BookingInputError(
                "destination", "expected an ObjectStoragePath or a URL such as 'file:///tmp/meetings.jsonl'"
            )
        try:
            path = ObjectStoragePath(self.destination.strip(), conn_id=self.destination_conn_id)
        except Exception as error:  # an unknown scheme, a missing filesystem package
            raise AirflowFailException(f"destination: cannot use {self.destination!r}: {error}") from None
        if not path.name:
            raise BookingInputError(
                "destination", "names a folder; give a file name, e.g. '.../{{ ds }}.jsonl'"
            )
        return path


def _chain(first: CrmMeeting, rest: Any) -> Any:
    yield first
    yield from rest


def _make_parent(path: Any) -> None:
    with contextlib.suppress(FileExistsError, NotImplementedError):  # object stores have no folders
        path.parent.mkdir(parents=True, exist_ok=True)


def _temporary_sibling(path: Any, context: Context) -> Any:
    """A hidden name in the destination's folder (same filesystem, so the final move is a rename there)."""
    import secrets

    ti = context.get("ti")
    try_number = getattr(ti, "try_number", None) or 0
    return path.with_name(f".{path.name}.tmp-{try_number}-{secrets.token_hex(4)}")


def _remove_quietly(path: Any) -> None:
    with contextlib.suppress(Exception):  # the original error matters more than a failed clean-up
        path.unlink(missing_ok=True)
