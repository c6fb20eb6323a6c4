"""
### Mark HubSpot meetings as no-shows

After the day's calls, the video-call tool knows who never joined. Trigger this DAG with those meetings'
CRM ids (or wire `meeting_ids` to an upstream task that reads the tool's attendance report):

    airflow dags test hubspot_mark_no_shows -c '{"meeting_ids": ["9001", "9002"]}'

**absent_meetings** gives the ids; **mark_no_show** (`SetMeetingOutcomeOperator`, one mapped task per
meeting) sets each CRM meeting's
`hs_meeting_outcome` to `NO_SHOW`. It is idempotent: a meeting already marked is left alone (no request
beyond the read; the log says so) and its XCom says `"changed": false`, so re-running the DAG is safe.
A no-show meeting still held its slot: for exactly-once booking it counts as booked (see
`hooks.crm.VOID_OUTCOMES`).

It uses the `hubspot_default` connection (HubSpot, or the local sandbox test double started with
`python -m hubspot_scheduler_provider.testing serve`); the token needs `crm.objects.contacts.write`.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from hubspot_scheduler_provider.operators.meeting_outcome import SetMeetingOutcomeOperator

#: The HubSpot connection every task of this DAG uses; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"

with DAG(
    dag_id="hubspot_mark_no_shows",
    description="Set the outcome of HubSpot meetings nobody attended to NO_SHOW",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["hubspot", "example", "meeting-outcomes"],
    doc_md=__doc__,
    params={
        "meeting_ids": Param(
            [],
            type="array",
            items={"type": "string", "pattern": r"^\d+$"},
            title="CRM meeting ids",
            description="The meetings nobody attended.",
        ),
    },
) as dag:

    @task
    def absent_meetings(params: dict) -> list[str]:  # e.g. read the video-call tool's report instead
        return [str(meeting_id) for meeting_id in params["meeting_ids"]]

    # [START howto_operator_hubspot_set_meeting_outcome]
    SetMeetingOutcomeOperator.partial(
        task_id="mark_no_show",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        outcome="NO_SHOW",
        map_index_template="{{ task.meeting_id }}",
    ).expand(meeting_id=absent_meetings())
    # [END howto_operator_hubspot_set_meeting_outcome]
