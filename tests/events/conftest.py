"""Helpers shared by the event tests: asset events as stored in the metadata DB (Airflow 2: datasets)."""

from __future__ import annotations

from datetime import timezone
from typing import Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from tests.operators.conftest import sandbox as sandbox  # the booking tests' fixed-clock sandbox

TOKEN = "events-token-2b9e41-never-print-me"


@pytest.fixture
def live_sandbox(hubspot_sandbox_factory: Any, airflow_db: str) -> Any:
    """A sandbox on the real clock (creation times advance), ``hubspot_default`` pointing at it."""
    return hubspot_sandbox_factory(token=TOKEN)


def book(hubspot: Any, starts: list[Any], slug: str = "alice-smith", **kwargs: Any) -> list[str]:
    """Visitor bookings (not through the provider); the CRM meeting id of each."""
    ids = []
    for number, start in enumerate(starts):
        hubspot.book_as_visitor(slug, start, email=f"lead{number}.{start:%H%M}@example.com", **kwargs)
        ids.append(hubspot.bookings[-1]["crmMeetingId"])
    return ids


def stored_asset_events(uri: str) -> list[dict[str, Any]]:
    """Every event on the asset (dataset) ``uri``, oldest first: ``extra``, the producing task and (Airflow
    3.2+) the partition key."""
    from airflow.utils.session import create_session

    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.asset import AssetEvent, AssetModel

        event_class: Any = AssetEvent
        model_class: Any = AssetModel
        foreign_key = AssetEvent.asset_id
    else:
        from airflow.models.dataset import DatasetEvent, DatasetModel

        event_class, model_class = DatasetEvent, DatasetModel
        foreign_key = DatasetEvent.dataset_id
    with create_session() as session:
        rows = (
            session.query(event_class)
            .join(model_class, model_class.id == foreign_key)
            .filter(model_class.uri == uri)
            .order_by(event_class.id)
            .all()
        )
        return [
            {
                "extra": dict(row.extra or {}),
                "dag_id": row.source_dag_id,
                "task_id": row.source_task_id,
                "run_id": row.source_run_id,
                "partition_key": getattr(row, "partition_key", None),
            }
            for row in rows
        ]


def free_starts(hubspot: Any, slug: str, count: int, duration_ms: int = 1_800_000) -> list[Any]:
    """``count`` non-overlapping free slot starts on ``slug`` (aware datetimes), an hour away or more."""
    from datetime import datetime, timedelta

    from tests.test_example_dags import sandbox_free_slots

    not_before = datetime.now(timezone.utc) + timedelta(hours=1)
    chosen: list[int] = []
    for start in sandbox_free_slots(hubspot, slug, duration_ms, months=3):
        if start >= not_before.timestamp() * 1000 and (not chosen or start >= chosen[-1] + duration_ms):
            chosen.append(start)
    assert len(chosen) >= count, f"only {len(chosen)} free slots on {slug}"
    return [datetime.fromtimestamp(start / 1000, tz=timezone.utc) for start in chosen[:count]]


def run_booking_dag(dag: Any) -> Any:
    """``dag.test()`` of a DAG whose outlets hold aliases: Airflow 2 (which runs in-memory DAGs) needs
    the DAG's aliases in the DB first, as its DAG processor writes them when it parses the file."""
    from tests.operators.conftest import run_dag

    if not AIRFLOW_V_3_0_PLUS:
        dag.sync_to_db()
    return run_dag(dag)
