"""E2 on a real deployment: a booking task cleared from the UI (REST) while its POST is still in flight.

HubSpot (the sandbox) takes 20 s to book; the task is cleared a few seconds into the POST, so Airflow
stops try 1 and starts try 2 while HubSpot is still working on try 1's booking. Try 2 must not race it
(on the round-robin page a second POST would go to the other host): the ledger says a send is in flight,
so it waits for the meeting in HubSpot's CRM and returns it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from hubspot_scheduler_provider.testing import Delay
from tests.compat import not_on_3_0_clear_of_a_running_task

from .conftest import FORM_DAG_ID, MINUTE_MS, first_free_slot_iso

pytestmark = pytest.mark.e2e
TEAM_PAGE = "sales-team/round-robin"
HUBSPOT_SECONDS = 20.0


def _wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@not_on_3_0_clear_of_a_running_task
def test_a_task_cleared_while_its_post_is_in_flight_books_once(rest: Any, sandbox: Any) -> None:
    email = "cleared.in.flight@example.com"
    conf = {
        "contact_email": email,
        "first_name": "Clara",
        "last_name": "Cleared",
        "slug": TEAM_PAGE,
        "start_time": first_free_slot_iso(sandbox, TEAM_PAGE, 30 * MINUTE_MS),
        "duration": 30 * MINUTE_MS,
        "timezone": "Europe/Berlin",
        "form_fields": None,
        "legal_consent_responses": None,
        "dry_run": False,
    }
    sandbox.inject(Delay(HUBSPOT_SECONDS), method="POST", path_contains="/meeting-links/book")
    rest.wait_for_dag(FORM_DAG_ID)
    rest.unpause(FORM_DAG_ID)
    run_id = rest.trigger(FORM_DAG_ID, conf)["dag_run_id"]
    _wait_for(
        lambda: rest.task_instance(FORM_DAG_ID, run_id, "book_meeting")["state"] == "running",
        120,
        "try 1 to run",
    )
    time.sleep(4)  # try 1 is inside its POST now; HubSpot answers after HUBSPOT_SECONDS

    rest._request(
        "POST",
        f"/api/v2/dags/{FORM_DAG_ID}/clearTaskInstances",
        json={"dry_run": False, "dag_run_id": run_id, "task_ids": ["book_meeting"], "only_failed": False},
    )
    run = rest.wait_for_run(FORM_DAG_ID, run_id, timeout=240)

    assert run["state"] == "success"
    ti = rest.task_instance(FORM_DAG_ID, run_id, "book_meeting")
    assert ti["try_number"] >= 2
    booked = [b for b in sandbox.bookings if b["request"]["email"] == email]
    posts = [r for r in sandbox.requests if r.path.endswith("/meeting-links/book") and email in str(r.body)]
    assert (len(booked), len(posts)) == (1, 1)
    answer = rest.xcom(FORM_DAG_ID, run_id, "book_meeting")
    assert answer["reconciled"] is True and answer["start"] == booked[0]["start"]
