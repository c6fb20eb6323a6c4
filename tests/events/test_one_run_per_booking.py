"""``NewBookingsToPartitionsOperator``, run for real (Airflow 3.3, SQLite), fed by the real chain:
visitor bookings in the sandbox, ``NewBookingsTrigger``'s events handed to Airflow's
``Trigger.submit_event`` (what the triggerer calls), the scheduler's own run creation
(``SchedulerJobRunner._create_dagruns_for_dags``) for the watching DAG and for the partitioned DAG.

``dag.test()`` cannot start an asset-triggered run (it makes a manual one, with no triggering events),
so the relay's run is the one the scheduler makes, and its task runs in process as ``dag.test()`` runs
tasks (``tests.compat.run_task_in_process``).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG, AirflowOptionalProviderFeatureException, task
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_3_PLUS

from hubspot_scheduler_provider.asset_events import crm_meeting_partitions_asset, crm_meetings_asset
from hubspot_scheduler_provider.operators.one_run_per_booking import NewBookingsToPartitionsOperator
from hubspot_scheduler_provider.triggers import new_bookings
from tests.compat import dagbag_class, write_serialized_dags
from tests.events.conftest import book, free_starts, stored_asset_events
from tests.events.test_new_bookings_trigger import ALICE_LINK, make_trigger, run_until
from tests.operators.conftest import SANDBOX_PORTAL_ID

requires_partitions = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS, reason="add_partitions (one asset event per partition key) is Airflow 3.3+'s"
)
START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")


@pytest.fixture(autouse=True)
def _quick_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(new_bookings, "COMMIT_DELAY_SECONDS", 0.1)


def relay_and_consumer(name: str) -> tuple[Any, Any, Any, Any]:
    """A watching DAG (relay) and a per-meeting DAG (``PartitionedAssetTimetable``), written to the DB
    as the DAG processor writes them (the watcher's trigger row included), both unpaused."""
    from airflow.sdk import AssetWatcher, PartitionedAssetTimetable

    watched = crm_meetings_asset(
        SANDBOX_PORTAL_ID,
        name,
        watchers=[AssetWatcher(name=f"watch_{name}", trigger=make_trigger(created_after=None))],
    )
    partitions = crm_meeting_partitions_asset(SANDBOX_PORTAL_ID, name)
    with DAG(f"{name}_relay", schedule=[watched], start_date=START_DATE, catchup=False) as relay:
        NewBookingsToPartitionsOperator(task_id="relay", outlets=[partitions])
    with DAG(
        f"{name}_one_booking",
        schedule=PartitionedAssetTimetable(assets=partitions),
        start_date=START_DATE,
        catchup=False,
    ) as consumer:

        @task
        def meeting(**context: Any) -> str:
            return str(context["dag_run"].partition_key)

        meeting()
    bag = dagbag_class()(dag_folder=_empty_dir())
    for dag in (relay, consumer):
        dag.relative_fileloc = dag.fileloc
        bag.bag_dag(dag)
    write_serialized_dags(bag)
    _unpause(relay.dag_id, consumer.dag_id)
    write_serialized_dags(bag)  # the DAG processor links a watcher's trigger once its DAG is unpaused
    return relay, consumer, watched, partitions


def _empty_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="one-run-per-booking-")


def _unpause(*dag_ids: str) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        for dag_model in session.query(DagModel).filter(DagModel.dag_id.in_(dag_ids)):
            dag_model.is_paused = False


def submit_as_the_triggerer(watched: Any, payloads: list[dict[str, Any]]) -> None:
    """Each payload handed to Airflow as the triggerer hands a fired event: ``Trigger.submit_event``
    of the watcher's trigger row (an asset event with ``{"from_trigger": True, "payload": ...}``)."""
    from airflow.models.asset import AssetModel
    from airflow.models.trigger import Trigger
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        asset = session.query(AssetModel).filter_by(name=watched.name).one()
        [trigger_row] = [watcher.trigger for watcher in asset.watchers]
        trigger_id = trigger_row.id
    for payload in payloads:
        with create_session() as session:
            Trigger.submit_event(trigger_id, TriggerEvent(payload), session=session)


