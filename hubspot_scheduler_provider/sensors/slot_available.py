"""``MeetingSlotAvailableSensor``: wait until a meeting page has a free slot, then hand it downstream.

Module imports stay cheap (DAG files importing this are parsed often): the hook, pydantic models and
the slot logic load inside ``poke``/``execute``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from hubspot_scheduler_provider.operators._base import HubSpotHookMixin
from hubspot_scheduler_provider.triggers.slot_available import MeetingSlotAvailableTrigger

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from hubspot_scheduler_provider.availability import SlotQuery


class MeetingSlotAvailableSensor(HubSpotHookMixin, BaseSensorOperator):
    """Wait until page ``slug`` has a free slot of ``duration`` in ``[earliest, latest]``.

    Succeeds with the first free slot as an ISO 8601 string in ``timezone`` (the task's XCom return
    value), ready for ``BookMeetingOperator(start_time=sensor.output, ...)``. The slot is free when
    the sensor looks; the booking can still lose a race for it, which HubSpot reports.

    With ``deferrable=True`` the wait runs in the triggerer (:class:`MeetingSlotAvailableTrigger`) and
    frees the worker slot; ``poke_interval`` is the polling interval and ``timeout`` counts from the
    start of the task try (not from the deferral), enforced by the trigger and, should the triggerer be
    down, by Airflow's deferral timeout set to the same moment. Running out of ``timeout`` fails the
    task without retries (``AirflowSensorTimeout``), from either side.

    A retry is a new try, so it gets a fresh ``timeout``, as Airflow's own sensors do: poke mode times
    each ``execute`` (``BaseSensorOperator.execute``), and Airflow 3 deletes a try's reschedule records
    when it is retried (``TaskInstance.prepare_db_for_next_try``), so reschedule mode starts over too.
    (Only reschedule mode on Airflow 2 measured from the first try since the last clear.)
    The sensor never books: a booking must not run in a trigger, which may be re-run after a restart.

    :param slug: Meeting page slug (team pages: ``team/page``). Templated.
    :param duration: Meeting length: milliseconds, ``timedelta`` or ISO 8601 (``"PT30M"``); one the
        page offers. Templated.
    :param timezone: IANA zone: HubSpot's month pages, naive ``earliest``/``latest`` and the returned
        slot use it. Templated.
    :param earliest: Earliest start (aware or naive datetime, ISO 8601, epoch ms), or None. Templated.
    :param latest: Latest end: the meeting must be over by then. None for no limit. Templated.
    :param hubspot_conn_id: Connection to HubSpot. Templated.
    :param api_version: HubSpot API version; default: the connection's.
    :param deferrable: Wait in the triggerer instead of a worker slot: a boolean or the text
        ``"true"``/``"false"`` (any case); anything else fails the task naming the argument. Default:
        Airflow's ``[operators] default_deferrable`` setting (False unless the deployment sets it).
    """

    template_fields: Sequence[str] = ("slug", "duration", "timezone", "earliest", "latest", "hubspot_conn_id")
    ui_color = "#ff7a59"

    def __init__(
        self,
        *,
        slug: str,
        duration: Any,
        timezone: str = "UTC",
        earliest: Any = None,
        latest: Any = None,
        hubspot_conn_id: str = "hubspot_default",
        api_version: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.slug = slug
        self.duration = duration
        self.timezone = timezone
        self.earliest = earliest
        self.latest = latest
        self.hubspot_conn_id = hubspot_conn_id
        self.api_version = api_version
        self.deferrable = deferrable

    def slot_query(self) -> SlotQuery:
        """The rendered arguments, validated (``BookingInputError`` naming the field; no retry)."""
        from hubspot_scheduler_provider.availability import SlotQuery

        return SlotQuery.parse(self.slug, self.duration, self.timezone, self.earliest, self.latest)

    def _first_free_slot(self, query: SlotQuery) -> str | None:
        from hubspot_scheduler_provider.availability import find_slot_starts

        starts = find_slot_starts(self.hook, query, limit=1)
        if not starts:
            self.log.info("No free slot on page %r in %s yet", query.slug, query.describe_window())
            return None
        slot = query.to_datetime(starts[0]).isoformat()
        self.log.info("Free slot on page %r: %s", query.slug, slot)
        return slot

    def poke(self, context: Context) -> PokeReturnValue | bool:
        slot = self._first_free_slot(self.slot_query())
        return PokeReturnValue(is_done=True, xcom_value=slot) if slot else False

    def execute(self, context: Context) -> Any:
        from hubspot_scheduler_provider.fields import parse_switch

        with self.hook_closed_after():
            if not parse_switch("deferrable", self.deferrable):
                return super().execute(context)
            return self._look_then_defer(context)

    def _look_then_defer(self, context: Context) -> str:
        query = self.slot_query()
        # One look from the worker first: when a slot is already free, no trigger round trip is needed.
        slot = self._first_free_slot(query)
        if slot is not None:
            return slot
        deadline = _try_started_at(context) + timedelta(seconds=self.timeout)
        remaining = deadline - datetime.now(dt_timezone.utc)
        if remaining <= timedelta(0):
            raise AirflowSensorTimeout(
                f"No free slot on page {query.slug!r} in {query.describe_window()} within {self.timeout:g} s"
            )
        self.log.info(
            "Deferring: the triggerer polls page %r every %.0f s until %s",
            query.slug,
            self.poke_interval,
            deadline.isoformat(),
        )
        self.defer(
            trigger=MeetingSlotAvailableTrigger(
                slug=query.slug,
                duration_ms=query.duration_ms,
                timezone=query.timezone,
                earliest=query.iso(query.earliest_ms),
                latest=query.iso(query.latest_ms),
                hubspot_conn_id=self.hubspot_conn_id,
                poll_interval=self.poke_interval,
                deadline=deadline.isoformat(),
                api_version=self.api_version,
            ),
            method_name="execute_complete",
            timeout=remaining,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger fired: return the slot, or fail saying why."""
        status = (event or {}).get("status")
        if status == "success":
            slot: str = event["slot"]  # type: ignore[index]
            self.log.info("Free slot on page %r: %s (found by the triggerer)", self.slug, slot)
            return slot
        message = (event or {}).get("message") or f"unexpected trigger event {event!r}"
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        if status == "error" and not event.get("retryable", True):  # type: ignore[union-attr]
            raise AirflowFailException(message)
        raise AirflowException(f"Waiting for a free slot on page {self.slug!r} failed: {message}")

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Let Airflow 2's deferral timeout fail without retries, as Airflow 3's sensors already do.

        Should the triggerer miss the deadline, the scheduler resumes the task in ``__fail__``; Airflow 3's
        ``BaseSensorOperator`` turns that into ``AirflowSensorTimeout``, Airflow 2's raises a retryable
        ``TaskDeferralError``: a retry would wait a whole new ``timeout``.
        """
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout:
            raise
        except AirflowException as error:
            if next_method == "__fail__" and (next_kwargs or {}).get("error") == _AIRFLOW2_DEFERRAL_TIMEOUT:
                raise AirflowSensorTimeout(
                    f"No free slot on page {self.slug!r} within {self.timeout:g} s ({error})"
                ) from error
            raise


#: What Airflow 2's scheduler resumes a task with when its deferral timed out (``check_trigger_timeouts``).
_AIRFLOW2_DEFERRAL_TIMEOUT = "Trigger/execution timeout"


def _try_started_at(context: Context) -> datetime:
    """When this task try started (``ti.start_date``), so time spent before deferring counts against
    ``timeout``; now when the context has no task instance (``execute`` called directly)."""
    started = getattr(context.get("ti"), "start_date", None)
    if isinstance(started, datetime) and started.tzinfo is not None:
        return started
    return datetime.now(dt_timezone.utc)
