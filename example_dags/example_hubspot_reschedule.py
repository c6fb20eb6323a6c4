"""
### Reschedule a HubSpot meeting: cancel it, then book the new time

HubSpot's Scheduler API has no reschedule (nor cancel) endpoint. A reschedule is two steps:

1. **cancel** (`SetMeetingOutcomeOperator`) sets the old meeting's CRM outcome to `CANCELED`, found by
   the booking's `calendarEventId` (what the booking task returned). HubSpot frees the host's time.
   Idempotent: a re-run finds it cancelled already and sends nothing.
2. **book** (`BookMeetingOperator`) books the lead at the new time, exactly once.

Why the new booking is not taken for "already booked": exactly-once booking asks "is THIS booking in
HubSpot?". A meeting whose outcome is `CANCELED` or `RESCHEDULED` (`hooks.crm.VOID_OUTCOMES`) no longer
stands, so a first try never counts it as this booking (see the Guarantees page). The new booking is
also a new ledger entry (another task, another start), and its `booking_key` is new: a cancelled
booking's key stays used ("at most once" means at most once), so the key names the meeting it replaces
and the new start. A re-run of this DAG therefore cancels nothing twice and books the new time once.

Cancel first, as here, when the new time overlaps the old one on a personal page (the host must be free);
if the booking then fails, the lead has no meeting until the **book** task succeeds on a retry. To keep
the old meeting until the new one exists, swap the two tasks.

    airflow dags test hubspot_reschedule_meeting -c '{"calendar_event_id": "sandbox-event-1",
        "contact_email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe",
        "slug": "alice-smith", "start_time": "2026-12-03T15:00:00Z", "duration": 1800000}'

It uses the `hubspot_default` connection (HubSpot, or the local sandbox test double started with
`python -m hubspot_scheduler_provider.testing serve`).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.operators.meeting_outcome import SetMeetingOutcomeOperator

#: The HubSpot connection every task of this DAG uses; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"

with DAG(
    dag_id="hubspot_reschedule_meeting",
    description="Reschedule a HubSpot meeting: cancel it and book the new time",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["hubspot", "example", "meeting-outcomes"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    params={
        "calendar_event_id": Param(type="string", minLength=1, title="calendarEventId of the booking"),
        "contact_email": Param(type="string", format="email", title="Booker's email"),
        "first_name": Param(type="string", minLength=1, title="First name"),
        "last_name": Param(type="string", minLength=1, title="Last name"),
        "slug": Param("alice-smith", type="string", minLength=1, title="Meeting page slug"),
        "start_time": Param(type="string", format="date-time", title="New start time"),
        "duration": Param(30 * 60_000, type="integer", title="Duration (ms)"),
    },
) as dag:
    # [START howto_hubspot_reschedule]
    cancel = SetMeetingOutcomeOperator(
        task_id="cancel",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        calendar_event_id="{{ params.calendar_event_id }}",
        outcome="CANCELED",
    )
    book = BookMeetingOperator(
        task_id="book",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        slug="{{ params.slug }}",
        contact_email="{{ params.contact_email }}",
        first_name="{{ params.first_name }}",
        last_name="{{ params.last_name }}",
        start_time="{{ params.start_time }}",
        duration="{{ params.duration }}",
        # New key per replaced meeting and new time: a re-run books it once.
        booking_key="reschedule-{{ params.calendar_event_id }}-{{ params.start_time }}",
    )
    cancel >> book
    # [END howto_hubspot_reschedule]
