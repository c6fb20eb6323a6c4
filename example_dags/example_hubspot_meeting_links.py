"""
### Find HubSpot meeting pages and their next free slot

1. **list_pages** (`ListMeetingLinksOperator`) lists the account's meeting pages, filtered by name, type
   or organizer, and returns them (HubSpot's fields: `slug`, `name`, `type`, `organizerUserId`, ...).
2. **next_free_slot** runs once per page (dynamic task mapping): a TaskFlow task asks the hook for the
   page's first free slot of the chosen duration (`HubSpotSchedulerHook.next_available_slot`).
3. **report** logs one line per page: where and when the next meeting could be booked.

Trigger it from the UI or:

    airflow dags test hubspot_meeting_pages_overview -c '{"link_type": "ROUND_ROBIN_CALENDAR"}'

It uses the `hubspot_default` connection (HubSpot, or the local sandbox test double started with
`python -m hubspot_scheduler_provider.testing serve`).
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from hubspot_scheduler_provider.operators.meeting_links import ListMeetingLinksOperator

#: The HubSpot connection every task of this DAG uses; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"
LINK_TYPES = ["", "PERSONAL_LINK", "ROUND_ROBIN_CALENDAR", "GROUP_CALENDAR"]

with DAG(
    dag_id="hubspot_meeting_pages_overview",
    description="List HubSpot meeting pages and the next free slot of each",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["hubspot", "example", "availability", "meeting-links"],
    doc_md=__doc__,
    params={
        "name": Param("", type="string", title="Name contains", description="Empty: any name."),
        "link_type": Param(
            "",
            type="string",
            enum=LINK_TYPES,
            values_display={"": "any type"},
            title="Page type",
        ),
        "organizer_user_id": Param(
            "", type="string", title="Organizer's HubSpot user ID", description="Empty: any organizer."
        ),
        "duration": Param(30 * 60_000, type="integer", minimum=60_000, title="Duration (ms)"),
        "timezone": Param("UTC", type="string", title="Time zone", description="IANA name for the report."),
    },
) as dag:
    # [START howto_operator_hubspot_list_meeting_links]
    pages = ListMeetingLinksOperator(
        task_id="list_pages",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        name="{{ params.name }}",
        link_type="{{ params.link_type }}",
        organizer_user_id="{{ params.organizer_user_id }}",
    )
    # [END howto_operator_hubspot_list_meeting_links]

    @task
    def slugs(links: list[dict[str, Any]]) -> list[str]:
        return [link["slug"] for link in links]

    # One XCom per page (not one per key, which a dict return type implies): Airflow 3.0.6 cannot store
    # a key whose value is None ("slot" of a page without a free slot).
    @task(map_index_template="{{ task.op_kwargs['slug'] }}", multiple_outputs=False)
    def next_free_slot(slug: str, params: dict[str, Any]) -> dict[str, Any]:
        from hubspot_scheduler_provider.errors import BookingInputError
        from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

        hook = HubSpotSchedulerHook(hubspot_conn_id=HUBSPOT_CONN_ID)
        try:
            slot = hook.next_available_slot(slug, params["duration"], params["timezone"])
        except BookingInputError as error:  # e.g. the page does not offer this duration
            return {"slug": slug, "slot": None, "note": str(error)}
        finally:
            hook.close()
        if slot is None:
            return {"slug": slug, "slot": None, "note": "fully booked"}
        return {"slug": slug, "slot": slot.isoformat(), "note": ""}

    @task
    def report(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        log = logging.getLogger("airflow.task")
        for result in results:
            log.info("%-30s %s %s", result["slug"], result["slot"] or "-", result["note"])
        return list(results)

    report(next_free_slot.partial().expand(slug=slugs(pages.output)))
