"""Shared by the benchmarks: the benchmark meeting page, payloads for it, and the sandbox process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

T = TypeVar("T")

#: The sandbox's fixed "now" (a Monday); slot ``i`` starts ``(i + 1) * 15`` minutes later.
NOW = datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc)
SLUG = "benchmark-host"
SLOT_MINUTES = 15
#: 96 slots a day, every day, for 16 weeks: 10,752 distinct slots, enough for the 10,000-item batch.
WEEKS = 16
RESULT_PREFIX = "BENCHMARK-RESULT "


def benchmark_page() -> Any:
    """A page that is open around the clock, so one host can take 10,000 bookings at distinct times."""
    from hubspot_scheduler_provider.testing import Host, MeetingPage

    host = Host("1900", "2900", "bench.host@sandbox.example", "Bench", "Host", "UTC")
    return MeetingPage(
        slug=SLUG,
        link_id="3900",
        name="Benchmark",
        link_type="PERSONAL_LINK",
        organizer=host,
        timezone="UTC",
        durations_ms=(SLOT_MINUTES * 60_000,),
        increment_minutes=SLOT_MINUTES,
        hours={day: (0, 24 * 60) for day in range(7)},
        weeks_to_advertise=WEEKS,
    )


def payload(number: int) -> dict[str, Any]:
    """The booking for slot ``number``: what a DAG author would hand the operators."""
    start = NOW + timedelta(minutes=SLOT_MINUTES * (number + 1))
    return {
        "slug": SLUG,
        "email": f"bench{number}@example.com",
        "firstName": "Bench",
        "lastName": f"Lead{number}",
        "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": SLOT_MINUTES * 60_000,
    }


def payloads(count: int) -> Iterator[dict[str, Any]]:
    """Bookings for the first ``count`` slots, made as they are consumed."""
    return (payload(number) for number in range(count))


class SandboxProcess:
    """``benchmarks.sandbox_process`` in a child process, driven over its stdin/stdout."""

    def __init__(self, *, rate_limit: int | None = None, window_seconds: float = 10.0) -> None:
        command = [sys.executable, "-m", "benchmarks.sandbox_process", "--window", str(window_seconds)]
        if rate_limit is not None:
            command += ["--rate-limit", str(rate_limit)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        hello = json.loads(self._readline())
        self.url: str = hello["url"]
        self.token: str = hello["token"]

    def _readline(self) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process exited")
        return line

    def _command(self, name: str) -> Any:
        assert self._process.stdin is not None
        self._process.stdin.write(name + "\n")
        return json.loads(self._readline())

    def stats(self) -> dict[str, Any]:
        """``{"requests": n, "statuses": {"200": n, "429": n, ...}, "bookings": n}`` since the last reset."""
        return self._command("stats")  # type: ignore[no-any-return]

    def reset(self) -> None:
        """No bookings, contacts, logged requests or rate-limit history; the benchmark page again."""
        self._command("reset")

    def connection_json(self) -> str:
        return json.dumps({"conn_type": "hubspot", "host": self.url, "password": self.token})

    def use_as_default_connection(self) -> None:
        os.environ["AIRFLOW_CONN_HUBSPOT_DEFAULT"] = self.connection_json()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


def rolling_window_minimum(requests: int, limit: int, window_seconds: float) -> float:
    """The least time any client takes to send ``requests`` at ``limit`` per rolling window: the first
    ``limit`` go at once, the next ``limit`` when those leave the window, and so on, so it is
    floor((N - 1) / L) x W. The linear (N - L) x W / L agrees with it where N is a multiple of L (and the
    ceiling benchmark's 1,000 at 50 per window is), but where N is not it promises what no client can
    do: 396 requests at 190 per 10 s need 20 s (190 at 0 s, 190 at 10 s, 16 at 20 s), not 10.8 s."""
    return ((requests - 1) // limit) * window_seconds if requests > 0 else 0.0


def timed(action: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``action`` took, and what it returned."""
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def quiet_airflow_logs() -> None:
    """Benchmarks measure work, not log formatting: keep Airflow's task loggers at WARNING."""
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")


def report(result: dict[str, Any]) -> None:
    """Hand the result to ``python -m benchmarks`` (the last line of stdout)."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def allow_execute_outside_task_runner() -> None:
    """Benchmarks call ``execute`` directly, as Airflow's own tests do (Airflow 3 warns otherwise)."""
    try:
        from airflow.sdk.bases.operator import ExecutorSafeguard
    except ImportError:  # Airflow 2
        from airflow.models.baseoperator import ExecutorSafeguard  # type: ignore[no-redef,attr-defined]
    ExecutorSafeguard.test_mode = True


def context(try_number: int = 1) -> Any:
    """The part of an Airflow context ``BookMeetingsOperator.execute`` reads, for calling it directly."""
    return {"ti": FakeTaskInstance(try_number)}


class FakeTaskInstance:
    """What ``BookMeetingsOperator.execute`` uses of the context's task instance."""

    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value
