"""Peer: the same bookings by the stock ``HttpOperator`` with a ``hubspot`` connection vs the hook.

``HttpOperator(http_conn_id="hubspot_default", endpoint=..., method="POST", data=json.dumps(body),
headers={"Content-Type": "application/json"})`` is what a DAG author writes without this provider's
operators. Its ``hook`` property asks the connection for its hook, so with a ``hubspot`` connection it gets
``HubSpotSchedulerHook`` (bearer auth from the connection's password) - but a new one, with a new
session and TCP connection, for every ``execute``. Measured per booking against the hook's loop (one
session), on the same sandbox (rate limiting off, reset in between), in alternating short rounds; the
median of the rounds' ratios counts.
"""

from __future__ import annotations

import json
import statistics

from benchmarks._common import (
    SandboxProcess,
    allow_execute_outside_task_runner,
    payloads,
    quiet_airflow_logs,
    report,
    timed,
)

BOOKINGS = 100
ROUNDS = 6


def main() -> None:
    quiet_airflow_logs()
    allow_execute_outside_task_runner()
    from airflow.providers.http.operators.http import HttpOperator

    from hubspot_scheduler_provider.booking_input import build_booking
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

    with SandboxProcess() as sandbox:
        sandbox.use_as_default_connection()
        bookings = [build_booking(item) for item in payloads(BOOKINGS)]
        hook = HubSpotSchedulerHook()
        endpoint = f"{hook.api_version.scheduler_prefix}/meeting-links/book"
        operators = [
            HttpOperator(
                task_id=f"book_{number}",
                http_conn_id="hubspot_default",
                endpoint=endpoint,
                method="POST",
                data=json.dumps(booking.to_wire(hook.api_version)),
                headers={"Content-Type": "application/json"},
            )
            for number, booking in enumerate(bookings)
        ]

        def http_operator_loop() -> None:
            for operator in operators:
                operator.execute({})

        def hook_loop() -> None:
            for booking in bookings:
                hook.book_meeting(booking)

        times: dict[str, list[float]] = {"http_operator": [], "hook": []}
        for _ in range(ROUNDS):
            for side, loop in (("http_operator", http_operator_loop), ("hook", hook_loop)):
                sandbox.reset()
                times[side].append(timed(loop)[0])
                stats = sandbox.stats()
                assert stats["bookings"] == BOOKINGS and stats["statuses"] == {"200": BOOKINGS}, (side, stats)
        hook.close()

    ratios = [http / hook for http, hook in zip(times["http_operator"], times["hook"], strict=True)]
    report(
        {
            "peer_http_operator_vs_hook_ratio": round(statistics.median(ratios), 2),
            "peer_http_operator_ms_per_booking": round(
                statistics.median(times["http_operator"]) / BOOKINGS * 1000, 2
            ),
            "peer_hook_ms_per_booking": round(statistics.median(times["hook"]) / BOOKINGS * 1000, 2),
            "peer_bookings_per_side": BOOKINGS * ROUNDS,
        }
    )


if __name__ == "__main__":
    main()
