"""
### Book a HubSpot meeting for every new lead, each weekday morning

A scheduled pipeline in four steps:

1. **new_leads** reads the leads to book from `data/new_leads.csv` next to this file
   (columns: `email, first_name, last_name, slug, timezone, preferred_local_time, duration_minutes`).
   In your pipeline, replace it with the query that finds the leads created since the last run
   (`data_interval_start`..`data_interval_end`) in your CRM or warehouse.
2. **to_booking_payload** (one mapped task per lead) turns a lead into a booking: the lead's preferred
   local time on the working day after the run's data interval, in the lead's time zone, on the lead's
   meeting page (derived from the run, not the clock, so a retried or cleared task books the same slot).
3. **book_meeting** (`BookMeetingOperator`, mapped over the payloads) books each meeting through the
   `hubspot_default` connection. One lead's failure does not stop the others; bad input fails that lead
   without a retry, naming the field.
4. **summarise** runs even when bookings failed and returns (to XCom) which leads were booked and which
   failed, so you can alert or re-queue them.

**Try it without HubSpot**: run the local sandbox (a test double of HubSpot's API, not HubSpot):
`python -m hubspot_scheduler_provider.testing serve` prints the `AIRFLOW_CONN_HUBSPOT_DEFAULT` value to
export. The sample lead on `offline-host` (a sandbox page whose host calendar is disconnected) fails on
purpose, so the summary shows one failure.

**Against HubSpot**: create the `hubspot_default` connection (type *HubSpot*, access token of a private
app with `crm.objects.contacts.write`), and put your meeting page slugs in the CSV.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator

#: The HubSpot connection every task of this DAG uses; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"
LEADS_FILE = Path(__file__).parent / "data" / "new_leads.csv"
BOOKING_TASK_ID = "book_meeting"
log = logging.getLogger(__name__)


def next_working_day_at(now: pendulum.DateTime, local_time: str) -> pendulum.DateTime:
    """``local_time`` ("HH:MM", wall clock in ``now``'s zone) on the first Monday-Friday after today."""
    hour, minute = (int(part) for part in local_time.split(":"))
    day = now.add(days=1)
    while day.day_of_week in (pendulum.SATURDAY, pendulum.SUNDAY):
        day = day.add(days=1)
    return day.at(hour, minute)


with DAG(
    dag_id="hubspot_book_new_leads",
    description="Book a HubSpot meeting for every new lead (mapped BookMeetingOperator)",
    schedule="0 6 * * 1-5",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["hubspot", "example", "scheduled"],
    doc_md=__doc__,
) as dag:

    @task
    def new_leads() -> list[dict[str, str]]:
        with LEADS_FILE.open(newline="", encoding="utf-8") as leads:
            return list(csv.DictReader(leads))

    @task
    def to_booking_payload(lead: dict[str, str], data_interval_end: Any = None) -> dict[str, Any]:
        # From the run's data interval, not the clock: a retried or cleared task computes the same start
        # time, so the booking task's exactly-once check recognises a booking it already made.
        zone = lead["timezone"]
        run_end = pendulum.instance(data_interval_end) if data_interval_end else pendulum.now("UTC")
        start = next_working_day_at(run_end.in_timezone(zone), lead["preferred_local_time"])
        return {
            "slug": lead["slug"],
            "contact_email": lead["email"],
            "first_name": lead["first_name"],
            "last_name": lead["last_name"],
            "start_time": start.isoformat(),
            "duration": int(lead["duration_minutes"]) * 60_000,  # HubSpot counts in milliseconds
            "timezone": zone,
        }

    @task(trigger_rule="all_done")
    def summarise(payloads: list[dict[str, Any]], ti: Any = None) -> dict[str, list[dict[str, Any]]]:
        """Pair each payload with its booking's XCom by map index: a failed booking left none."""
        from hubspot_scheduler_provider.errors import mask_emails

        summary: dict[str, list[dict[str, Any]]] = {"booked": [], "failed": []}
        for map_index, payload in enumerate(payloads):
            answer = ti.xcom_pull(task_ids=BOOKING_TASK_ID, map_indexes=map_index)
            lead = {
                "map_index": map_index,
                "slug": payload["slug"],
                "contact": mask_emails(payload["contact_email"]),
            }
            if answer:
                summary["booked"].append(
                    {**lead, "start": answer.get("start"), "calendarEventId": answer.get("calendarEventId")}
                )
            else:
                summary["failed"].append(lead)
        log.info(
            "Booked %d meeting(s), %d failed: %s",
            len(summary["booked"]),
            len(summary["failed"]),
            summary["failed"],
        )
        return summary

    # [START howto_operator_hubspot_book_meeting_mapped]
    payloads = to_booking_payload.expand(lead=new_leads())
    bookings = BookMeetingOperator.partial(task_id=BOOKING_TASK_ID, hubspot_conn_id=HUBSPOT_CONN_ID).expand(
        payload=payloads
    )
    # [END howto_operator_hubspot_book_meeting_mapped]
    bookings >> summarise(payloads)
