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
    monkeypatch.setattr(new_bookings, "FLUSH_AFTER_SECONDS", 0.5)


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


def visitor_meetings(sandbox: Any, count: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The real trigger's events for ``count`` visitor bookings on ``alice-smith``: its meeting events,
    oldest first, and the flush event it fires after them."""
    booked = book(sandbox, free_starts(sandbox, "alice-smith", count))
    trigger = make_trigger(link_ids=[ALICE_LINK])
    events = asyncio.run(run_until(trigger, lambda fired: any(map(new_bookings.is_flush, fired))))
    meetings = [event for event in events if not new_bookings.is_flush(event)]
    assert sorted(e["meeting_id"] for e in meetings) == sorted(booked)
    [flush] = events[len(meetings) :]
    return sorted(meetings, key=lambda e: e["created_at"]), flush


#: An event that is no booking (e.g. one posted through the REST API): the relay skips it.
FOREIGN = {"note": "not a booking", "contact_email": "lead@example.com"}


def relay_every_event(
    relay: Any, watched: Any, submitted: int, later: list[dict[str, Any]]
) -> list[tuple[str, Any, int]]:
    """Scheduler loops, each new run of the relay DAG run, until every submitted event is in a run:
    each run's relay state, XCom and number of consumed events, oldest first. After each loop, the next
    of the ``later`` events (the trigger's flush) is submitted: what the trigger fires after it waited
    ``FLUSH_AFTER_SECONDS``, i.e. after the scheduler's loops made the run of the events before it.

    Airflow 3.3.2 gives a run the events up to its queue row's creation (the burst's FIRST event); no
    foreign event nudges the others: the trigger's own flush must bring them into a run."""
    ran: set[str] = set()
    pending = list(later)
    while True:
        scheduler_loop()
        for run in runs_of(relay.dag_id):
            if run["run_id"] not in ran:
                run_tasks_of(relay, run["run_id"])
                ran.add(run["run_id"])
        runs = runs_of(relay.dag_id)
        if sum(run["consumed"] for run in runs) >= submitted:
            return [(*relay_result(relay, run["run_id"]), run["consumed"]) for run in runs]
        if not pending:
            raise AssertionError(
                f"{submitted - sum(run['consumed'] for run in runs)} of {submitted} events left out of "
                f"every run of {relay.dag_id}"
            )
        submit_as_the_triggerer(watched, [pending.pop(0)])
        submitted += 1


@requires_partitions
def test_one_partition_and_one_run_per_distinct_meeting(live_sandbox: Any, task_logs: Any) -> None:
    relay, consumer, watched, partitions = relay_and_consumer("partitions")
    events, flush = visitor_meetings(live_sandbox, 3)
    meeting_ids = [e["meeting_id"] for e in events]
    # The first meeting twice (a trigger restart inside its commit delay fires it again) and an event
    # that is no booking, all between two scheduler loops; then the trigger's flush.
    submit_as_the_triggerer(watched, [FOREIGN, events[0], events[1], events[0], events[2]])

    relayed = relay_every_event(relay, watched, submitted=5, later=[flush])

    # The first run took only the first event (its queue row's); the flush's run took the rest.
    assert [(state, consumed) for state, _, consumed in relayed] == [("skipped", 1), ("success", 5)]
    assert relayed[1][1] == meeting_ids  # the repeat was in that run, and dropped; the flush skipped
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

    relayed = relay_every_event(relay, watched, submitted=2, later=[new_bookings.flush_payload()])

    # A run of only a flush (and events without a meeting) ends skipped; the flush is not warned about.
    assert [(state, value) for state, value, _ in relayed] == [("skipped", None)] * len(relayed)
    assert stored_asset_events(partitions.uri) == []
    logged = task_logs()
    assert "'12 OR 1=1' is not a HubSpot ID" in logged
    assert "payload.meeting_id: expected a non-empty ID" in logged
    assert "flush" not in logged.lower().replace("flush event fired", "")
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


def test_meeting_events_skip_flushes_silently_and_warn_for_other_events(caplog: Any) -> None:
    """The one home of a run's meeting events (the relay's ids, the example DAG's Airflow 3.0-3.2 list)."""
    import logging
    from types import SimpleNamespace

    from hubspot_scheduler_provider.operators.one_run_per_booking import meeting_events_of

    asset = SimpleNamespace(name="hubspot-crm-meetings/1/alice-smith")
    meeting = {"meeting_id": "901", "start": "2026-01-05T10:00:00.000Z", "owner_id": "7"}
    extras = [{"payload": meeting}, {"payload": new_bookings.flush_payload()}, {"note": "posted"}]
    extras.append({"payload": dict(meeting)})  # a repeat (a restart inside the commit delay)
    events = [SimpleNamespace(asset=asset, timestamp=n, extra=extra) for n, extra in enumerate(extras)]
    log = logging.getLogger("tests.meeting_events")

    with caplog.at_level(logging.DEBUG, logger=log.name):
        assert meeting_events_of(events, log) == [meeting]

    by_level = {level: [r.getMessage() for r in caplog.records if r.levelno == level] for level in (10, 30)}
    assert len(by_level[30]) == 1 and "payload.meeting_id" in by_level[30][0]  # the posted event only
    assert len(by_level[10]) == 1 and "flush" in by_level[10][0]
