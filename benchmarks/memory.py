"""Memory: peak RSS of a process booking 10,000 items with ``BookMeetingsOperator``, and per item.

Each batch runs in a fresh child process (the sandbox in yet another), so the peak is the batch's
alone. Items are streamed from a generator, so what grows with N is what the operator keeps: the
results it returns (HubSpot's booking JSON per item, the task's XCom value) and anything else it holds
per item. The per-item figure is the difference between the 10,000- and the 1,000-item peaks, divided
by 9,000; the results' own size per item is reported beside it, so the rest is the operator's overhead.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from typing import Any

from benchmarks._common import (
    RESULT_PREFIX,
    SandboxProcess,
    allow_execute_outside_task_runner,
    context,
    payloads,
    quiet_airflow_logs,
    report,
)

SIZES = (1_000, 10_000)


def _deep_size(value: Any, seen: set[int]) -> int:
    """Bytes of ``value`` and everything it holds, each object counted once (interned keys are shared)."""
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(_deep_size(key, seen) + _deep_size(item, seen) for key, item in value.items())
    elif isinstance(value, list):
        size += sum(_deep_size(item, seen) for item in value)
    return size


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(count: int) -> None:
    quiet_airflow_logs()
    allow_execute_outside_task_runner()
    from hubspot_scheduler_provider.operators.book_meetings import BookMeetingsOperator

    # The sandbox sends no rate-limit headers with its limit off; pace far above what it can serve.
    operator = BookMeetingsOperator(
        task_id="book", payloads=payloads(count), max_requests_per_window=1_000_000, window_seconds=1
    )
    before = _peak_rss_mb()
    results = operator.execute(context())
    peak = _peak_rss_mb()
    assert len(results) == count and not any("error" in result for result in results), results[:3]
    report(
        {
            "count": count,
            "before_mb": before,
            "peak_mb": peak,
            "result_json_bytes": len(json.dumps(results)),
            "result_object_bytes": _deep_size(results, set()),
        }
    )


def _run_child(count: int, sandbox: SandboxProcess) -> dict:
    env = {**os.environ, "AIRFLOW_CONN_HUBSPOT_DEFAULT": sandbox.connection_json()}
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--child", str(count)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in reversed(output.splitlines()) if line.startswith(RESULT_PREFIX))
    return json.loads(line[len(RESULT_PREFIX) :])  # type: ignore[no-any-return]


def main() -> None:
    runs = {}
    with SandboxProcess() as sandbox:
        for count in SIZES:
            sandbox.reset()
            runs[count] = _run_child(count, sandbox)
            assert sandbox.stats()["bookings"] == count
    small, large = runs[SIZES[0]], runs[SIZES[1]]
    per_item = (large["peak_mb"] - small["peak_mb"]) * 1024 * 1024 / (SIZES[1] - SIZES[0])
    report(
        {
            "batch_10k_peak_rss_mb": round(large["peak_mb"], 1),
            "batch_1k_peak_rss_mb": round(small["peak_mb"], 1),
            "batch_rss_before_execute_mb": round(large["before_mb"], 1),
            "batch_rss_bytes_per_item": round(per_item),
            # What the operator holds per item beyond the results it returns.
            "batch_overhead_bytes_per_item": round(per_item - large["result_object_bytes"] / SIZES[1]),
            # The returned results themselves (the XCom value): Python objects in memory, and as JSON.
            "batch_result_bytes_per_item": round(large["result_object_bytes"] / SIZES[1]),
            "batch_result_json_bytes_per_item": round(large["result_json_bytes"] / SIZES[1]),
        }
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]))
    else:
        main()
