"""DAGs of the distributed tier: the two workloads of issue 15, booking the benchmark page's slots.

* ``distributed_mapped``: one mapped ``BookMeetingOperator`` task per booking (workload a);
* ``distributed_batches``: two ``BookMeetingsOperator`` tasks of ``count`` items each, at the same time
  (workload b; with 2 Celery workers of concurrency 2 they may share a worker: the test checks).

Run conf: ``{"first": slot number of the first booking, "count": bookings per task, "tag": text}``.
Every booking gets the page's slot ``first + i`` (15-minute slots from the sandbox's fixed now) and the
e-mail ``<tag>-<slot>@example.com``, so the test can check the sandbox's booking list item by item.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.operators.book_meetings import BookMeetingsOperator

#: benchmarks._common: the sandbox's fixed now, the benchmark page and its 15-minute slots.
NOW = datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc)
SLUG = "benchmark-host"
SLOT_MINUTES = 15
RETRIES = {"retries": 4, "retry_delay": timedelta(seconds=3)}


def booking(slot: int, tag: str) -> dict[str, Any]:
    start = NOW + timedelta(minutes=SLOT_MINUTES * (slot + 1))
    return {
        "slug": SLUG,
        "email": f"{tag}-{slot}@example.com",
        "firstName": "Dist",
        "lastName": f"Lead{slot}",
        "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": SLOT_MINUTES * 60_000,
    }


def bookings(conf: dict[str, Any], part: int = 0) -> list[dict[str, Any]]:
    first, count = int(conf["first"]) + part * int(conf["count"]), int(conf["count"])
    return [booking(slot, str(conf["tag"])) for slot in range(first, first + count)]


START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG("distributed_mapped", schedule=None, start_date=START, catchup=False, max_active_tasks=8) as mapped:

    @task
    def plan(dag_run: Any = None) -> list[dict[str, Any]]:
        return bookings(dag_run.conf)

    BookMeetingOperator.partial(task_id="book", **RETRIES).expand(payload=plan())

with DAG("distributed_batches", schedule=None, start_date=START, catchup=False) as batches:

    @task
    def plan_part(part: int, dag_run: Any = None) -> list[dict[str, Any]]:
        return bookings(dag_run.conf, part)

    # One batch per worker (each worker also listens on a queue named after it).
    for part, (name, worker) in enumerate((("batch_a", "worker-1"), ("batch_b", "worker-2"))):
        BookMeetingsOperator(
            task_id=name,
            queue=worker,
            payloads=plan_part.override(task_id=f"plan_{name}")(part),
            max_workers=8,
            **RETRIES,
        )
