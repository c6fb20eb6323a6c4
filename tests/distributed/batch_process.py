"""One ``BookMeetingsOperator`` batch in its own process (as a Celery worker's task would run it), for
the shared-limiter tests: ``python -m tests.distributed.batch_process FIRST COUNT TAG START_AT``.

Books the benchmark page's slots ``FIRST .. FIRST+COUNT-1`` through ``AIRFLOW_CONN_HUBSPOT_DEFAULT``,
starting at wall-clock time ``START_AT`` (so several processes start together), and prints one JSON
line: ``{"booked": n, "failed": n, "elapsed_s": s}``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time


def main() -> None:
    first, count, tag, start_at = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    home = tempfile.mkdtemp(prefix="hubspot-batch-process-")
    os.environ.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    from benchmarks._common import allow_execute_outside_task_runner, context
    from hubspot_scheduler_provider.operators.book_meetings import BookMeetingsOperator
    from tests.distributed.dags.distributed_bookings import booking

    allow_execute_outside_task_runner()
    operator = BookMeetingsOperator(
        task_id="book",
        payloads=[booking(slot, tag) for slot in range(first, first + count)],
        fail_on_item_failure=False,
        max_workers=8,
    )
    time.sleep(max(0.0, start_at - time.time()))
    started = time.monotonic()
    results = operator.execute(context())
    print(
        json.dumps(
            {
                "booked": sum(1 for result in results if "error" not in result),
                "failed": sum(1 for result in results if "error" in result),
                "elapsed_s": round(time.monotonic() - started, 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
