"""A booking's asset event on the real Airflow 3 deployment: ``hubspot_book_and_announce`` books a
meeting with the booking asset in its ``outlets``; the event starts ``hubspot_follow_up_booking``
(scheduled on that asset), whose triggering event carries the ``calendarEventId`` and no email."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pendulum
import pytest

from .browser import wait_for
from .conftest import MINUTE_MS

if TYPE_CHECKING:
    from .rest_client import AirflowRestClient

pytestmark = pytest.mark.e2e

BOOKING_DAG_ID = "hubspot_book_and_announce"
FOLLOW_UP_DAG_ID = "hubspot_follow_up_booking"
EMAIL = "ada.asset-event@example.com"


def test_a_bookings_asset_event_starts_the_follow_up_dag_with_the_calendar_event_and_no_email(
    rest: AirflowRestClient, sandbox: Any
) -> None:
    from tests.test_example_dags import sandbox_free_slots

    # A slot far from the ones other tests take first on the same page.
    not_before = (time.time() + 3 * 86_400) * 1000
    start = next(
        s for s in sandbox_free_slots(sandbox, "alice-smith", 30 * MINUTE_MS, months=2) if s > not_before
    )
    for dag_id in (BOOKING_DAG_ID, FOLLOW_UP_DAG_ID):
        rest.wait_for_dag(dag_id)
        rest.unpause(dag_id)
    conf = {
        "contact_email": EMAIL,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "start_time": pendulum.from_timestamp(start / 1000, tz="UTC").to_iso8601_string(),
    }
    booking_run = rest.wait_for_run(BOOKING_DAG_ID, rest.trigger(BOOKING_DAG_ID, conf)["dag_run_id"])
    assert booking_run["state"] == "success", rest.task_log(BOOKING_DAG_ID, booking_run["dag_run_id"], "book")
    [booking] = [b for b in sandbox.bookings if b["request"]["email"] == EMAIL]

    def follow_up_runs() -> list[dict[str, Any]]:
        return list(rest.get(f"/dags/{FOLLOW_UP_DAG_ID}/dagRuns")["dag_runs"])

    [run] = wait_for(follow_up_runs, "the follow-up DAG to be triggered by the asset event", timeout=120)
    run = rest.wait_for_run(FOLLOW_UP_DAG_ID, run["dag_run_id"])
    [event] = rest.get(f"/dags/{FOLLOW_UP_DAG_ID}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")[
        "asset_events"
    ]

    assert run["run_type"] == "asset_triggered"
    assert event["source_dag_id"] == BOOKING_DAG_ID and event["source_task_id"] == "book"
    assert event["extra"]["calendarEventId"] == booking["calendarEventId"]
    assert event["extra"]["contactId"] == booking["contactId"]
    assert event["extra"]["reconciled"] is False
    assert "@" not in json.dumps(event["extra"]) and EMAIL not in json.dumps(event)
    # The follow-up read the CRM meeting the event points at (by its calendarEventId).
    assert run["state"] == "success", rest.task_log(FOLLOW_UP_DAG_ID, run["dag_run_id"], "read_meeting")
    meeting = rest.xcom(FOLLOW_UP_DAG_ID, run["dag_run_id"], "read_meeting", map_index=0)
    assert meeting["meeting_id"] == booking["crmMeetingId"]
