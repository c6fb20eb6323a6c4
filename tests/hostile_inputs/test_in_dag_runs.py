"""A sample of the hostile inputs in real DAG runs (``dag.test()``): one mapped task per entry point,
one mapped task instance per category. Each fails on its first try (no retry) naming the field, and the
sandbox receives nothing. The full table runs through the same operators in
``test_refused_before_any_request.py``; this shows Airflow's own path (templating, mapping, failure
handling) changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG

from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.operators.calendar_meeting import CreateCalendarMeetingOperator
from hubspot_scheduler_provider.sensors.slot_available import MeetingSlotAvailableSensor
from tests.hostile_inputs.cases import CASES, Case
from tests.operators.conftest import SANDBOX_NOW, TOKEN, run_dag, task_instance

TASK_IDS = {"book": "book", "calendar": "calendar", "sensor": "wait"}


def _storable(case: Case) -> bool:
    """Kept small and JSON-plain: mapped arguments are stored in the metadata DB."""
    if case.pending or case.rendered or case.target not in TASK_IDS:
        return False
    try:
        text = json.dumps(case.kwargs, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return len(text) < 10_000 and "\\u0000" not in text


#: The issue's examples, run in a DAG as well as the first storable case of each category.
NAMED = {"Cyrillic homoglyph", "zero-width space", "two addresses ;", "300-character zone", "text NaN"}


def sample() -> dict[str, list[Case]]:
    """The first storable case of each (target, category), and the ``NAMED`` ones."""
    chosen: dict[tuple[str, str], Case] = {}
    for case in CASES:
        if _storable(case):
            chosen.setdefault((case.target, case.category), case)
            if case.label in NAMED:
                chosen.setdefault((case.target, case.id), case)
    by_target: dict[str, list[Case]] = {target: [] for target in TASK_IDS}
    for (target, _), case in chosen.items():
        by_target[target].append(case)
    return by_target


failures: dict[tuple[str, int], str] = {}


def record_failure(context: Any) -> None:
    ti = context["ti"]
    failures[(ti.task_id, ti.map_index)] = str(context["exception"])


def test_hostile_inputs_fail_their_mapped_tasks_once_naming_the_field(hubspot_sandbox_factory, airflow_db):
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW)
    cases = sample()
    failures.clear()
    with DAG("hostile_inputs", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False) as dag:
        common = {"retries": 3, "on_failure_callback": record_failure}
        BookMeetingOperator.partial(task_id="book", **common).expand_kwargs([c.kwargs for c in cases["book"]])
        CreateCalendarMeetingOperator.partial(task_id="calendar", **common).expand_kwargs(
            [c.kwargs for c in cases["calendar"]]
        )
        MeetingSlotAvailableSensor.partial(task_id="wait", timeout=30, **common).expand_kwargs(
            [c.kwargs for c in cases["sensor"]]
        )

    dag_run = run_dag(dag)

    assert sum(len(found) for found in cases.values()) >= 15
    assert dag_run.state == "failed"
    for target, found in cases.items():
        task_id = TASK_IDS[target]
        for map_index, case in enumerate(found):
            ti = task_instance(dag_run, task_id, map_index)
            assert (ti.state, ti.try_number) == ("failed", 1), case.id
            assert failures[(task_id, map_index)].startswith(case.field), (
                case.id,
                failures[(task_id, map_index)],
            )
    assert sandbox.requests == []
