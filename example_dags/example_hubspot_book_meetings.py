"""
### Book a HubSpot meeting for each lead of a list, in one task

1. **plan_bookings** reads the leads from `data/new_leads.csv` next to this file and gives each one a
   free slot of the meeting page (the first ones that do not overlap, at least an hour from now, within
   14 days), as booking payloads.
2. **book_meetings** (`BookMeetingsOperator`) books them all in one task: concurrently, through one
   shared HubSpot session, paced to the account's rate limit (learned from HubSpot's
   `X-HubSpot-RateLimit-*` headers). Its XCom is one result per lead, in order: HubSpot's booking, or
   `{"index", "error", "field"}` for a lead that failed. A retried task first looks every lead up in
   HubSpot's CRM, so nothing is booked twice.

One task instead of one mapped task per lead costs far less Airflow overhead for large lists (see the
benchmarks in the docs). Trigger it from the UI or:

    airflow dags test hubspot_book_meetings_batch -c '{"slug": "alice-smith"}'

It books through the `hubspot_default` connection (HubSpot, or the local sandbox test double started
with `python -m hubspot_scheduler_provider.testing serve`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from hubspot_scheduler_provider.operators.book_meetings import BookMeetingsOperator

#: The HubSpot connection every task of this DAG uses; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"
LEADS_FILE = Path(__file__).parent / "data" / "new_leads.csv"

with DAG(
    dag_id="hubspot_book_meetings_batch",
    description="Book a HubSpot meeting for each lead of a list in one task (BookMeetingsOperator)",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["hubspot", "example", "batch"],
    doc_md=__doc__,
    params={
        "slug": Param("alice-smith", type="string", minLength=1, title="Meeting page slug"),
        "duration": Param(30 * 60_000, type="integer", minimum=60_000, title="Duration (ms)"),
        "timezone": Param("UTC", type="string", title="Time zone", description="IANA name of the bookings."),
    },
) as dag:

    @task
    def plan_bookings(params: dict[str, Any]) -> list[dict[str, Any]]:
        from airflow.providers.common.compat.sdk import AirflowFailException

        from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

        with LEADS_FILE.open(newline="", encoding="utf-8") as file:
            leads = list(csv.DictReader(file))
        earliest = pendulum.now("UTC").add(hours=1)
        hook = HubSpotSchedulerHook(hubspot_conn_id=HUBSPOT_CONN_ID)
        try:
            free = hook.find_slots(
                params["slug"], params["duration"], params["timezone"], earliest, earliest.add(days=14)
            )
        finally:
            hook.close()
        # Free slots overlap (a page offers a start every increment): one meeting must end before the next.
        slots: list[pendulum.DateTime] = []
        for start in free:
            if len(slots) < len(leads) and (
                not slots or start >= slots[-1].add(minutes=params["duration"] / 60_000)
            ):
                slots.append(start)
        if len(slots) != len(leads):
            raise AirflowFailException(f"{len(leads)} leads, {len(slots)} free slots on {params['slug']!r}")
        return [
            {
                "contact_email": lead["email"],
                "first_name": lead["first_name"],
                "last_name": lead["last_name"],
                "start_time": slot.isoformat(),
            }
            for lead, slot in zip(leads, slots, strict=True)
        ]

    # [START howto_operator_hubspot_book_meetings]
    BookMeetingsOperator(
        task_id="book_meetings",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        payloads=plan_bookings(),  # a list of bookings (or an XComArg of one)
        # Set once for every item; each item may carry its own instead.
        slug="{{ params.slug }}",
        duration="{{ params.duration }}",
        timezone="{{ params.timezone }}",
        max_workers=4,
    )
    # [END howto_operator_hubspot_book_meetings]
