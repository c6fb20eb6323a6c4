"""
### Wait for a free slot on a HubSpot meeting page, then book it

Three tasks:

1. **search_window** works out the window to search: from `not_before_hours` after now, for
   `window_days` days.
2. **wait_for_slot** (`MeetingSlotAvailableSensor`, deferrable) waits until the page has a free slot of
   the chosen duration that fits in the window. While it waits, the triggerer polls HubSpot every
   60 seconds (the deployment's `HUBSPOT_SLOT_SENSOR_POKE_INTERVAL` environment variable, in seconds,
   changes that) and no worker slot is used. It returns the slot (ISO 8601) to XCom.
3. **book_meeting** (`BookMeetingOperator`) books that slot for the booker in the form.

The sensor only reads; booking happens in a normal task (a trigger may be re-run after a triggerer
restart and must never send a booking). If someone takes the slot between the two tasks, HubSpot refuses
the booking with `MEETING_START_TIME_NOT_VALID` and nothing is booked.

Trigger it from the UI (the form asks for the booker and the window) or:

    airflow dags test hubspot_wait_for_slot_then_book -c '{"contact_email": "jane.doe@example.com",
        "first_name": "Jane", "last_name": "Doe", "slug": "alice-smith"}'

It uses the `hubspot_default` connection (HubSpot, or the local sandbox test double started with
`python -m hubspot_scheduler_provider.testing serve`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.sensors.slot_available import MeetingSlotAvailableSensor

#: The HubSpot connection every task of this DAG uses; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"
DURATIONS = {30 * 60_000: "30 minutes", 60 * 60_000: "60 minutes"}
#: Read when the file is parsed: ``poke_interval`` is not a templated field, so a run's params cannot set it.
POKE_INTERVAL = timedelta(seconds=float(os.environ.get("HUBSPOT_SLOT_SENSOR_POKE_INTERVAL", "60")))

with DAG(
    dag_id="hubspot_wait_for_slot_then_book",
    description="Wait (deferred) until a HubSpot meeting page has a free slot in a window, then book it",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["hubspot", "example", "availability", "sensor"],
    doc_md=__doc__,
    params={
        "contact_email": Param(
            type="string", format="email", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$", title="Booker's email"
        ),
        "first_name": Param(type="string", minLength=1, title="First name"),
        "last_name": Param(type="string", minLength=1, title="Last name"),
        "slug": Param(
            "alice-smith",
            type="string",
            minLength=1,
            examples=["alice-smith", "sales-team/round-robin"],
            title="Meeting page slug",
        ),
        "duration": Param(
            30 * 60_000,
            type="integer",
            enum=list(DURATIONS),
            values_display={str(ms): label for ms, label in DURATIONS.items()},
            title="Duration",
        ),
        "timezone": Param("UTC", type="string", title="Time zone", description="IANA name for the slot."),
        "not_before_hours": Param(2, type="integer", minimum=0, title="Earliest start, hours from now"),
        "window_days": Param(14, type="integer", minimum=1, maximum=365, title="Search window, days"),
    },
) as dag:

    @task
    def search_window(params: dict[str, Any]) -> dict[str, str]:
        earliest = pendulum.now("UTC").add(hours=params["not_before_hours"])
        latest = earliest.add(days=params["window_days"])
        return {"earliest": earliest.isoformat(), "latest": latest.isoformat()}

    window = search_window()
    # [START howto_sensor_hubspot_meeting_slot_available]
    wait_for_slot = MeetingSlotAvailableSensor(
        task_id="wait_for_slot",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        slug="{{ params.slug }}",
        duration="{{ params.duration }}",
        timezone="{{ params.timezone }}",
        # ``window["earliest"]`` would name an XCom *key*, so read the dict's items in the template.
        earliest="{{ ti.xcom_pull(task_ids='search_window')['earliest'] }}",
        latest="{{ ti.xcom_pull(task_ids='search_window')['latest'] }}",
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=6 * 60 * 60,
    )
    # [END howto_sensor_hubspot_meeting_slot_available]
    window >> wait_for_slot
    # [START howto_operator_hubspot_book_meeting_sensor_slot]
    BookMeetingOperator(
        task_id="book_meeting",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        slug="{{ params.slug }}",
        contact_email="{{ params.contact_email }}",
        first_name="{{ params.first_name }}",
        last_name="{{ params.last_name }}",
        duration="{{ params.duration }}",
        timezone="{{ params.timezone }}",
        start_time=wait_for_slot.output,
    )
    # [END howto_operator_hubspot_book_meeting_sensor_slot]
