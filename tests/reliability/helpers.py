"""Shared pieces of the reliability suite: the exactly-once invariant, DAG runs with retries and clears.

Everything runs for real: the sandbox is an HTTP server on loopback, DAGs run through ``dag.test()`` on
the session's SQLite DB. The invariant every scenario asserts is read from the sandbox's OWN list of
committed bookings: each requested booking exists exactly once, or its task failed with a reason.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.providers.common.compat.sdk import DAG
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from tests.compat import run_task_in_process
from tests.operators.conftest import SANDBOX_NOW, run_dag

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from hubspot_scheduler_provider.testing import HubSpotSandbox

#: A token nobody would type: any appearance in logs, XCom or rendered fields is a leak.
TOKEN = "pat-na1-RELIABILITY-7d1e5c0f-token-must-never-leak"
#: Connection extras for the sandbox: a request timeout of 3 s, so that settling an unanswered send
#: (which waits until that send surely ended) takes seconds, not HubSpot's 30.
FAST_SETTLE = {"timeout": 3}
START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")
#: Wednesday 2026-12-02 09:00 New York; the sandbox (fixed at SANDBOX_NOW) offers it on "alice-smith".
FIRST_SLOT = datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc)
HALF_HOUR_MS = 1_800_000

#: (slug, lower-case email, start as HubSpot answers it): one requested booking.
Key = tuple[str, str, str]


def make_dag(dag_id: str, **kwargs: Any) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START_DATE, catchup=False, **kwargs)


def payload(index: int = 0, start: datetime = FIRST_SLOT, slug: str = "alice-smith") -> dict[str, Any]:
    """A booking for a person of their own (``guest<index>@example.com``) at ``start``."""
    return {
        "slug": slug,
        "email": f"guest{index}@example.com",
        "firstName": "Guest",
        "lastName": f"Number{index}",
        "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": HALF_HOUR_MS,
    }


def key_of(booking_payload: Mapping[str, Any]) -> Key:
    return (booking_payload["slug"], booking_payload["email"].lower(), booking_payload["startTime"])


def free_slots(count: int, slug: str = "alice-smith") -> list[datetime]:
    """``count`` non-overlapping 30-minute starts the page offers (read through the hook, then forgotten)."""
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

    hook = HubSpotSchedulerHook()
    try:
        info = hook.get_booking_info(slug, "UTC")
    finally:
        hook.close()
    assert info.link_availability is not None
    gap = HALF_HOUR_MS + info.custom_params.meeting_buffer_time
    starts: list[int] = []
    for slot in info.link_availability.link_availability_by_duration[str(HALF_HOUR_MS)].availabilities:
        if not starts or slot.start_millis_utc >= starts[-1] + gap:
            starts.append(slot.start_millis_utc)
    assert len(starts) >= count
    return [datetime.fromtimestamp(ms / 1000, tz=timezone.utc) for ms in starts[:count]]


# --- the invariant -----------------------------------------------------------------------------------


def booking_counts(sandbox: HubSpotSandbox) -> Counter[Key]:
    """How often the sandbox committed each (slug, email, start)."""
    return Counter((b["slug"], b["request"]["email"].lower(), b["start"]) for b in sandbox.bookings)


@dataclass(frozen=True)
class Tally:
    requested: int
    booked: int
    failed_with_reason: int
    duplicates: int
    lost: int


def assert_exactly_once(
    sandbox: HubSpotSandbox, requested: Iterable[Key], failed: Mapping[Key, str] | None = None
) -> Tally:
    """Each requested booking is in the sandbox exactly once, or failed with a non-empty reason; nothing
    unrequested was booked."""
    wanted = list(requested)
    failed = dict(failed or {})
    counts = booking_counts(sandbox)
    unrequested = set(counts) - set(wanted)
    duplicates = {key: n for key, n in counts.items() if n > 1}
    lost = [key for key in wanted if counts[key] == 0 and not failed.get(key)]
    assert not unrequested, f"booked without being asked: {unrequested}"
    assert not duplicates, f"duplicated: {duplicates}"
    assert not lost, f"lost (neither booked nor reported failed): {lost}"
    return Tally(
        requested=len(wanted),
        booked=sum(1 for key in wanted if counts[key] == 1),
        failed_with_reason=sum(1 for key in wanted if counts[key] == 0),
        duplicates=0,
        lost=0,
    )


def booking_posts(sandbox: HubSpotSandbox) -> int:
    return sum(1 for r in sandbox.requests if r.method == "POST" and r.path.endswith("/meeting-links/book"))


# --- what tasks reported ------------------------------------------------------------------------------

#: str(exception) of every failed or retried try: (dag_id, task_id, map_index, try_number) -> text.
REPORTED: dict[tuple[str, str, int, int], str] = {}


def record_exception(context: Any) -> None:
    """``on_failure_callback`` / ``on_retry_callback``: keep what the task said."""
    ti = context["ti"]
    REPORTED[(ti.dag_id, ti.task_id, ti.map_index, ti.try_number)] = str(context.get("exception"))


def reported(task_id: str, try_number: int, map_index: int = -1) -> str:
    """What ``task_id`` said when try ``try_number`` failed (the test's only DAG)."""
    [text] = [
        t
        for (_, task, index, tried), t in REPORTED.items()
        if (task, index, tried) == (task_id, map_index, try_number)
    ]
    return text


def retrying(**kwargs: Any) -> dict[str, Any]:
    """Operator arguments for a task Airflow retries at once, recording each failure."""
    return {
        "retries": 1,
        "retry_delay": timedelta(0),
        "on_retry_callback": record_exception,
        "on_failure_callback": record_exception,
        **kwargs,
    }


# --- clearing a finished task and running it again, as the scheduler would -----------------------------


def rerun_cleared(dag: DAG, dag_run: Any) -> Any:
    """Clear every task instance of ``dag_run`` (the UI's "Clear") and run them again in the SAME run.

    ``dag.test()`` cannot do this: it deletes an existing run of the same date. This does what the
    scheduler does after a clear (schedule, raising ``try_number``), then runs each task like ``dag.test``.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).one()
        clear_task_instances(
            run.get_task_instances(session=session), session, dag_run_state=DagRunState.RUNNING
        )
    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).one()
        if AIRFLOW_V_3_0_PLUS:
            from airflow.models.serialized_dag import SerializedDagModel

            serialized = SerializedDagModel.get_dag(dag.dag_id)
            assert serialized is not None
            run.dag = serialized
        else:
            run.dag = dag
        while run.state == DagRunState.RUNNING:
            session.expire_all()
            schedulable, _ = run.update_state(session=session)
            for ti in schedulable:
                ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            scheduled = [ti for ti in run.get_task_instances(session=session) if ti.state == "scheduled"]
            if not scheduled and run.state == DagRunState.RUNNING:
                raise AssertionError(f"nothing runnable in {run.run_id}")
            for ti in scheduled:
                _run_task(ti, dag, session)
            session.commit()
        return run


def _run_task(ti: Any, dag: DAG, session: Any) -> None:
    with contextlib.suppress(Exception):  # dag.test() also only logs; the state tells
        run_task_in_process(ti, dag.task_dict[ti.task_id], session)


__all__ = ["SANDBOX_NOW", "run_dag"]