def scheduler_loop() -> None:
    """One run-creation step of Airflow's scheduler (asset-triggered and partitioned runs)."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.utils.session import create_session
    from airflow.utils.sqlalchemy import prohibit_commit

    runner = SchedulerJobRunner(job=Job(), executors=[])
    with create_session() as session:
        runner.job.id = 0
        with prohibit_commit(session) as guard:
            runner._create_dagruns_for_dags(guard, session)


def runs_of(dag_id: str) -> list[dict[str, Any]]:
    """The DAG's runs, oldest first: run id and type, partition key, how many events each consumed."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return [
            {
                "run_id": run.run_id,
                "run_type": str(run.run_type),
                "partition_key": run.partition_key,
                "consumed": len(run.consumed_asset_events),
            }
            for run in session.query(DagRun).filter_by(dag_id=dag_id).order_by(DagRun.id)
        ]


def run_tasks_of(dag: Any, run_id: str) -> None:
    """Run every task of ``dag``'s run ``run_id`` in process, as the scheduler and a worker would (its
    task instances cleared first: a no-op for a new run, the UI's "Clear" for an ended one)."""
    from types import SimpleNamespace

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    from tests.reliability.helpers import rerun_cleared

    with create_session() as session:  # what the scheduler does to a queued run it starts
        session.query(DagRun).filter_by(dag_id=dag.dag_id, run_id=run_id).one().state = DagRunState.RUNNING
    rerun_cleared(dag, SimpleNamespace(dag_id=dag.dag_id, run_id=run_id))


def relay_result(dag: Any, run_id: str) -> tuple[str, Any]:
    """The relay task's state and returned XCom in the run ``run_id``."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from tests.compat import stored_xcom_value

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag.dag_id, run_id=run_id).one()
        state = str(run.get_task_instance("relay", session=session).state)
        return state, stored_xcom_value(run, "relay", "return_value", -1)


def visitor_meetings(sandbox: Any, count: int) -> list[dict[str, Any]]:
    """The real trigger's events for ``count`` visitor bookings on ``alice-smith``, oldest first."""
    booked = book(sandbox, free_starts(sandbox, "alice-smith", count))
    trigger = make_trigger(link_ids=[ALICE_LINK])
    events = asyncio.run(run_until(trigger, lambda fired: len(fired) >= count))
    assert sorted(e["meeting_id"] for e in events) == sorted(booked)
    return sorted(events, key=lambda e: e["created_at"])


#: An event that is no booking (e.g. one posted through the REST API): the relay skips it.
FOREIGN = {"note": "not a booking", "contact_email": "lead@example.com"}


def relay_every_event(relay: Any, watched: Any, submitted: int) -> list[tuple[str, Any, int]]:
    """Scheduler loops, each new run of the relay DAG run, until every submitted event is in a run:
    each run's relay state, XCom and number of consumed events, oldest first.

    Airflow 3.3.2 gives a run the events up to its queue row's creation (the burst's FIRST event); the
    later ones wait for the run the next event starts (tests/e2e/test_new_bookings_watcher.py), so a
    :data:`FOREIGN` event (skipped by the relay) nudges them, as a new booking would."""
    ran: set[str] = set()
    for _ in range(4):
        scheduler_loop()
        for run in runs_of(relay.dag_id):
            if run["run_id"] not in ran:
                run_tasks_of(relay, run["run_id"])
                ran.add(run["run_id"])
        runs = runs_of(relay.dag_id)
        if sum(run["consumed"] for run in runs) >= submitted:
            return [(*relay_result(relay, run["run_id"]), run["consumed"]) for run in runs]
        submit_as_the_triggerer(watched, [FOREIGN])
        submitted += 1
    raise AssertionError(f"events left out of every run of {relay.dag_id}")


