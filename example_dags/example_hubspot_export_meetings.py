"""
### Load yesterday's HubSpot meetings

Every day, **export** (`ExportMeetingsOperator`) writes the meetings booked through HubSpot meeting
pages during the run's data interval (yesterday, for a daily run) as JSON Lines, one flat row per
meeting (`meeting_id`, `created_at`, `start`, `end`, `duration_ms`, `outcome`, `owner_id`, `contact_id`,
`link_id`), to `file:///tmp/hubspot-exports/<ds>.jsonl`. Any object store works the same way
(`s3://bucket/hubspot/{{ ds }}.jsonl` with an AWS connection as `destination_conn_id`): rows are streamed
to the file page by page, never held in memory or XCom. XCom gets a summary: `path`, `rows`,
`created_after`, `created_before`.

**load** stands for the warehouse load (`COPY INTO ... FROM @stage/<ds>.jsonl`, a
`SQLExecuteQueryOperator`, ...): it reads the file back and logs per-outcome counts.

A re-run or backfill of a day rewrites that day's file from HubSpot, so loads stay idempotent. Try it:

    airflow dags test hubspot_load_yesterdays_meetings 2026-12-02

It uses the `hubspot_default` connection (HubSpot, or the local sandbox test double started with
`python -m hubspot_scheduler_provider.testing serve`); the token needs `crm.objects.contacts.read`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, ObjectStoragePath, task
from airflow.timetables.interval import CronDataIntervalTimetable

from hubspot_scheduler_provider.operators.export_meetings import ExportMeetingsOperator

#: The HubSpot connection every task of this DAG uses; change it here only.
HUBSPOT_CONN_ID = "hubspot_default"
#: Where the daily files go (an object storage URL; templated).
EXPORT_PATH = "file:///tmp/hubspot-exports/{{ ds }}.jsonl"

with DAG(
    dag_id="hubspot_load_yesterdays_meetings",
    description="Export each day's HubSpot meeting bookings as JSON Lines and load them",
    # Daily at midnight UTC, each run's data interval the day before (Airflow 3's "@daily" runs have
    # no interval; the export would then cover the time since the last successful run).
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["hubspot", "example", "export"],
    doc_md=__doc__,
) as dag:
    # [START howto_operator_hubspot_export_meetings]
    export = ExportMeetingsOperator(
        task_id="export",
        hubspot_conn_id=HUBSPOT_CONN_ID,
        destination=EXPORT_PATH,
    )
    # [END howto_operator_hubspot_export_meetings]

    @task
    def load(summary: dict[str, Any]) -> dict[str, int]:
        outcomes: Counter[str] = Counter()
        with ObjectStoragePath(summary["path"]).open("r", encoding="utf-8") as rows:
            for line in rows:
                outcomes[json.loads(line)["outcome"] or "-"] += 1
        logging.getLogger("airflow.task").info(
            "Loaded %d meeting(s) created in [%s, %s): %s",
            summary["rows"],
            summary["created_after"],
            summary["created_before"],
            dict(outcomes),
        )
        return dict(outcomes)

    load(export.output)
