"""The batch logs progress and a few failures, not a line per item (10,000 items, not 10,000 lines)."""

from __future__ import annotations

from typing import Any

from hubspot_scheduler_provider.batch import BatchBooker
from hubspot_scheduler_provider.booking_flow import BookingFlow
from hubspot_scheduler_provider.booking_input import build_booking
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.pacing import PacedAdapter, SlidingWindowLimiter
from tests.batch.conftest import lead


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def _record(self, level: str, message: str, *args: Any, **kwargs: Any) -> None:
        self.lines.append((level, message % args if args else message))

    def debug(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._record("debug", message, *args)

    def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._record("info", message, *args)

    def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._record("warning", message, *args)

    def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._record("exception", message, *args)


def run_batch(items: list[Any], log: RecordingLog, *, progress_interval_seconds: float = 3600.0) -> Any:
    limiter = SlidingWindowLimiter(1000, 1.0)
    hook = HubSpotSchedulerHook(adapter=PacedAdapter(limiter, pool_maxsize=4), pace_on_remaining=False)
    hook_log = RecordingLog()
    hook._log = hook_log  # type: ignore[assignment]  # records what the hook itself logs
    booker = BatchBooker(
        hook,
        build=lambda item: (build_booking(item), None),
        flow=BookingFlow(hook, log=log),
        ledger=None,
        limiter=limiter,
        learn_limit=True,
        max_workers=4,
        allow_offline=False,
        progress_interval_seconds=progress_interval_seconds,
        log=log,
    )
    try:
        return booker.run(items), hook_log
    finally:
        hook.close()


def test_no_line_per_item_and_only_the_first_failures_one_by_one(sandbox):
    items = [lead(n) for n in range(18)]
    for number in range(1, 9):  # eight bad rows
        items[number] = lead(number, duration="PT7M")
    log = RecordingLog()

    report, hook_log = run_batch(items, log)

    assert (report.booked, report.failed) == (10, 8)
    warnings = [line for level, line in log.lines if level == "warning"]
    assert len(warnings) == 5  # the first five failures; all eight are in the results
    assert [result["index"] for result in report.results if "error" in result] == list(range(1, 9))
    infos = [line for level, line in log.lines if level == "info"]
    assert infos == [
        "Pacing to HubSpot's limit of 100 requests per 10 s (from its X-HubSpot-RateLimit headers)"
    ]
    # The hook's per-request lines are DEBUG only: one INFO line per booking is the operator's to write.
    assert not [line for level, line in hook_log.lines if level == "info"]
    assert sum(line.startswith("Booking a 30-minute meeting") for _, line in hook_log.lines) == 10


def test_progress_lines_say_count_rate_and_eta(sandbox):
    log = RecordingLog()

    report, _ = run_batch([lead(n) for n in range(6)], log, progress_interval_seconds=1e-6)

    assert report.booked == 6
    progress = [line for level, line in log.lines if line.startswith("Progress:")]
    assert progress, log.lines
    assert all("items/s, ETA" in line and "/6 items done" in line for line in progress)
