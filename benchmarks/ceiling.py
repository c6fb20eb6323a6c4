"""Ceiling: ``BookMeetingsOperator`` booking 1,000 meetings against a rate limit, vs the physical minimum.

The sandbox allows ``LIMIT`` requests per ``WINDOW_SECONDS`` (HubSpot's 10-second window scaled down so
the run takes seconds, not minutes). The operator is not told the limit: it learns it from the first
answer's ``X-HubSpot-RateLimit-*`` headers, as it does against HubSpot. A rolling window lets the first
L requests go at once and the next L once those left it, so floor((N - 1) / L) x W is the least time any
client can take for N requests at L per W (here equal to (N - L) x W / L: N is a multiple of L). The
ratio says how close the operator gets, and the sandbox's request log says how often it hit the limit
anyway (429s) and whether anything failed.
"""

from __future__ import annotations

from benchmarks._common import (
    SandboxProcess,
    allow_execute_outside_task_runner,
    context,
    payloads,
    quiet_airflow_logs,
    report,
    rolling_window_minimum,
    timed,
)

BOOKINGS = 1000
LIMIT = 50
WINDOW_SECONDS = 1.0


def main() -> None:
    quiet_airflow_logs()
    allow_execute_outside_task_runner()
    from hubspot_scheduler_provider.operators.book_meetings import BookMeetingsOperator

    with SandboxProcess(rate_limit=LIMIT, window_seconds=WINDOW_SECONDS) as sandbox:
        sandbox.use_as_default_connection()
        operator = BookMeetingsOperator(
            task_id="book", payloads=list(payloads(BOOKINGS)), fail_on_item_failure=False
        )
        elapsed, results = timed(lambda: operator.execute(context()))
        stats = sandbox.stats()

    failed = sum(1 for result in results if "error" in result)
    rejected = int(stats["statuses"].get("429", 0))
    minimum = rolling_window_minimum(BOOKINGS, LIMIT, WINDOW_SECONDS)
    report(
        {
            "ceiling_ratio": round(elapsed / minimum, 3),
            "ceiling_429_fraction": round(rejected / stats["requests"], 4),
            "ceiling_failed": failed,
            "ceiling_elapsed_s": round(elapsed, 2),
            "ceiling_minimum_s": round(minimum, 2),
            "ceiling_requests": stats["requests"],
            "ceiling_429s": rejected,
            "ceiling_limit": f"{LIMIT} per {WINDOW_SECONDS:g} s",
            "ceiling_bookings": BOOKINGS,
        }
    )


if __name__ == "__main__":
    main()
