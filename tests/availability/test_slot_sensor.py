"""``MeetingSlotAvailableSensor``: poke mode, deferral, resumption, and whole DAG runs with ``dag.test()``."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import (
    DAG,
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    TaskDeferred,
)
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.sensors.slot_available import MeetingSlotAvailableSensor
from hubspot_scheduler_provider.triggers.slot_available import MeetingSlotAvailableTrigger
from tests.operators.conftest import run_dag, task_instance, xcom_value

from .conftest import TOKEN, availability_reads

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")
#: Alice's March slots must end by then; with March filled, the window has none until the page frees up.
MARCH_END = "2026-03-31T17:00:00"


def make_sensor(**kwargs: Any) -> MeetingSlotAvailableSensor:
    arguments: dict[str, Any] = {
        "task_id": "wait_for_slot",
        "slug": "alice-smith",
        "duration": "PT30M",
        "timezone": "America/New_York",
        "latest": MARCH_END,
        "poke_interval": 0.05,
        "timeout": 30,
        **kwargs,
    }
    return MeetingSlotAvailableSensor(**arguments)


def test_poke_returns_the_first_free_slot(sandbox):
    slot = make_sensor(earliest="2026-03-03T11:00").execute({})

    assert slot == "2026-03-03T11:00:00-05:00"


def test_poke_mode_times_out_on_a_full_page(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")

    with pytest.raises(AirflowSensorTimeout):
        make_sensor(timeout=0.2).execute({})
    assert len(availability_reads(sandbox)) >= 2


def test_deferrable_returns_at_once_when_a_slot_is_free(sandbox):
    assert make_sensor(deferrable=True).execute({}) == "2026-03-02T09:00:00-05:00"


def test_deferrable_defers_to_the_trigger_when_no_slot_is_free(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")
    sensor = make_sensor(deferrable=True, earliest="2026-03-03T09:00", poke_interval=20, timeout=600)
    before = datetime.now(timezone.utc)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})

    assert deferred.value.method_name == "execute_complete"
    trigger = deferred.value.trigger
    assert isinstance(trigger, MeetingSlotAvailableTrigger)
    _classpath, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs and TOKEN not in json.dumps(kwargs)
    deadline = datetime.fromisoformat(kwargs.pop("deadline"))
    assert before + timedelta(seconds=600) <= deadline <= datetime.now(timezone.utc) + timedelta(seconds=600)
    assert kwargs == {
        "slug": "alice-smith",
        "duration_ms": 1_800_000,
        "timezone": "America/New_York",
        "earliest": "2026-03-03T09:00:00-05:00",
        "latest": "2026-03-31T17:00:00-04:00",
        "hubspot_conn_id": "hubspot_default",
        "poll_interval": 20.0,
        "api_version": None,
    }


class TryOfTaskInstance:
    """What the sensor reads of the task instance: when this try started (a real one needs a DB run)."""

    def __init__(self, start_date: datetime) -> None:
        self.start_date = start_date


def test_the_timeout_counts_from_the_try_start_and_bounds_the_deferral(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")
    try_started = datetime.now(timezone.utc) - timedelta(seconds=200)
    sensor = make_sensor(deferrable=True, timeout=600)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"ti": TryOfTaskInstance(try_started)})  # type: ignore[typeddict-item]

    deadline = datetime.fromisoformat(deferred.value.trigger.serialize()[1]["deadline"])
    assert deadline == try_started + timedelta(seconds=600)  # not 600 s from the deferral
    # Airflow's deferral timeout is the backstop should the triggerer never fire: the same deadline.
    timeout = deferred.value.timeout
    assert isinstance(timeout, timedelta)
    assert timedelta(seconds=390) <= timeout <= timedelta(seconds=400)


def test_a_retry_gets_a_fresh_timeout_like_airflows_own_sensors(sandbox):
    # Airflow's sensors restart ``timeout`` on a retry (poke mode times each execute; Airflow 3 deletes the
    # retried try's reschedule records): the deadline comes from the current try, not the first one.
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")
    first_try_started = datetime.now(timezone.utc) - timedelta(seconds=700)  # its 600 s are long gone
    retry_started = first_try_started + timedelta(seconds=690)
    sensor = make_sensor(deferrable=True, timeout=600, retries=1)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"ti": TryOfTaskInstance(retry_started)})  # type: ignore[typeddict-item]

    deadline = datetime.fromisoformat(deferred.value.trigger.serialize()[1]["deadline"])
    assert deadline == retry_started + timedelta(seconds=600)


def _deferral_timeout_error() -> str:
    """What the scheduler resumes a task with once its deferral timed out (``check_trigger_timeouts``)."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.trigger import TriggerFailureReason

        return TriggerFailureReason.TRIGGER_TIMEOUT
    return "Trigger/execution timeout"


