"""Two processes, one account: the shared window (``shared_pacing``, Redis) keeps them under the limit.

Each process runs a ``BookMeetingsOperator`` batch, as two Celery workers would, against one sandbox
with a scaled-down window (HubSpot's 190 per 10 s). Sharing the window through Redis, fewer than 1 % of
their requests are answered 429 (how near the rolling window's physical minimum they finish is
``benchmarks/distributed.py``'s figure, not a test's); the control without ``rate_limit_storage_uri``
(each process paces alone, as before) shows the test can fail: together they send twice the limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.distributed.conftest import booking_census
from tests.distributed.deployment import redis_command
from tests.distributed.workloads import physical_minimum
from tests.e2e.airflow_deployment import free_loopback_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
LIMIT, WINDOW = 190, 10
PER_PROCESS = 250


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_loopback_port()
    server = subprocess.Popen(redis_command(port, tmp_path), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def small_sandbox() -> Iterator[Any]:
    from benchmarks._common import NOW, benchmark_page
    from hubspot_scheduler_provider.testing import HubSpotSandbox

    sandbox = HubSpotSandbox(
        rate_limit=LIMIT, rate_window_seconds=WINDOW, daily_limit=None, now=NOW, validate_responses=False
    )
    sandbox.add_page(benchmark_page())
    with sandbox:
        yield sandbox


def run_two_batches(sandbox: Any, tag: str, **extra: Any) -> dict[str, Any]:
    env = {
        **os.environ,
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": sandbox.connection_json(**extra),
        "PYTHONPATH": str(REPO),
    }
    start_at = time.time() + 12  # both interpreters imported Airflow by then, on a busy machine
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.distributed.batch_process",
                str(part * PER_PROCESS),
                str(PER_PROCESS),
                tag,
                str(start_at),
            ],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for part in range(2)
    ]
    outputs = [
        json.loads(process.communicate(timeout=240)[0].strip().splitlines()[-1]) for process in processes
    ]
    requests = sandbox.requests
    census = booking_census(sandbox, tag)
    elapsed = max(output["elapsed_s"] for output in outputs)
    minimum = physical_minimum(len(requests), LIMIT, WINDOW)
    figures = {
        "requests": len(requests),
        "429s": sum(1 for request in requests if request.status == 429),
        "elapsed_s": elapsed,
        "minimum_s": round(minimum, 2),
        "failed": sum(output["failed"] for output in outputs),
        "duplicates": sum(n - 1 for n in census.values() if n > 1),
        "booked": len(census),
    }
    figures["fraction_429"] = round(figures["429s"] / figures["requests"], 4)
    figures["ratio"] = round(elapsed / minimum, 3)
    print(tag, figures)
    return figures


def test_two_processes_share_one_window(small_sandbox: Any, redis_url: str) -> None:
    figures = run_two_batches(
        small_sandbox,
        "shared",
        rate_limit_storage_uri=redis_url,
        rate_limit_max_requests=LIMIT,
        rate_limit_window_seconds=WINDOW,
    )
    assert (figures["booked"], figures["failed"], figures["duplicates"]) == (2 * PER_PROCESS, 0, 0), figures
    # Measured 0.0 to 0.0099 here (the control: 0.0625); the bound leaves room for a busier machine.
    assert figures["fraction_429"] <= 0.015, figures
    # How near the physical minimum they finish is the benchmark's figure (benchmarks/distributed.py,
    # distributed_ratio), measured in one run against the minimum: a time bound here would test the machine.


def test_control_each_process_pacing_alone_exceeds_the_limit(small_sandbox: Any) -> None:
    figures = run_two_batches(small_sandbox, "alone")
    assert (figures["booked"], figures["failed"], figures["duplicates"]) == (2 * PER_PROCESS, 0, 0), figures
    assert figures["fraction_429"] >= 0.04, figures
