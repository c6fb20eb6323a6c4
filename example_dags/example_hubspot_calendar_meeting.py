"""
### Put a meeting on a HubSpot user's calendar (no meeting page)

**create_meeting** (`CreateCalendarMeetingOperator`) creates a meeting on the organizer's calendar and
associates it with a CRM contact, e.g. a kickoff call your team arranged by phone. Unlike booking on a
meeting page, HubSpot checks no availability and asks the contact nothing. The task returns HubSpot's
answer: the CRM meeting with its `id`.

HubSpot has no idempotency key: if the answer is lost (timeout), the task fails without retrying rather
than risk a duplicate meeting; check the contact's meetings in HubSpot first.

Trigger it from the UI (the form asks for the meeting) or:

    airflow dags test hubspot_calendar_meeting -c '{"organizer_user_id": "1001", "owner_id": "501",
        "contact_id": "1", "start_time": "2026-12-02T09:00", "timezone": "America/New_York"}'

It uses the `hubspot_default` connection (HubSpot, or the local sandbox test double started with
`python -m hubspot_scheduler_provider.testing serve`).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from hubspot_scheduler_provider.operators.calendar_meeting import CreateCalendarMeetingOperator

#: The HubSpot connection every task of this DAG uses; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"

with DAG(
    dag_id="hubspot_calendar_meeting",
    description="Create a meeting on a HubSpot user's calendar for a contact",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["hubspot", "example", "calendar"],
    doc_md=__doc__,
    params={
        "organizer_user_id": Param(type="string", minLength=1, title="Organizer's HubSpot user ID"),
        "owner_id": Param(type="string", minLength=1, title="Organizer's HubSpot owner ID"),
        "contact_id": Param(type="string", minLength=1, title="CRM contact ID"),
        "title": Param("Kickoff call", type="string", minLength=1, title="Title"),
        "start_time": Param(
            type="string", minLength=1, title="Start", description="ISO 8601, e.g. 2026-12-02T09:00"
        ),
        "duration": Param(30 * 60_000, type="integer", minimum=60_000, title="Duration (ms)"),
        "timezone": Param("UTC", type="string", title="Time zone", description="IANA name of the event."),
    },
) as dag:
    # [START howto_operator_hubspot_create_calendar_meeting]
    CreateCalendarMeetingOperator(
        task_id="create_meeting",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        organizer_user_id="{{ params.organizer_user_id }}",
        owner_id="{{ params.owner_id }}",
        title="{{ params.title }}",
        start_time="{{ params.start_time }}",
        duration="{{ params.duration }}",
        timezone="{{ params.timezone }}",
        contact_ids=["{{ params.contact_id }}"],
        location_type="CUSTOM",
        location="Video call",
        reminders=[{"numberOfTimeUnits": 1, "timeUnit": "DAYS"}],
    )
    # [END howto_operator_hubspot_create_calendar_meeting]
