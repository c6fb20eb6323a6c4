"""
### When a lead books, enrich and notify

Reacts to every meeting booked on a HubSpot meeting page, by anyone (the public page, this provider,
another integration), without a polling DAG:

1. the asset `hubspot-crm-meetings/<portal>/<slug>` has an **AssetWatcher** whose
   `NewBookingsTrigger` searches HubSpot's CRM for new meetings of the page every
   `HUBSPOT_NEW_BOOKINGS_POLL_INTERVAL` seconds (default 60) in the triggerer and fires one asset event
   per meeting (its id, start, owner, contact);
2. Airflow merges the events that arrive between two scheduler loops into one run of this DAG (every
   meeting is in exactly one run). On **Airflow 3.3+**, **relay** re-emits them as one partition per
   meeting, so `hubspot_enrich_and_notify_one_booking` runs **once per meeting** (its
   `dag_run.partition_key` is the meeting id) and enriches and notifies;
3. on Airflow 3.0-3.2, **new_meetings** lists the run's meetings, **enrich** (one mapped task per
   meeting) reads each from HubSpot's CRM and **notify** tells the host (here: the log; swap in Slack
   or email).

On Airflow 2.11 (no asset watchers) the same DAG runs hourly and waits with the deferrable
`NewBookingsSensor` instead.

Set `HUBSPOT_PORTAL_ID` and `HUBSPOT_WATCHED_LINK_IDS` (the page's `MeetingLink.id`, comma-separated)
for your portal; the defaults are the local sandbox's (`python -m hubspot_scheduler_provider.testing
serve`), page `alice-smith`. It uses the `hubspot_default` connection.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, BaseOperator, Param, task
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_3_PLUS

from hubspot_scheduler_provider.asset_events import (
    booking_asset,
    crm_meeting_partitions_asset,
    crm_meetings_asset,
)
from hubspot_scheduler_provider.operators._base import HubSpotHookMixin
from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.operators.one_run_per_booking import (
    NewBookingsToPartitionsOperator,
    meeting_events_of,
    triggering_events_of,
)
from hubspot_scheduler_provider.sensors.new_bookings import NewBookingsSensor
from hubspot_scheduler_provider.triggers.new_bookings import NewBookingsTrigger

#: The HubSpot connection every task of these DAGs uses; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"
PORTAL_ID = os.environ.get("HUBSPOT_PORTAL_ID", "24681357")
SLUG = "alice-smith"
WATCHED_LINK_IDS = os.environ.get("HUBSPOT_WATCHED_LINK_IDS", "3001").split(",")
#: Read when the file is parsed: a trigger's arguments are fixed when the DAG is.
POLL_INTERVAL = float(os.environ.get("HUBSPOT_NEW_BOOKINGS_POLL_INTERVAL", "60"))
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")


class ReadCrmMeetingOperator(HubSpotHookMixin, BaseOperator):
    """Your own HubSpot step on the provider's hook: the CRM meeting of one booking (``meeting_id``,
    templated; else the ``booking``'s CRM id or ``calendarEventId``), as a small dict for the next task.
    ``booking`` is not templated: it holds values from HubSpot."""

    template_fields = ("meeting_id",)

    def __init__(
        self,
        *,
        booking: Any = None,
        meeting_id: str | None = None,
        hubspot_conn_id: str = HUBSPOT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.booking = booking or {}
        self.meeting_id = meeting_id
        self.hubspot_conn_id = hubspot_conn_id
        self.api_version = None

    def execute(self, context: Any) -> dict[str, Any]:
        meeting_id = self.meeting_id or self.booking.get("meeting_id")
        with self.hook_closed_after() as hook:
            if meeting_id:
                meeting = hook.get_crm_meeting(meeting_id)
            else:
                # The CRM's search index shows a new meeting seconds late: a miss fails, a retry finds it.
                [meeting, *_] = hook.find_crm_meetings(calendar_event_id=self.booking["calendarEventId"])
        return {
            "meeting_id": meeting.id,
            "title": meeting.title,
            "start": meeting.start.isoformat(),
            "owner_id": meeting.owner_id,
            "contact_id": meeting.contact_id,
            "outcome": meeting.outcome,
        }


def announce(meeting: dict[str, Any]) -> None:
    """Tell the host about a new meeting (here: the log; swap in Slack or email)."""
    print(
        f"New meeting {meeting['meeting_id']} {meeting['title']!r} at {meeting['start']} for "
        f"owner {meeting['owner_id']} (contact {meeting['contact_id']})"
    )


# --- 1. Bookings made by Airflow emit asset events; a DAG scheduled on the asset follows up -----------

# [START howto_asset_hubspot_booking_events]
BOOKED_BY_AIRFLOW = booking_asset(PORTAL_ID, SLUG)

with DAG(
    dag_id="hubspot_book_and_announce",
    description="Book a meeting; its asset event starts hubspot_follow_up_booking",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    tags=["hubspot", "example", "asset-events"],
    doc_md="### Book a meeting on `alice-smith`; its asset event starts `hubspot_follow_up_booking`",
    params={
        "contact_email": Param(type="string", format="email", title="Booker's email"),
        "first_name": Param(type="string", minLength=1, title="First name"),
        "last_name": Param(type="string", minLength=1, title="Last name"),
        "start_time": Param(type="string", title="Start (ISO 8601, UTC)"),
    },
):
    BookMeetingOperator(
        task_id="book",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        slug=SLUG,
        contact_email="{{ params.contact_email }}",
        first_name="{{ params.first_name }}",
        last_name="{{ params.last_name }}",
        start_time="{{ params.start_time }}",
        duration=30 * 60_000,
        # One event per booking, extra: slug, start, duration, calendarEventId, contactId, reconciled.
        outlets=[BOOKED_BY_AIRFLOW],
    )

with DAG(
    dag_id="hubspot_follow_up_booking",
    description="Runs for bookings hubspot_book_and_announce made (asset events)",
    schedule=[BOOKED_BY_AIRFLOW],
    start_date=START_DATE,
    catchup=False,
    tags=["hubspot", "example", "asset-events"],
    doc_md="### Follow up each booking `hubspot_book_and_announce` made, from its asset event",
):

    @task
    def booked(**context: Any) -> list[dict[str, Any]]:
        return [dict(event.extra) for event in triggering_events_of(context)]

    ReadCrmMeetingOperator.partial(task_id="read_meeting", hubspot_conn_id=HUBSPOT_CONN_ID).expand(
        booking=booked()
    )
# [END howto_asset_hubspot_booking_events]


# --- 2. Every booking on the page, however it was made: an asset watcher on HubSpot's CRM -------------

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import AssetWatcher

    # [START howto_trigger_hubspot_new_bookings]
    NEW_BOOKINGS = crm_meetings_asset(
        PORTAL_ID,
        SLUG,
        watchers=[
            AssetWatcher(
                name="hubspot_new_bookings_alice_smith",
                trigger=NewBookingsTrigger(
                    link_ids=WATCHED_LINK_IDS,
                    hubspot_conn_id=HUBSPOT_CONN_ID,
                    poll_interval=POLL_INTERVAL,
                    # At least HubSpot's CRM index lag: meetings it shows late still fire, once.
                    overlap_seconds=120,
                ),
            )
        ],
    )
    # [END howto_trigger_hubspot_new_bookings]
    watch_schedule: Any = [NEW_BOOKINGS]
else:
    watch_schedule = "@hourly"

#: Airflow 3.3+: the watcher's bookings as one partition per CRM meeting id (section 3).
MEETINGS_BY_ID = crm_meeting_partitions_asset(PORTAL_ID, SLUG)

with DAG(
    dag_id="hubspot_enrich_and_notify_new_bookings",
    description="When a lead books on the meeting page, enrich the meeting and notify the host",
    schedule=watch_schedule,
    start_date=START_DATE,
    catchup=False,
    tags=["hubspot", "example", "asset-watcher"],
    doc_md=__doc__,
):
    if AIRFLOW_V_3_3_PLUS:
        # [START howto_operator_hubspot_relay_new_bookings]
        # One partition (key: the CRM meeting id) per meeting of this run's events.
        NewBookingsToPartitionsOperator(task_id="relay", outlets=[MEETINGS_BY_ID])
        # [END howto_operator_hubspot_relay_new_bookings]
    else:
        if AIRFLOW_V_3_0_PLUS:

            @task
            def new_meetings(**context: Any) -> list[dict[str, Any]]:
                """The meetings of this run's trigger events: ``{"meeting_id", "start", "owner_id", ...}``
                (the trigger's flush events and events without a meeting id skipped, repeats dropped)."""
                import logging

                log = logging.getLogger("airflow.task")
                return meeting_events_of(triggering_events_of(context), log)

            meetings: Any = new_meetings()
        else:
            # [START howto_sensor_hubspot_new_bookings]
            meetings = NewBookingsSensor(
                task_id="new_meetings",
                hubspot_conn_id=HUBSPOT_CONN_ID,
                link_ids=WATCHED_LINK_IDS,
                created_after="{{ data_interval_start }}",
                deferrable=True,
                poke_interval=POLL_INTERVAL,
                timeout=60 * 60,
            ).output
            # [END howto_sensor_hubspot_new_bookings]

        # One mapped task instance per meeting of the run (a run may hold several meetings).
        enriched = ReadCrmMeetingOperator.partial(task_id="enrich", hubspot_conn_id=HUBSPOT_CONN_ID).expand(
            booking=meetings
        )

        @task
        def notify(meetings: list[dict[str, Any]]) -> int:
            for meeting in meetings:
                announce(meeting)
            return len(meetings)

        notify(enriched.output)


# --- 3. Airflow 3.3+: one run per booking, from the relay's partitions --------------------------------

if AIRFLOW_V_3_3_PLUS:
    from airflow.sdk import PartitionedAssetTimetable

    # [START howto_operator_hubspot_one_run_per_booking]
    with DAG(
        dag_id="hubspot_enrich_and_notify_one_booking",
        description="Runs once per meeting booked on the page: enrich it and notify the host",
        # One run per partition key (a CRM meeting id): never two meetings in one run.
        schedule=PartitionedAssetTimetable(assets=MEETINGS_BY_ID),
        start_date=START_DATE,
        catchup=False,
        tags=["hubspot", "example", "asset-watcher"],
        doc_md="### Enrich and notify ONE new booking (Airflow 3.3+): `dag_run.partition_key` is its id",
    ):
        meeting = ReadCrmMeetingOperator(
            task_id="enrich", hubspot_conn_id=HUBSPOT_CONN_ID, meeting_id="{{ dag_run.partition_key }}"
        )

        @task
        def notify_host(meeting: dict[str, Any]) -> str:
            announce(meeting)
            return str(meeting["meeting_id"])

        notify_host(meeting.output)
    # [END howto_operator_hubspot_one_run_per_booking]
