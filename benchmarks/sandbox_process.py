"""The HubSpot sandbox in its own process for the benchmarks (its CPU and memory are not the client's).

Prints ``{"url", "token"}`` as the first line, then answers one JSON line per command read from stdin:
``stats`` (requests by status, committed bookings) and ``reset``. Stops at end of input.
Responses are not validated against the specs (``validate_responses=False``): the same for every side
of every comparison, and the validation would dominate the server's time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from benchmarks._common import NOW, benchmark_page
from hubspot_scheduler_provider.testing import HubSpotSandbox


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per window (default: off)")
    parser.add_argument("--window", type=float, default=10.0, help="rate-limit window in seconds")
    args = parser.parse_args()
    sandbox = HubSpotSandbox(
        rate_limit=args.rate_limit,
        rate_window_seconds=args.window,
        daily_limit=None,
        now=NOW,
        validate_responses=False,
    )
    sandbox.add_page(benchmark_page())
    with sandbox:
        print(json.dumps({"url": sandbox.url, "token": sandbox.token}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                requests = sandbox.requests
                statuses = Counter(str(request.status) for request in requests)
                bookings = sandbox.bookings
                distinct = {(b["request"]["email"], b["start"]) for b in bookings}
                answer = {
                    "requests": len(requests),
                    "statuses": statuses,
                    "bookings": len(bookings),
                    "distinct_bookings": len(distinct),
                    "booking_posts": sum(1 for r in requests if r.path.endswith("/meeting-links/book")),
                }
            elif command == "reset":
                sandbox.reset()
                sandbox.add_page(benchmark_page())
                answer = {"ok": True}
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
