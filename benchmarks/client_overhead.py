"""Client overhead: the hook's booking loop vs a bare ``requests.Session`` keep-alive loop.

Both post the same JSON bodies, one after another, to the same sandbox (rate limiting off), which is
reset before each side so every booking succeeds. The bare loop is the practical limit of a Python
client: no models, no validation, no error mapping. Sides alternate in ``ROUNDS`` short rounds and the
median of the rounds' ratios counts: paired rounds see the same load from other work on the machine.
"""

from __future__ import annotations

import json
import statistics

from benchmarks._common import SandboxProcess, payloads, quiet_airflow_logs, report, timed

BOOKINGS = 250
ROUNDS = 8


def main() -> None:
    quiet_airflow_logs()
    import requests

    from hubspot_scheduler_provider.booking_input import build_booking
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

    with SandboxProcess() as sandbox:
        sandbox.use_as_default_connection()
        bookings = [build_booking(item) for item in payloads(BOOKINGS)]
        hook = HubSpotSchedulerHook()
        bodies = [booking.to_wire(hook.api_version) for booking in bookings]
        url = f"{sandbox.url}{hook.api_version.scheduler_prefix}/meeting-links/book"
        headers = {"Authorization": f"Bearer {sandbox.token}", "Content-Type": "application/json"}

        def hook_loop() -> None:
            for booking in bookings:
                hook.book_meeting(booking)

        def bare_loop() -> None:
            with requests.Session() as session:
                for body in bodies:
                    response = session.post(url, data=json.dumps(body), headers=headers, timeout=30)
                    response.raise_for_status()
                    response.json()

        times: dict[str, list[float]] = {"hook": [], "bare": []}
        for _ in range(ROUNDS):
            for side, loop in (("hook", hook_loop), ("bare", bare_loop)):
                sandbox.reset()
                times[side].append(timed(loop)[0])
                stats = sandbox.stats()
                assert stats["bookings"] == BOOKINGS, (side, stats)
        hook.close()

    ratios = [bare / hook for hook, bare in zip(times["hook"], times["bare"], strict=True)]
    report(
        {
            "client_overhead_ratio": round(statistics.median(ratios), 3),
            "client_hook_bookings_per_s": round(BOOKINGS / statistics.median(times["hook"]), 1),
            "client_bare_requests_per_s": round(BOOKINGS / statistics.median(times["bare"]), 1),
            "client_bookings_per_side": BOOKINGS * ROUNDS,
        }
    )


if __name__ == "__main__":
    main()
