"""The deferrable slot sensor on the real Airflow 3 deployment: it waits in the triggerer, not a worker slot.

The test brings its own meeting pages and hosts into the shared sandbox, so the pages and slots the
other e2e tests book stay untouched, and no other test triggers its DAG.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pendulum
import pytest

from hubspot_scheduler_provider.testing import Host, MeetingPage
from tests.compat import not_on_3_0_triggerer
from tests.test_example_dags import sandbox_free_slots

from .browser import wait_for
from .conftest import MINUTE_MS

if TYPE_CHECKING:
    from .airflow_deployment import AirflowDeployment
    from .rest_client import AirflowRestClient

pytestmark = pytest.mark.e2e

SENSOR_DAG_ID = "hubspot_wait_for_slot_then_book"
TRIGGER_CLASSPATH = "hubspot_scheduler_provider.triggers.slot_available.MeetingSlotAvailableTrigger"
TEAM_SLUG = "e2e-sensor-team/round-robin"
COLLEAGUE_SLUG = "e2e-sensor-colleague"
DURATION_MS = 30 * MINUTE_MS
BUSY_HOST = Host("1901", "2901", "busy.host@sandbox.example", "Busy", "Host", "UTC")
COLLEAGUE = Host("1902", "2902", "free.colleague@sandbox.example", "Free", "Colleague", "UTC")
#: Open every day, so the test finds slots whatever weekday it runs on.
ALL_DAY = {weekday: (0, 24 * 60) for weekday in range(7)}
#: Search from 1 h to 25 h after the run starts (the DAG's params).
CONF = {
    "contact_email": "grace.hopper@example.com",
    "first_name": "Grace",
    "last_name": "Hopper",
    "slug": TEAM_SLUG,
    "duration": DURATION_MS,
    "timezone": "UTC",
    "not_before_hours": 1,
    "window_days": 1,
}


def page(slug: str, link_id: str, host: Host, link_type: str) -> MeetingPage:
    return MeetingPage(
        slug=slug,
        link_id=link_id,
        name=f"e2e sensor ({slug})",
        link_type=link_type,
        organizer=host,
        members=(host,) if link_type == "ROUND_ROBIN_CALENDAR" else (),
        timezone="UTC",
        durations_ms=(DURATION_MS,),
        increment_minutes=30,
        hours=ALL_DAY,
    )


def free_slots_until(sandbox: Any, slug: str, until: pendulum.DateTime) -> list[int]:
    return [
        start for start in sandbox_free_slots(sandbox, slug, DURATION_MS) if start < until.timestamp() * 1000
    ]


def availability_reads(sandbox: Any, slug_part: str) -> int:
    return sum(1 for r in sandbox.requests if "availability-page" in r.path and slug_part in r.path)


def scheduler_handled_the_deferral(airflow: AirflowDeployment) -> bool:
    """Whether the scheduler has processed the executor's event for the deferring try (its process ended).

    Airflow's LocalExecutor race: if the trigger fires before the scheduler handles that event, the task
    is queued again when the event arrives, and the scheduler fails it ("finished with state success, but
    the task instance's state attribute is queued"). A busy machine makes that gap seconds long, so the
    test frees the slot only after the event was handled, as a real page would be freed much later."""
    wanted = f"executor event with state success for task instance TaskInstanceKey(dag_id='{SENSOR_DAG_ID}', "
    return wanted + "task_id='wait_for_slot'" in (airflow.home / "scheduler.log").read_text(errors="replace")


@not_on_3_0_triggerer
def test_deferred_sensor_uses_no_worker_slot_then_books_the_freed_slot_once(
    rest: AirflowRestClient, sandbox: Any, airflow: AirflowDeployment
) -> None:
    now = pendulum.now("UTC")
    freed_slot = now.add(hours=3).start_of("hour")
    busy_until = now.add(days=3)  # past the searched window
    # A colleague, busy except for one slot; the team page's only host, busy all along.
    sandbox.add_page(page(COLLEAGUE_SLUG, "3902", COLLEAGUE, "PERSONAL_LINK"))
    sandbox.add_busy_time(COLLEAGUE_SLUG, now, freed_slot)
    sandbox.add_busy_time(COLLEAGUE_SLUG, freed_slot.add(minutes=30), busy_until)
    team = page(TEAM_SLUG, "3901", BUSY_HOST, "ROUND_ROBIN_CALENDAR")
    sandbox.add_page(team)
    sandbox.add_busy_time(TEAM_SLUG, now, busy_until)
    assert free_slots_until(sandbox, TEAM_SLUG, busy_until) == []

    rest.wait_for_dag(SENSOR_DAG_ID)
    rest.unpause(SENSOR_DAG_ID)
    run_id = rest.trigger(SENSOR_DAG_ID, CONF)["dag_run_id"]

    def sensor_deferred() -> dict[str, Any] | None:
        sensor = rest.task_instance(SENSOR_DAG_ID, run_id, "wait_for_slot")
        return sensor if sensor["state"] == "deferred" and sensor["trigger"] else None

    sensor = wait_for(sensor_deferred, "the sensor to defer", timeout=120)
    reads_when_deferred = availability_reads(sandbox, "e2e-sensor-team")
    wait_for(
        lambda: availability_reads(sandbox, "e2e-sensor-team") > reads_when_deferred,
        "the triggerer to poll the page",
        timeout=60,
    )

    # While the triggerer polls, the task holds no worker (pool) slot.
    pool = rest.get("/pools/default_pool")
    assert (pool["running_slots"], pool["occupied_slots"], pool["deferred_slots"]) == (0, 0, 1), pool
    assert pool["open_slots"] == pool["slots"]
    assert rest.task_instance(SENSOR_DAG_ID, run_id, "wait_for_slot")["state"] == "deferred"
    assert sensor["trigger"]["classpath"] == TRIGGER_CLASSPATH

    wait_for(
        lambda: scheduler_handled_the_deferral(airflow), "the scheduler to handle the deferral", timeout=60
    )
    # The colleague joins the round robin: exactly one slot in the window becomes free.
    sandbox.add_page(replace(team, members=(BUSY_HOST, COLLEAGUE)))
    assert free_slots_until(sandbox, TEAM_SLUG, busy_until) == [int(freed_slot.timestamp() * 1000)]

    run = rest.wait_for_run(SENSOR_DAG_ID, run_id, timeout=120)

    assert run["state"] == "success", rest.task_log(SENSOR_DAG_ID, run_id, "wait_for_slot")
    slot = rest.xcom(SENSOR_DAG_ID, run_id, "wait_for_slot")
    assert pendulum.parse(slot) == freed_slot
    [booking] = [b for b in sandbox.bookings if b["slug"] == TEAM_SLUG]
    assert pendulum.parse(booking["request"]["startTime"]) == freed_slot
    assert booking["request"]["email"] == CONF["contact_email"]
    assert booking["hostUserId"] == COLLEAGUE.user_id
    assert rest.xcom(SENSOR_DAG_ID, run_id, "book_meeting")["calendarEventId"] == booking["calendarEventId"]