@requires_partitions
def test_one_partition_and_one_run_per_distinct_meeting(live_sandbox: Any, task_logs: Any) -> None:
    relay, consumer, watched, partitions = relay_and_consumer("partitions")
    events = visitor_meetings(live_sandbox, 3)
    meeting_ids = [e["meeting_id"] for e in events]
    # The first meeting twice (a trigger restart inside its commit delay fires it again) and an event
    # that is no booking, all between two scheduler loops.
    submit_as_the_triggerer(watched, [FOREIGN, events[0], events[1], events[0], events[2]])

    relayed = relay_every_event(relay, watched, submitted=5)

    [(_, relayed_ids, consumed)] = [run for run in relayed if run[0] == "success"]
    assert relayed_ids == meeting_ids and consumed >= 4  # the repeat was in that run, and dropped
    assert {run[0] for run in relayed if run[0] != "success"} <= {"skipped"}  # runs of foreign events
    emitted = stored_asset_events(partitions.uri)
    assert sorted(e["partition_key"] for e in emitted) == sorted(meeting_ids)
    assert {json.dumps(e["extra"]) for e in emitted} == {json.dumps({"relayed_from": [watched.name]})}
    logged = task_logs()
    assert "payload.meeting_id" in logged and "not a NewBookingsTrigger event" in logged
    assert "lead@example.com" not in logged

    scheduler_loop()
    runs = runs_of(consumer.dag_id)
    assert sorted(run["partition_key"] for run in runs) == sorted(meeting_ids)  # one run per meeting
    assert {(run["run_type"], run["consumed"]) for run in runs} == {("asset_triggered", 1)}

    # A clear of the relay's run emits its keys again; Airflow starts a new run for each (the first
    # runs already consumed theirs): at least once, never lost.
    [relay_run] = [run for run in runs_of(relay.dag_id) if run["consumed"] >= 4]
    run_tasks_of(relay, relay_run["run_id"])  # the UI's "Clear"
    assert relay_result(relay, relay_run["run_id"])[0] == "success"
    scheduler_loop()
    again = [run["partition_key"] for run in runs_of(consumer.dag_id)]
    assert sorted(again) == sorted(meeting_ids * 2)


@requires_partitions
def test_a_run_without_meetings_is_skipped_and_emits_nothing(airflow_db: str, task_logs: Any) -> None:
    relay, consumer, watched, partitions = relay_and_consumer("no_meetings")
    submit_as_the_triggerer(watched, [{"meeting_id": ""}, {"meeting_id": "12 OR 1=1"}])

    relayed = relay_every_event(relay, watched, submitted=2)

    assert [(state, value) for state, value, _ in relayed] == [("skipped", None)] * len(relayed)
    assert stored_asset_events(partitions.uri) == []
    logged = task_logs()
    assert "'12 OR 1=1' is not a HubSpot ID" in logged
    assert "payload.meeting_id: expected a non-empty ID" in logged
    scheduler_loop()
    assert runs_of(consumer.dag_id) == []


@requires_partitions
@pytest.mark.parametrize(
    ("outlets", "named"),
    [("none", "got []"), ("uri", "concrete Asset"), ("alias", "concrete Asset"), ("two", "exactly one")],
)
def test_outlets_must_be_one_concrete_asset(outlets: str, named: str) -> None:
    from airflow.sdk import AssetAlias

    asset = crm_meeting_partitions_asset(SANDBOX_PORTAL_ID, "alice-smith")
    given = {
        "none": [],
        "uri": ["hubspot://1/meeting-pages/x"],
        "alias": [AssetAlias("meetings")],
        "two": [asset, asset],
    }[outlets]
    with pytest.raises(ValueError, match=re.escape(named)) as raised:
        NewBookingsToPartitionsOperator(task_id="relay", outlets=given)
    assert str(raised.value).startswith("outlets:")


@pytest.mark.skipif(AIRFLOW_V_3_3_PLUS, reason="Airflow 3.3+ has what the operator needs")
def test_older_airflow_is_refused_naming_what_it_lacks() -> None:
    with pytest.raises(AirflowOptionalProviderFeatureException, match="add_partitions") as raised:
        NewBookingsToPartitionsOperator(task_id="relay", outlets=[crm_meeting_partitions_asset(1, "x")])
    assert "Airflow 3.3+" in str(raised.value)
