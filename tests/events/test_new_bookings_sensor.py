"""``NewBookingsSensor`` in real DAG runs (``dag.test()``) against the sandbox: it returns the meetings
booked since ``created_after``, deferring to ``NewBookingsTrigger`` (run inline by ``dag.test()``) when
there are none yet, or poking."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG

from hubspot_scheduler_provider.sensors.new_bookings import NewBookingsSensor
from tests.events.conftest import book, free_starts
from tests.operators.conftest import run_dag, xcom_value

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")


def sensor_dag(dag_id: str, **kwargs: Any) -> DAG:
    kwargs.setdefault("link_ids", ["3001"])
    with DAG(dag_id, schedule=None, start_date=START_DATE, catchup=False) as dag:
        NewBookingsSensor(task_id="wait", poke_interval=0.5, timeout=60, **kwargs)
    return dag


def since_now() -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()


@pytest.mark.parametrize(
    ("deferrable", "watch"),
    [(True, {"link_ids": ["3001"]}), (False, {"link_ids": [], "slugs": ["alice-smith"]})],
    ids=["deferrable-by-link-id", "poke-by-slug"],
)
def test_returns_meetings_already_booked(live_sandbox: Any, deferrable: bool, watch: dict[str, Any]) -> None:
    created_after = since_now()
    booked = book(live_sandbox, free_starts(live_sandbox, "alice-smith", 2))
    dag_run = run_dag(
        sensor_dag(
            f"new_bookings_now_{deferrable}", created_after=created_after, deferrable=deferrable, **watch
        )
    )

    assert dag_run.state == "success"
    assert [m["meeting_id"] for m in xcom_value(dag_run, "wait")] == booked


def test_defers_until_a_lead_books(live_sandbox: Any) -> None:
    created_after = since_now()
    [start] = free_starts(live_sandbox, "alice-smith", 1)
    booked: list[str] = []

    def lead_books_later() -> None:
        time.sleep(2)
        booked.extend(book(live_sandbox, [start]))

    lead = threading.Thread(target=lead_books_later)
    lead.start()
    try:
        dag_run = run_dag(sensor_dag("new_bookings_deferred", created_after=created_after))
    finally:
        lead.join()

    assert dag_run.state == "success"
    [meeting] = xcom_value(dag_run, "wait")
    assert meeting["meeting_id"] == booked[0]
    assert meeting["link_id"] == "3001" and meeting["contact_id"]