def test_airflows_deferral_timeout_fails_the_sensor_without_retry():
    # The backstop for a triggerer that missed the deadline ends like the trigger's own timeout event:
    # AirflowSensorTimeout, which Airflow fails without retries (Airflow 2 would otherwise retry).
    sensor = make_sensor(deferrable=True, retries=3)

    with pytest.raises(AirflowSensorTimeout):
        sensor.resume_execution("__fail__", {"error": _deferral_timeout_error()}, {})  # type: ignore[arg-type]
    with pytest.raises(AirflowException) as failed:
        sensor.resume_execution("__fail__", {"error": "Trigger failure"}, {})  # type: ignore[arg-type]
    assert not isinstance(failed.value, AirflowSensorTimeout)  # other trigger failures keep their retries


def test_a_try_already_past_its_timeout_fails_without_deferring(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")
    try_started = datetime.now(timezone.utc) - timedelta(seconds=60)

    with pytest.raises(AirflowSensorTimeout, match="within 30 s"):
        make_sensor(deferrable=True, timeout=30).execute({"ti": TryOfTaskInstance(try_started)})  # type: ignore[typeddict-item]


@pytest.mark.parametrize("deferrable", [False, True])
def test_the_hooks_connections_are_closed_when_execute_ends(sandbox, deferrable):
    sensor = make_sensor(deferrable=deferrable, earliest="2026-03-03T11:00")
    hook = sensor.hook
    pools = hook.transport.session.adapters["http://"].poolmanager.pools

    assert sensor.execute({}) == "2026-03-03T11:00:00-05:00"

    assert availability_reads(sandbox) and len(pools) == 0  # pooled connections were open, now closed
    assert sensor.hook is not hook  # a later execute (retry) gets a fresh session


def test_execute_complete_turns_events_into_results():
    sensor = make_sensor(deferrable=True)

    assert sensor.execute_complete({}, {"status": "success", "slot": "2026-03-02T09:00:00-05:00"}) == (
        "2026-03-02T09:00:00-05:00"
    )
    with pytest.raises(AirflowSensorTimeout, match=r"^No free slot, said the trigger$"):
        sensor.execute_complete({}, {"status": "timeout", "message": "No free slot, said the trigger"})
    with pytest.raises(AirflowFailException, match=r"^duration: bad$"):
        sensor.execute_complete({}, {"status": "error", "message": "duration: bad", "retryable": False})
    with pytest.raises(AirflowException, match="failed: HTTP 404"):
        sensor.execute_complete({}, {"status": "error", "message": "HTTP 404", "retryable": True})


def test_bad_input_fails_before_any_request(sandbox):
    from hubspot_scheduler_provider.errors import BookingInputError

    with pytest.raises(BookingInputError, match=r"^duration: "):
        make_sensor(duration="half an hour", deferrable=True).execute({})
    assert sandbox.requests == []


# --- whole DAG runs -----------------------------------------------------------------------------


def _task_instance_row(dag_id: str, task_id: str) -> dict[str, Any] | None:
    """The task's row in the metadata DB, read the way the scheduler and UI see it."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy.exc import OperationalError

    try:
        with create_session() as session:
            ti = session.query(TaskInstance).filter_by(dag_id=dag_id, task_id=task_id).one_or_none()
            if ti is None:
                return None
            trigger = session.get(Trigger, ti.trigger_id) if ti.trigger_id is not None else None
            return {
                "state": str(ti.state),
                "next_method": ti.next_method,
                "trigger": trigger.classpath if trigger is not None else None,
            }
    except OperationalError:  # SQLite busy with dag.test's own write: look again next time
        return None


class FreeThePageWhileTheTriggerPolls(threading.Thread):
    """Watch the trigger poll a full page (recording what the metadata DB says about the sensor task
    meanwhile), then clear the page so the trigger can fire: the slot appears only after that."""

    def __init__(self, sandbox: Any, dag_id: str, reads_before_freeing: int = 8) -> None:
        super().__init__(daemon=True)
        self.sandbox, self.dag_id, self.reads_before_freeing = sandbox, dag_id, reads_before_freeing
        self.rows_while_waiting: list[dict[str, Any]] = []

    def run(self) -> None:
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up:
            row = _task_instance_row(self.dag_id, "wait_for_slot")
            if row is not None and row["next_method"] == "execute_complete":
                self.rows_while_waiting.append(row)
            if len(availability_reads(self.sandbox)) >= self.reads_before_freeing:
                self.sandbox.reset()
                return
            time.sleep(0.02)


@pytest.mark.usefixtures("airflow_db")
def test_deferred_sensor_feeds_the_booking_under_dag_test(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")
    with DAG("slot_sensor_deferrable", schedule=None, start_date=START_DATE, catchup=False) as dag:
        wait = make_sensor(deferrable=True, poke_interval=0.1, timeout=60)
        BookMeetingOperator(
            task_id="book",
            slug="alice-smith",
            contact_email="jane.doe@example.com",
            first_name="Jane",
            last_name="Doe",
            duration="PT30M",
            timezone="America/New_York",
            start_time=wait.output,
        )
    observer = FreeThePageWhileTheTriggerPolls(sandbox, dag.dag_id)
    observer.start()

    dag_run = run_dag(dag)
    observer.join(timeout=5)

    assert dag_run.state == "success"
    if AIRFLOW_V_3_0_PLUS:
        # While the trigger polled, the task was not running: the metadata DB names our trigger as the one
        # it waits for, to resume in execute_complete ("deferred" on a deployment; dag.test marks it
        # queued while it runs the trigger inline). Airflow 2's dag.test records no deferral in the DB;
        # there test_deferrable_defers_to_the_trigger_when_no_slot_is_free shows execute hands over.
        assert observer.rows_while_waiting
        assert {row["trigger"] for row in observer.rows_while_waiting} == {
            "hubspot_scheduler_provider.triggers.slot_available.MeetingSlotAvailableTrigger"
        }
        assert {row["state"] for row in observer.rows_while_waiting} <= {"deferred", "queued"}
    slot = xcom_value(dag_run, "wait_for_slot")
    assert slot == "2026-03-02T09:00:00-05:00"
    assert [b["start"] for b in sandbox.bookings] == ["2026-03-02T14:00:00Z"]
    assert task_instance(dag_run, "book").state == "success"


@pytest.mark.usefixtures("airflow_db")
def test_deferred_sensor_times_out_under_dag_test(sandbox):
    sandbox.fill("alice-smith", month_offset=0, timezone="America/New_York")
    with DAG("slot_sensor_timeout", schedule=None, start_date=START_DATE, catchup=False) as dag:
        make_sensor(deferrable=True, poke_interval=0.1, timeout=0.5, retries=2, retry_delay=0)

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    sensor_ti = task_instance(dag_run, "wait_for_slot")
    # A sensor timeout is final: one try, the two retries unused.
    assert (sensor_ti.state, sensor_ti.try_number) == ("failed", 1)
    assert sandbox.bookings == []
