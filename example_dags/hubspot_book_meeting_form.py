"""
### Book one HubSpot meeting from the trigger form

Click **Trigger** on this DAG: the form asks for the booker (email, first and last name), the meeting page
slug, the start time (date-time picker), the duration (the page's durations), the time zone, and
optionally answers to the page's own questions and consent checkboxes. Tick **Dry run** to validate the
booking and see the exact request in the task's XCom without booking anything.

The single task, **book_meeting** (`BookMeetingOperator`), checks every field before sending anything and
fails without retry, naming the field, on bad input. Its XCom `return_value` is HubSpot's answer
(`calendarEventId`, `contactId`, `start`, `end`, ...); the task has the extra links *HubSpot contact* and
*Web conference*.

The same run from the command line or the REST API (`conf` is what the form sends):

    airflow dags test hubspot_book_meeting_form -c '{"contact_email": "jane.doe@example.com",
        "first_name": "Jane", "last_name": "Doe", "slug": "alice-smith",
        "start_time": "2026-12-02T14:00:00Z", "duration": 1800000}'

The duration choices are the seeded sandbox pages' (30 and 60 minutes); make `DURATIONS` your page's.
The sandbox (`python -m hubspot_scheduler_provider.testing serve`, a test double of HubSpot's API) also
has `sales-team/round-robin` and `demo-with-form` (15/30 minutes; needs the form field `company` and the
consent `[{"communicationTypeId": "4711", "consented": true}]`).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator

#: The HubSpot connection this DAG books through; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"
#: Durations (milliseconds, HubSpot's unit) offered in the form: the meeting page's own durations.
DURATIONS = {15 * 60_000: "15 minutes", 30 * 60_000: "30 minutes", 60 * 60_000: "60 minutes"}
#: What the seeded sandbox pages are called; any slug of your portal works.
EXAMPLE_SLUGS = ["alice-smith", "sales-team/round-robin", "demo-with-form"]

with DAG(
    dag_id="hubspot_book_meeting_form",
    description="Book one HubSpot meeting from the trigger form (Params)",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["hubspot", "example", "ui-triggered"],
    doc_md=__doc__,
    # Params keep their types in the operator's fields (dry_run a bool, duration an int, optional
    # fields None) instead of being rendered to text.
    render_template_as_native_obj=True,
    params={
        "contact_email": Param(
            type="string",
            format="email",
            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$",
            title="Booker's email",
            description="HubSpot finds or creates the contact with this address.",
        ),
        "first_name": Param(type="string", minLength=1, title="First name"),
        "last_name": Param(type="string", minLength=1, title="Last name"),
        "slug": Param(
            "alice-smith",
            type="string",
            minLength=1,
            examples=EXAMPLE_SLUGS,
            title="Meeting page slug",
            description="The part after /meetings/ in the page's link; team pages look like team/page.",
        ),
        "start_time": Param(
            type="string",
            format="date-time",
            title="Start time",
            description="A free slot of the page. Without a UTC offset, read in the time zone below.",
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
            examples=["UTC", "America/New_York", "Europe/Berlin", "Europe/London", "Asia/Tokyo"],
            title="Time zone",
            description="IANA name; HubSpot writes the confirmation in it.",
        ),
        "form_fields": Param(
            None,
            type=["null", "object"],
            title="Answers to the page's questions (optional)",
            description='Question name to answer, e.g. {"company": "Acme"}.',
        ),
        "legal_consent_responses": Param(
            None,
            type=["null", "array"],
            items={"type": "object"},
            title="Consent checkboxes (optional)",
            description='e.g. [{"communicationTypeId": "4711", "consented": true}]',
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Validate and show the request in XCom; book nothing.",
        ),
    },
) as dag:
    # [START howto_operator_hubspot_book_meeting]
    BookMeetingOperator(
        task_id="book_meeting",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        contact_email="{{ params.contact_email }}",
        first_name="{{ params.first_name }}",
        last_name="{{ params.last_name }}",
        slug="{{ params.slug }}",
        start_time="{{ params.start_time }}",
        duration="{{ params.duration }}",
        timezone="{{ params.timezone }}",
        form_fields="{{ params.form_fields }}",
        legal_consent_responses="{{ params.legal_consent_responses }}",
        validate_only="{{ params.dry_run }}",
    )
    # [END howto_operator_hubspot_book_meeting]
