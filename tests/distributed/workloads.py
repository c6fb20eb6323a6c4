"""Run one workload DAG on the tier and measure it (used by the tests and ``benchmarks.distributed``).

Elapsed time runs from the run's first request reaching the sandbox to its last booking committed
(sampled every 50 ms in the test process). The physical minimum of R requests at L per rolling window W
is floor((R - 1) / L) x W: request k can start no earlier than one window after request k - L, so
requests go in bursts of L one window apart (the first L at once). (R - L) x W / L, the smooth-rate
figure, equals it only when L divides R; for 1,000 at 190 it says 42.6 s where 50 s is the least
possible, so both are reported. Lost and duplicated bookings come from the sandbox's own
booking list, failures from the tasks' XCom results.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.distributed.conftest import LIMIT, WINDOW_SECONDS, booking_census

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.e2e.rest_client import AirflowRestClient

BOOK_PATH = "/meeting-links/book"


@dataclass
class Measured:
    tag: str
    requested: int
    state: str
    elapsed_s: float
    requests: int
    rejected_429: int
    booked_once: int
    duplicates: int
    lost: int
    failed_reported: list[dict[str, Any]]
    hostnames: dict[str, str] = field(default_factory=dict)
    tries: dict[str, int] = field(default_factory=dict)
    #: Bookings committed in each window W since the first request (where time went).
    per_window: list[int] = field(default_factory=list)

    @property
    def minimum_s(self) -> float:
        return physical_minimum(self.requests)

    @property
    def smooth_minimum_s(self) -> float:
        return max(self.requests - LIMIT, 0) * WINDOW_SECONDS / LIMIT

    @property
    def ratio(self) -> float:
        return self.elapsed_s / self.minimum_s if self.minimum_s else 0.0

    @property
    def fraction_429(self) -> float:
        return self.rejected_429 / self.requests if self.requests else 0.0

    def summary(self) -> str:
        return (
            f"{self.tag}: {self.requested} requested, {self.state}; {self.elapsed_s:.1f} s vs minimum "
            f"{self.minimum_s:.1f} s (ratio {self.ratio:.3f}; (R-L)W/L {self.smooth_minimum_s:.1f} s); "
            f"{self.requests} requests, "
            f"{self.rejected_429} 429s; {self.booked_once} booked once, {self.duplicates} duplicated, "
            f"{self.lost} lost, {len(self.failed_reported)} reported failed; hosts {self.hostnames}; "
            f"tries {self.tries}; bookings per {WINDOW_SECONDS} s: {self.per_window}"
        )


def physical_minimum(requests: int, limit: int = LIMIT, window_seconds: float = WINDOW_SECONDS) -> float:
    """Least seconds from the first to the last of ``requests`` at ``limit`` per rolling window."""
    return (max(requests, 1) - 1) // limit * window_seconds


class _Sampler(threading.Thread):
    """Samples the sandbox's request log: when the first request arrived, when the last booking did."""

    def __init__(self, sandbox: Any, already: int) -> None:
        super().__init__(daemon=True)
        self.sandbox, self.already = sandbox, already
        self.first_at: float | None = None
        self.last_booking_at: float | None = None
        self._bookings = self._started_with = len(sandbox.bookings)
        self.stop_event = threading.Event()
        #: (seconds since the first request, bookings committed since the start) at each change.
        self.series: list[tuple[float, int]] = []

    def run(self) -> None:
        while not self.stop_event.wait(0.05):
            now = time.monotonic()
            with self.sandbox.app._log_lock:
                count = len(self.sandbox.app.requests)
            if self.first_at is None and count > self.already:
                self.first_at = now
            bookings = len(self.sandbox.state.bookings)
            if bookings != self._bookings:
                self._bookings, self.last_booking_at = bookings, now
                if self.first_at is not None:
                    self.series.append((now - self.first_at, bookings - self._started_with))


