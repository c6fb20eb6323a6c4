"""Helpers for running booking DAGs for real: ``dag.test()`` on the session's SQLite DB against the sandbox.

Airflow 3's ``dag.test()`` only runs a DAG whose serialized form is in the DB (normally written by
parsing the dags folder). :func:`run_dag` writes the test's own DAG object there first, the same way the
DAG processor would, so tests can build DAGs inline. Airflow 2 runs in-memory DAGs directly.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_3_PLUS

import hubspot_scheduler_provider
from tests.compat import serialize_for_test, stored_xcom_value

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing import HubSpotSandbox

#: Airflow 3.3+ keeps a booking ledger in the task state store: a repeated try returns the answer an
#: earlier try recorded (HubSpot's own JSON, no ``reconciled`` key) instead of the CRM's reconciled view.
HAS_LEDGER = AIRFLOW_V_3_3_PLUS

#: The sandbox's "now": Tuesday 2026-12-01 12:00 UTC, so December slots on weekdays are bookable.
SANDBOX_NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
#: Wednesday 2026-12-02 09:00 in New York: a free 30/60-minute slot on ``alice-smith``.
SLOT_UTC = "2026-12-02T14:00:00Z"
SLOT_NEW_YORK_NAIVE = "2026-12-02T09:00"
TOKEN = "sandbox-token-7f3a9c-never-print-me"
#: The sandbox's seeded portal id (see ``testing.pages.PORTAL_ID``).
SANDBOX_PORTAL_ID = "24681357"

BOOKER = {
    "slug": "alice-smith",
    "email": "jane.doe@example.com",
    "firstName": "Jane",
    "lastName": "Doe",
    "startTime": SLOT_UTC,
    "duration": 1800000,
}
#: What HubSpot must receive for ``BOOKER``.
BOOKER_WIRE = {
    **BOOKER,
    "formFields": [],
    "legalConsentResponses": [],
    "likelyAvailableUserIds": [],
}
#: Keys the sandbox adds to each committed booking next to HubSpot's answer.
_SANDBOX_BOOKKEEPING = ("request", "slug", "apiVersion", "hostUserId", "crmMeetingId")


@pytest.fixture
def sandbox(hubspot_sandbox_factory: Any, airflow_db: str) -> HubSpotSandbox:
    """A started sandbox on a fixed clock; connection ``hubspot_default`` points at it."""
    sandbox: HubSpotSandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW)
    return sandbox


def run_dag(dag: Any) -> Any:
    """Run ``dag`` once with ``dag.test()`` and return the DagRun."""
    serialize_for_test(dag)
    return dag.test()


def task_instance(dag_run: Any, task_id: str, map_index: int = -1) -> Any:
    return dag_run.get_task_instance(task_id, map_index=map_index)


def xcom_value(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """The XCom as stored in the metadata DB (what downstream tasks and the UI see)."""
    return stored_xcom_value(dag_run, task_id, key, map_index)


def extra_links(dag_run: Any, dag: Any, task_id: str, map_index: int = -1) -> dict[str, str | None]:
    """The task's extra links as the webserver computes them (Airflow 3: from the serialized DAG)."""
    ti = task_instance(dag_run, task_id, map_index)
    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.serialized_dag import SerializedDagModel

        serialized = SerializedDagModel.get_dag(dag.dag_id)
    else:
        from airflow.serialization.serialized_objects import SerializedDAG

        serialized = SerializedDAG.from_dict(SerializedDAG.to_dict(dag))
    assert serialized is not None
    task = serialized.get_task(task_id)
    return {name: task.get_extra_links(ti, name) for name in task.extra_links}


def rendered_fields(dag_run: Any, task_id: str, map_index: int = -1) -> dict[str, Any]:
    """Rendered template fields as stored for the UI's "Rendered Template" view."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(RenderedTaskInstanceFields)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, map_index=map_index)
            .one()
        )
        fields: dict[str, Any] = row.rendered_fields
    return fields


def booking_requests(sandbox: HubSpotSandbox) -> list[dict[str, Any]]:
    """JSON bodies of every booking POST the sandbox received."""
    return [r.body for r in sandbox.requests if r.method == "POST" and r.path.endswith("/book")]


def hubspot_answers(sandbox: HubSpotSandbox) -> list[dict[str, Any]]:
    """The JSON HubSpot (the sandbox) answered each committed booking with."""
    return [
        {key: value for key, value in booking.items() if key not in _SANDBOX_BOOKKEEPING}
        for booking in sandbox.bookings
    ]


@cache
def _booking_schema_validator() -> Any:
    from jsonschema import Draft4Validator

    specs = Path(hubspot_scheduler_provider.__file__).parent / "testing" / "specs"
    spec = json.loads((specs / "scheduler-meetings-2026-09.json").read_text(encoding="utf-8"))
    schema = {"$ref": "#/components/schemas/ExternalMeetingBooking", "components": spec["components"]}
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def assert_valid_booking_request(body: dict[str, Any]) -> None:
    """``body`` satisfies HubSpot's ExternalMeetingBooking schema (required fields, types, no junk)."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _booking_schema_validator().iter_errors(body)]
    assert not errors, errors
    # The schema allows extra properties; HubSpot's request model does not.
    schemas = _booking_schema_validator().schema["components"]["schemas"]
    properties = schemas["ExternalMeetingBooking"]["properties"]
    assert set(body) <= set(properties), set(body) - set(properties)
