"""
### Book the first free slot of a HubSpot meeting page

Two tasks:

1. **find_first_free_slot** reads the page's availability through the HubSpot hook (month by month, as
   HubSpot publishes it) and picks the first free slot of the chosen duration that starts at least
   `not_before_hours` from now and ends within `window_days`. It returns the complete booking payload
   (to XCom), or fails saying that the window has no free slot.
2. **book_meeting** (`BookMeetingOperator`) books that slot for the booker in the form.

Someone else can take the slot between the two tasks; HubSpot then refuses the booking with
`MEETING_START_TIME_NOT_VALID` and nothing is booked: trigger again. Clearing the *whole* run picks a
slot again, and the booking task's exactly-once check then looks at that new slot only. The one-task
alternative, `BookMeetingOperator(start_time="next_available", earliest=..., latest=...)`, does both
steps inside the booking task: it tries the next slot when one is taken, and a retried or cleared task
finds its earlier booking anywhere in the window. To *wait* for a slot to open instead, use
`MeetingSlotAvailableSensor` (optionally deferrable) in place of the first task.

Trigger it from the UI (the form asks for the booker and the window) or:

    airflow dags test hubspot_book_first_free_slot -c '{"contact_email": "jane.doe@example.com",
        "first_name": "Jane", "last_name": "Doe", "slug": "sales-team/round-robin"}'

It books through the `hubspot_default` connection (HubSpot, or the local sandbox test double started
with `python -m hubspot_scheduler_provider.testing serve`).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator

#: The HubSpot connection every task of this DAG uses; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"
DURATIONS = {30 * 60_000: "30 minutes", 60 * 60_000: "60 minutes"}

with DAG(
    dag_id="hubspot_book_first_free_slot",
    description="Read a HubSpot meeting page's availability and book its first free slot in a window",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["hubspot", "example", "availability"],
    doc_md=__doc__,
    params={
        "contact_email": Param(
            type="string", format="email", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$", title="Booker's email"
        ),
        "first_name": Param(type="string", minLength=1, title="First name"),
        "last_name": Param(type="string", minLength=1, title="Last name"),
        "slug": Param(
            "sales-team/round-robin",
            type="string",
            minLength=1,
            examples=["sales-team/round-robin", "alice-smith"],
            title="Meeting page slug",
        ),
        "duration": Param(
            30 * 60_000,
            type="integer",
            enum=list(DURATIONS),
            values_display={str(ms): label for ms, label in DURATIONS.items()},
            title="Duration",
        ),
        "timezone": Param(
            "UTC",
            type="string",
            title="Time zone",
            description="IANA name; slots are shown and booked in it.",
        ),
        "not_before_hours": Param(24, type="integer", minimum=0, title="Earliest start, hours from now"),
        "window_days": Param(14, type="integer", minimum=1, maximum=365, title="Search window, days"),
    },
) as dag:
    # [START howto_hook_hubspot_next_available_slot]
    @task
    def find_first_free_slot(params: dict[str, Any]) -> dict[str, Any]:
        from airflow.providers.common.compat.sdk import AirflowFailException

        from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

        earliest = pendulum.now("UTC").add(hours=params["not_before_hours"])
        latest = earliest.add(days=params["window_days"])
        hook = HubSpotSchedulerHook(hubspot_conn_id=HUBSPOT_CONN_ID)
        try:
            slot = hook.next_available_slot(
                params["slug"], params["duration"], params["timezone"], earliest=earliest, latest=latest
            )
        finally:
            hook.close()
        if slot is None:
            raise AirflowFailException(
                f"No free {params['duration'] // 60_000}-minute slot on page {params['slug']!r} between "
                f"{earliest.isoformat()} and {latest.isoformat()}"
            )
        return {
            "slug": params["slug"],
            "contact_email": params["contact_email"],
            "first_name": params["first_name"],
            "last_name": params["last_name"],
            "start_time": slot.isoformat(),
            "duration": params["duration"],
            "timezone": params["timezone"],
        }

    # [END howto_hook_hubspot_next_available_slot]

    # [START howto_operator_hubspot_book_meeting_payload]
    BookMeetingOperator(
        task_id="book_meeting", hubspot_conn_id=HUBSPOT_CONN_ID, payload=find_first_free_slot()
    )
    # [END howto_operator_hubspot_book_meeting_payload]
