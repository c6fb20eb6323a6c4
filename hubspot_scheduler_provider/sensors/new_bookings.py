"""``NewBookingsSensor``: wait until meetings are booked through chosen meeting pages, return them.

The Airflow 2.11 (and any-version) form of :class:`~hubspot_scheduler_provider.triggers.new_bookings.
NewBookingsTrigger`: with ``deferrable=True`` the wait runs in the triggerer (the same trigger, in its
``single_event`` form), without it each ``poke`` searches once. On Airflow 3, an ``AssetWatcher`` with
the trigger is the better fit: it starts a DAG run per batch of new bookings without a waiting task.

Module imports stay cheap: the hook loads inside ``poke``/``execute``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, BaseSensorOperator, PokeReturnValue

from hubspot_scheduler_provider.operators._base import HubSpotHookMixin
from hubspot_scheduler_provider.triggers.new_bookings import (
    DEFAULT_OVERLAP_SECONDS,
    NewBookingsTrigger,
    event_payload,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from airflow.providers.common.compat.sdk import Context


class NewBookingsSensor(HubSpotHookMixin, BaseSensorOperator):
    """Wait until a meeting is booked through ``link_ids`` (or with ``owner_ids``) after ``created_after``.

    Returns (XCom) the new meetings found by the first search that finds any, oldest first, each as the
    trigger's event payload: ``meeting_id``, ``start``, ``owner_id``, ``contact_id``, ``link_id``,
    ``created_at``. A wait for "something new", not a feed: runs whose windows touch can both see a
    meeting the CRM indexed late; use the asset watcher for exactly-once.

    :param link_ids: Meeting page ids to watch. Templated.
    :param slugs: Meeting page slugs to watch (turned into ids by one read of the pages). Templated.
    :param owner_ids: Owner (host) ids to watch. Templated.
    :param created_after: ISO 8601 instant (or aware ``datetime``); default: the run's data interval
        start, else its logical date, else now. Templated.
    :param hubspot_conn_id: Connection to HubSpot. Templated.
    :param api_version: HubSpot API version; default: the connection's.
    :param deferrable: Wait in the triggerer (default True); ``poke_interval`` is its polling interval.
    """

    template_fields: Sequence[str] = ("link_ids", "slugs", "owner_ids", "created_after", "hubspot_conn_id")
    ui_color = "#ff7a59"

    def __init__(
        self,
        *,
        link_ids: Iterable[str] = (),
        slugs: Iterable[str] = (),
        owner_ids: Iterable[str] = (),
        created_after: Any = None,
        hubspot_conn_id: str = "hubspot_default",
        api_version: str | None = None,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.link_ids = link_ids
        self.slugs = slugs
        self.owner_ids = owner_ids
        self.created_after = created_after
        self.hubspot_conn_id = hubspot_conn_id
        self.api_version = api_version
        self.deferrable = deferrable

    def _since(self, context: Context) -> datetime:
        value = self.created_after
        if value is None:
            value = context.get("data_interval_start") or context.get("logical_date")
        if value is None:
            return datetime.now(timezone.utc)
        if isinstance(value, str):
            from hubspot_scheduler_provider.units import parse_iso_instant

            value = parse_iso_instant(value)
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"created_after: expected an aware datetime or ISO 8601 instant, got {value!r}")
        return value

    def _trigger(self, context: Context) -> NewBookingsTrigger:
        return NewBookingsTrigger(
            link_ids=list(self.link_ids),
            slugs=list(self.slugs),
            owner_ids=list(self.owner_ids),
            created_after=self._since(context).isoformat(),
            hubspot_conn_id=self.hubspot_conn_id,
            poll_interval=self.poke_interval,
            overlap_seconds=DEFAULT_OVERLAP_SECONDS,
            api_version=self.api_version,
            single_event=True,
        )

    def execute(self, context: Context) -> Any:
        from hubspot_scheduler_provider.fields import parse_switch

        trigger = self._trigger(context)  # checks the watch before anything waits
        if not parse_switch("deferrable", self.deferrable):
            return super().execute(context)
        found = self._search(trigger)  # one look first: no round trip when it is there
        if found:
            return found
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timedelta(seconds=self.timeout))

    def poke(self, context: Context) -> PokeReturnValue:
        found = self._search(self._trigger(context))
        return PokeReturnValue(is_done=bool(found), xcom_value=found or None)

    def _search(self, trigger: NewBookingsTrigger) -> list[dict[str, Any]]:
        """One search for what ``trigger`` watches: the meetings created since its ``created_after``, as
        event payloads (at most one poll's)."""
        from itertools import islice

        from hubspot_scheduler_provider.triggers.new_bookings import MAX_EVENTS_PER_POLL
        from hubspot_scheduler_provider.units import parse_iso_instant

        assert trigger.created_after is not None
        with self.hook_closed_after() as hook:
            meetings = hook.iter_booked_meetings(
                parse_iso_instant(trigger.created_after),
                link_ids=trigger.watched_link_ids(hook),
                owner_ids=trigger.owner_ids,
            )
            return [event_payload(meeting) for meeting in islice(meetings, MAX_EVENTS_PER_POLL)]

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Resume after the trigger fired: the new meetings, or fail saying why."""
        if (event or {}).get("status") == "success":
            meetings: list[dict[str, Any]] = event["meetings"]  # type: ignore[index]
            self.log.info("%d new booking(s) (found by the triggerer)", len(meetings))
            return meetings
        message = (event or {}).get("message") or f"unexpected trigger event {event!r}"
        raise AirflowException(f"Waiting for new bookings failed: {message}")