def run_workload(
    rest: AirflowRestClient,
    sandbox: Any,
    dag_id: str,
    *,
    first: int,
    count: int,
    parts: int,
    tag: str,
    during: Callable[[str], None] | None = None,
    timeout: float = 420,
) -> Measured:
    """Trigger ``dag_id`` for ``parts`` x ``count`` bookings tagged ``tag``, wait for it, measure it.

    ``during(run_id)`` (chaos) runs in the test thread while the DAG run is in progress."""
    rest.wait_for_dag(dag_id)
    rest.unpause(dag_id)
    with sandbox.app._log_lock:
        before = list(sandbox.app.requests)
    sampler = _Sampler(sandbox, len(before))
    sampler.start()
    run = rest.trigger(dag_id, {"first": first, "count": count, "tag": tag})
    run_id = run["dag_run_id"]
    try:
        if during is not None:
            during(run_id)
        finished = rest.wait_for_run(dag_id, run_id, timeout=timeout)
    finally:
        sampler.stop_event.set()
        sampler.join()
    with sandbox.app._log_lock:
        new = sandbox.app.requests[len(before) :]
    census = booking_census(sandbox, tag)
    wanted = {f"{tag}-{slot}@example.com" for slot in range(first, first + parts * count)}
    failed = _reported_failures(rest, dag_id, run_id, tag, first, count)
    failed_emails = {str(item.get("email")) for item in failed}
    tis = rest.task_instances(dag_id, run_id)
    return Measured(
        tag=tag,
        requested=len(wanted),
        state=str(finished["state"]),
        elapsed_s=(sampler.last_booking_at or 0.0) - (sampler.first_at or 0.0),
        requests=len(new),
        rejected_429=sum(1 for request in new if request.status == 429),
        booked_once=sum(1 for email in wanted if census[email] == 1),
        duplicates=sum(n - 1 for n in census.values() if n > 1),
        lost=sum(1 for email in wanted if census[email] == 0 and email not in failed_emails),
        failed_reported=failed,
        hostnames={_ti_name(ti): str(ti.get("hostname")) for ti in tis if ti["task_id"] != "plan"},
        tries={
            _ti_name(ti): int(ti.get("try_number") or 0) for ti in tis if int(ti.get("try_number") or 0) > 1
        },
        per_window=_per_window(sampler.series),
    )


def _per_window(series: list[tuple[float, int]]) -> list[int]:
    counts: list[int] = []
    done = 0
    for at, total in series:
        bucket = int(at // WINDOW_SECONDS)
        while len(counts) <= bucket:
            counts.append(0)
        counts[bucket] += total - done
        done = total
    return counts


def _ti_name(ti: dict[str, Any]) -> str:
    index = ti.get("map_index", -1)
    return ti["task_id"] if index in (-1, None) else f"{ti['task_id']}[{index}]"


def _reported_failures(
    rest: AirflowRestClient, dag_id: str, run_id: str, tag: str, first: int, count: int
) -> list[dict[str, Any]]:
    """Items reported failed with a reason: a batch's XCom ``{"index", "error"}`` entries, and the
    booking of a mapped task that ended failed (Airflow reports it, with the task's log)."""
    failures: list[dict[str, Any]] = []
    for ti in rest.task_instances(dag_id, run_id):
        if ti["task_id"].startswith("batch_"):
            part = ("batch_a", "batch_b").index(ti["task_id"])
            try:
                results = rest.xcom(dag_id, run_id, ti["task_id"])
            except AssertionError:
                continue
            for result in results or []:
                if isinstance(result, dict) and "error" in result:
                    slot = first + part * count + int(result["index"])
                    failures.append({"email": f"{tag}-{slot}@example.com", "error": result["error"]})
        elif ti["task_id"] == "book" and ti["state"] == "failed":
            slot = first + int(ti["map_index"])
            failures.append({"email": f"{tag}-{slot}@example.com", "error": f"task {_ti_name(ti)} failed"})
    return failures
