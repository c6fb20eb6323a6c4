"""``NewBookingsToPartitionsOperator``: one DAG run per meeting booked (Airflow 3.3+).

Why it exists: ``NewBookingsTrigger`` fires one asset event per meeting, but Airflow's scheduler turns
the events queued on an asset between two of its loops into ONE run of each DAG scheduled on it
(``consumed_asset_events``), so a burst of bookings starts fewer runs than meetings. A trigger's event
cannot carry a partition key (``Trigger.submit_event`` registers it without one). A task's outlet can:
from Airflow 3.3, ``context["outlet_events"][asset].add_partitions(keys)`` makes one asset event per key,
and Airflow starts one run per key of a DAG scheduled with ``PartitionedAssetTimetable(assets=asset)``
(``dag_run.partition_key``; two events of one key not yet turned into a run share that run).

So the DAG the watcher starts runs this operator: it reads the run's triggering events, takes each
one's meeting id (``extra["payload"]["meeting_id"]``), drops repeats, and emits one partition per
meeting on its single outlet (:func:`~hubspot_scheduler_provider.asset_events.crm_meeting_partitions_asset`).
The partition key is the CRM meeting id; Airflow gives every key of a task's outlet the same ``extra``,
so it holds nothing about a meeting (the watched asset names only); the per-meeting DAG reads the
meeting by id.

Airflow 3.2 has ``PartitionedAssetTimetable`` but no ``add_partitions`` (a task emits only its own
run's key), Airflow 3.0/3.1 and 2.11 neither: there the operator refuses to be built, naming what is
missing, instead of emitting events no DAG can tell apart; map a task over the run's meetings instead
(``docs/guides/new-bookings.md``). Module imports stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowOptionalProviderFeatureException,
    AirflowSkipException,
    BaseOperator,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow.providers.common.compat.sdk import Context

#: Where a ``NewBookingsTrigger`` event holds its meeting id (Airflow stores a trigger's event under
#: ``payload`` in the asset event's ``extra``).
MEETING_ID_FIELD = "payload.meeting_id"


class NewBookingsToPartitionsOperator(BaseOperator):
    """Relay the run's new-booking events as one partitioned asset event per CRM meeting (Airflow 3.3+).

    Put it in a DAG scheduled on an asset a ``NewBookingsTrigger`` watches; schedule the per-meeting
    DAG with ``PartitionedAssetTimetable(assets=<the outlet>)`` and read ``{{ dag_run.partition_key }}``
    (the meeting id). Returns (to XCom) the meeting ids relayed, in event order.

    The trigger's flush events (no meeting) are skipped silently (a debug line). Other events without
    a HubSpot meeting id (not from the trigger: e.g. one posted through the REST API)
    are skipped with a warning naming the event and the field: they stand for no meeting, and failing
    would hold back the run's real ones (a retry cannot mend an event). A run with no meeting at all is
    skipped (Airflow would otherwise emit one event without a partition key). A clear of a successful
    run emits its keys again, and Airflow starts a new run for each key whose run exists already (at
    least once, never lost).

    :param outlets: Exactly one concrete ``Asset`` (not an alias: Airflow attaches partition keys to
        concrete assets only), e.g. ``crm_meeting_partitions_asset(portal_id, slug)``.
    """

    ui_color = "#ff7a59"

    def __init__(self, *, outlets: Any, **kwargs: Any) -> None:
        missing = missing_partition_features()
        if missing:
            raise AirflowOptionalProviderFeatureException(
                f"{type(self).__name__} needs Airflow 3.3+; this Airflow ({_airflow_version()}) has no "
                f"{' and no '.join(missing)}. On older Airflow, map a task over the run's meetings instead"
            )
        listed = list(outlets) if isinstance(outlets, (list, tuple)) else [outlets]
        from airflow.sdk import Asset

        if len(listed) != 1 or not isinstance(listed[0], Asset):
            raise ValueError(
                f"outlets: expected exactly one concrete Asset (the partitioned one), got {listed!r}"
            )
        super().__init__(outlets=listed, **kwargs)
        self.partitions_asset = listed[0]

    def execute(self, context: Context) -> list[str]:
        events = triggering_events_of(context)
        meeting_ids = meeting_ids_of(events, self.log)
        if not meeting_ids:
            raise AirflowSkipException(f"no meeting id in the run's {len(events)} triggering event(s)")
        from hubspot_scheduler_provider.asset_events import bounded

        accessor = context["outlet_events"][self.partitions_asset]
        # Shared by every key of this outlet (Airflow keeps one extra per asset): nothing per meeting.
        relayed_from: list[Any] = sorted({bounded(_asset_name(event)) for event in events})
        accessor.extra = {"relayed_from": relayed_from}
        accessor.add_partitions(meeting_ids)
        self.log.info(
            "Relayed %d meeting(s) of %d event(s) as partitions of %s",
            len(meeting_ids),
            len(events),
            self.partitions_asset.name,
        )
        return meeting_ids


def missing_partition_features() -> list[str]:
    """What this Airflow lacks for one run per meeting (empty from Airflow 3.3)."""
    from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_2_PLUS, AIRFLOW_V_3_3_PLUS

    missing = []
    if not AIRFLOW_V_3_2_PLUS:
        missing.append("PartitionedAssetTimetable (a run per partition key, Airflow 3.2)")
    if not AIRFLOW_V_3_3_PLUS:
        missing.append("OutletEventAccessor.add_partitions (an asset event per partition key, Airflow 3.3)")
    return missing


def meeting_ids_of(events: Iterable[Any], log: Any) -> list[str]:
    """The distinct meeting ids of ``events`` (first occurrence order), as :func:`meeting_events_of`."""
    return [str(payload["meeting_id"]) for payload in meeting_events_of(events, log)]


def meeting_events_of(events: Iterable[Any], log: Any) -> list[dict[str, Any]]:
    """The meetings of a run's ``NewBookingsTrigger`` asset events: each distinct meeting's payload
    (``meeting_id``, ``start``, ``owner_id``, ...; first occurrence order), the one home of what a
    run's meeting events are (the relay and the example DAG's Airflow 3.0-3.2 branch use it).

    The trigger's flush events (no meeting; they only start the run of a burst's later meetings) are
    skipped with a debug line; other events without a valid meeting id are logged at WARNING (naming
    the event and :data:`MEETING_ID_FIELD`) and skipped."""
    from hubspot_scheduler_provider.errors import BookingInputError
    from hubspot_scheduler_provider.fields.text import parse_identifier
    from hubspot_scheduler_provider.triggers.new_bookings import is_flush

    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        extra = getattr(event, "extra", None)
        payload = extra.get("payload") if isinstance(extra, dict) else None
        if is_flush(payload):
            log.debug("Skipped a flush event of %s (no meeting)", _asset_name(event))
            continue
        fields: dict[str, Any] = payload if isinstance(payload, dict) else {}
        try:
            meeting_id = parse_identifier(MEETING_ID_FIELD, fields.get("meeting_id"))
        except BookingInputError as error:
            log.warning(
                "Skipped the asset event of %s at %s: %s (not a NewBookingsTrigger event)",
                _asset_name(event),
                getattr(event, "timestamp", "?"),
                error,
            )
            continue
        seen.setdefault(meeting_id, {**fields, "meeting_id": meeting_id})
    return list(seen.values())


def triggering_events_of(context: Any) -> list[Any]:
    """The run's triggering asset (Airflow 2: dataset) events, oldest first."""
    triggering = context.get("triggering_asset_events") or context.get("triggering_dataset_events") or {}
    return sorted((event for listed in triggering.values() for event in listed), key=lambda e: e.timestamp)


def _asset_name(event: Any) -> str:
    asset = getattr(event, "asset", None)
    return str(getattr(asset, "name", None) or getattr(asset, "uri", None) or "an unknown asset")


def _airflow_version() -> str:
    from airflow import __version__

    return __version__
