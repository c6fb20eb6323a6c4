"""Chaos on the CeleryExecutor tier: each scenario breaks something while bookings run, lets Airflow
recover (supervisor restarts, heartbeat timeouts of 20 s, task retries) and checks the sandbox's booking
list. Invariant: every requested booking exists exactly once, or is reported failed with a reason.

Scenarios: SIGKILL of a worker while it runs a batch; SIGKILL of a worker while a single booking's POST
is held open by the sandbox (committed, answer pending); scheduler restart mid-run; Redis (the broker and
the shared rate-limit window) stopped for 10 s; API server restarted while tasks run.
"""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.testing.faults import SlowAfterCommit
from tests.distributed.conftest import booking_census
from tests.distributed.test_workloads import record
from tests.distributed.workloads import Measured, run_workload

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.distributed.deployment import CeleryDeployment
    from tests.e2e.rest_client import AirflowRestClient

BATCH_ITEMS = 150  # per task: the two tasks book for about 10 s at 190 per 10 s
# Slots (benchmarks._common: 10,752 on the page): workloads 0-999 and 2000-2199, chaos 3000-6399.


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def booked(sandbox: Any, tag: str) -> int:
    return sum(booking_census(sandbox, tag).values())


def check(name: str, measured: Measured) -> None:
    survived = measured.duplicates == 0 and measured.lost == 0
    print(name, measured.summary())
    record(
        name,
        {
            "survived": survived,
            "state": measured.state,
            "duplicates": measured.duplicates,
            "lost": measured.lost,
            "reported_failed": len(measured.failed_reported),
            "booked_once": measured.booked_once,
            "requested": measured.requested,
            "retried": measured.tries,
        },
    )
    assert survived, measured.summary()
    for failure in measured.failed_reported:
        assert failure["error"], failure  # reported failed with a reason


def batches(
    rest: AirflowRestClient, sandbox: Any, tag: str, first: int, disturb: Callable[[], None]
) -> Measured:
    """Both batches of ``tag``, disturbed once each has booked 30 (both are running then: a task still
    queued in Redis would be lost with it, and wait out ``task_queued_timeout`` instead)."""

    def part_booked(part: int) -> int:
        census = booking_census(sandbox, tag)
        start = first + part * BATCH_ITEMS
        return sum(census[f"{tag}-{slot}@example.com"] for slot in range(start, start + BATCH_ITEMS))

    def once_under_way(run_id: str) -> None:
        wait_until(lambda: min(part_booked(0), part_booked(1)) >= 30, "both batches to be under way")
        disturb()

    return run_workload(
        rest,
        sandbox,
        "distributed_batches",
        first=first,
        count=BATCH_ITEMS,
        parts=2,
        tag=tag,
        during=once_under_way,
    )


def test_chaos_worker_killed_during_a_batch(
    deployment: CeleryDeployment, rest: AirflowRestClient, sandbox: Any
) -> None:
    measured = batches(rest, sandbox, "kb", 3000, lambda: deployment.restart("worker-1", signal.SIGKILL))
    check("chaos_worker_killed_in_batch", measured)
    assert measured.tries.get("batch_a", 1) >= 2, measured.summary()  # the killed batch was retried


def test_chaos_worker_killed_inside_a_booking_post(
    deployment: CeleryDeployment, rest: AirflowRestClient, sandbox: Any
) -> None:
    tag, first, count = "kp", 3500, 4
    sandbox.inject(SlowAfterCommit(60), method="POST", path_contains="/book", times=1)

    def kill_while_held(run_id: str) -> None:
        wait_until(lambda: sandbox.app.faults.pending() == 0 and booked(sandbox, tag) >= 1, "the held POST")
        held = next(r for r in sandbox.requests if r.fault == "SlowAfterCommit")
        map_index = int(held.body["email"].split("-")[1].split("@")[0]) - first
        ti = next(
            ti
            for ti in rest.task_instances("distributed_mapped", run_id)
            if ti["task_id"] == "book" and ti["map_index"] == map_index
        )
        deployment.restart(str(ti["hostname"]), signal.SIGKILL)

    measured = run_workload(
        rest,
        sandbox,
        "distributed_mapped",
        first=first,
        count=count,
        parts=1,
        tag=tag,
        during=kill_while_held,
    )
    check("chaos_worker_killed_in_post", measured)


def test_chaos_scheduler_restarted(
    deployment: CeleryDeployment, rest: AirflowRestClient, sandbox: Any
) -> None:
    measured = batches(rest, sandbox, "ks", 4000, lambda: deployment.restart("scheduler", signal.SIGTERM))
    check("chaos_scheduler_restarted", measured)


def test_chaos_redis_down_for_10_s(
    deployment: CeleryDeployment, rest: AirflowRestClient, sandbox: Any
) -> None:
    def stop_redis() -> None:
        old = deployment.pid("redis")
        with deployment.hold("redis"):
            deployment.kill("redis", signal.SIGKILL)
            time.sleep(10)
        deployment.wait_restarted("redis", old)

    check("chaos_redis_down_10s", batches(rest, sandbox, "kr", 5000, stop_redis))


@pytest.mark.timeout(600)
def test_chaos_api_server_restarted(
    deployment: CeleryDeployment, rest: AirflowRestClient, sandbox: Any
) -> None:
    def restart_api() -> None:
        deployment.restart("api-server", signal.SIGTERM)
        deployment._wait_until_healthy(120)  # same JWT secret: the test's token stays valid

    check("chaos_api_server_restarted", batches(rest, sandbox, "ka", 6000, restart_api))
