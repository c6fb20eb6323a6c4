"""Book many meetings through one hook: a bounded thread pool, one paced session, results in input order.

The engine behind ``BookMeetingsOperator``, usable without it (e.g. from a ``@task``). Per item it builds
the booking with the caller's ``build`` function, books it through the one booking flow
(:class:`~hubspot_scheduler_provider.booking_flow.BookingFlow`, ledger entry ``item:<index>``: a retried
batch returns what an earlier try recorded without calling HubSpot, settles only the items sent without
an answer, and books the rest), and keeps only the result: HubSpot's booking JSON, or
``{"index", "error", "field"?}``. Everything else (the pydantic booking, the response) is dropped as
soon as the item is done, and at most ``2 * max_workers`` items are in flight, so a 10,000-item batch
holds little more than its results.

Pacing is not done here but in the hook's session (``pacing.PacedAdapter``): every request counts
against HubSpot's limit, including retries and CRM reads. The hook must be built with
``pace_on_remaining=False`` (see ``pacing`` for why the two pacing mechanisms exist).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.errors import BookingInputError, HubSpotError
from hubspot_scheduler_provider.pacing import limit_from_headers
from hubspot_scheduler_provider.retry_rules import classify

if TYPE_CHECKING:
    import logging

    from hubspot_scheduler_provider.batch_ledger import BatchLedger
    from hubspot_scheduler_provider.booking_flow import BookingFlow
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
    from hubspot_scheduler_provider.models import MeetingBooking
    from hubspot_scheduler_provider.pacing import SlidingWindowLimiter

    #: What ``build`` returns for one item: the booking, and its booking key (or None).
    BuiltItem = tuple[MeetingBooking, str | None]

#: Failures logged one by one; the rest are counted in progress logs and listed in the results.
FAILURES_LOGGED = 5


@dataclass
class BatchReport:
    """The outcome of a batch: ``results[i]`` belongs to input item ``i``."""

    results: list[dict[str, Any]]
    booked: int = 0
    reconciled: int = 0
    failed: int = 0
    #: Failures that another attempt may fix (rate limits, 5xx, network, unknown outcome, not attempted).
    retryable_failures: int = 0
    #: Items answered from this task's ledger (an earlier try's recorded answer), with no HubSpot call.
    from_ledger: int = 0
    #: Why the batch stopped early (an error every remaining item would hit), else None.
    aborted_by: str | None = None
    elapsed_seconds: float = 0.0
    first_failures: list[str] = field(default_factory=list)


class _WarningsOnly:
    """A view of the batch's logger without debug/info, handed to the per-item exactly-once check: its
    per-item messages would be 10,000 lines for 10,000 items; progress logs summarise them, warnings
    still show. (The hook itself logs per request only at DEBUG level, so it needs nothing of the kind.)
    A wrapper rather than a logger level because the task's logger is shared, and is a structlog logger
    on Airflow 3."""

    def __init__(self, log: Any) -> None:
        self._log = log

    def debug(self, *args: Any, **kwargs: Any) -> None:
        pass

    info = debug

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


def _compact(value: Any) -> Any:
    """HubSpot's JSON with interned keys: each response brings its own copies of the same ~30 key strings
    (``formFields`` entries included), about 1.5 KB per item that 10,000 results would otherwise hold."""
    if isinstance(value, dict):
        return {sys.intern(key): _compact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_compact(item) for item in value]
    return value


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class BatchBooker:
    """Books items concurrently; one instance per batch.

    :param hook: shared by every thread (one session). Mount a ``pacing.PacedAdapter`` on it to pace.
    :param build: turns one input item into ``(MeetingBooking, booking_key or None)`` (raises
        ``BookingInputError``).
    :param flow: the booking flow for this try, with the batch's ledger (``item:<index>`` entries).
    :param ledger: the flow's :class:`~hubspot_scheduler_provider.batch_ledger.BatchLedger`, or None without a
        task state store.
    :param limiter: the adapter's limiter; configured from HubSpot's headers after the first answer
        when ``learn_limit``.
    :param index_wait_seconds: without a durable ledger, a repeated try waits this long once (HubSpot's
        CRM index lag) before checking each item once in the CRM.
    """

    def __init__(
        self,
        hook: HubSpotSchedulerHook,
        *,
        build: Callable[[Any], BuiltItem],
        flow: BookingFlow,
        ledger: BatchLedger | None,
        limiter: SlidingWindowLimiter,
        learn_limit: bool,
        max_workers: int,
        allow_offline: bool,
        progress_interval_seconds: float,
        log: logging.Logger | Any,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        index_wait_seconds: float = 0.0,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.hook = hook
        self.build = build
        self.flow = flow
        self.ledger = ledger
        self.limiter = limiter
        self.learn_limit = learn_limit
        self.max_workers = max_workers
        self.allow_offline = allow_offline
        self.progress_interval_seconds = progress_interval_seconds
        self.log = log
        flow.log = _WarningsOnly(log)
        self._clock = clock
        self._sleep = sleep
        self.index_wait_seconds = index_wait_seconds
        from hubspot_scheduler_provider import redaction

        #: Results go to XCom, which Airflow never masks: item errors are scrubbed of every known secret.
        self._redact: Callable[[str], str] = redaction.redact if redact is None else redact
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._report = BatchReport(results=[])

    # ------------------------------------------------------------------ one item (any thread)
    def _book_one(self, index: int, item: Any) -> dict[str, Any]:
        if self._stop.is_set():
            return self._failed(index, None, f"not attempted: {self._report.aborted_by}", retryable=True)
        try:
            booking, booking_key = self.build(item)
            outcome = self.flow.book(booking, booking_key=booking_key)
        except BookingInputError as error:
            return self._failed(index, error, str(error), retryable=False, field=error.field)
        except Exception as error:
            verdict = classify(error)
            if verdict.stops_batch:
                with self._lock:
                    if not self._stop.is_set():
                        self._report.aborted_by = self._redact(f"{type(error).__name__}: {error}")
                        self._stop.set()
            reason = str(error) if isinstance(error, HubSpotError) else f"{type(error).__name__}: {error}"
            return self._failed(index, error, reason, retryable=verdict.airflow_retry_helps)
        if outcome.is_offline and not self.allow_offline:
            return self._failed(
                index,
                None,
                "HubSpot answered isOffline=true: the host's calendar is disconnected, so nothing is on "
                f"any calendar (correlationId {outcome.correlation_id or '-'}); set allow_offline=True "
                "to accept",
                retryable=False,
            )
        with self._lock:
            self._report.booked += 1
            self._report.reconciled += outcome.reconciled
            self._report.from_ledger += outcome.source == "ledger"
        return _compact(outcome.raw)

    def _entry_of(self, item: Any) -> str | None:
        """The item's ledger entry, or None when it does not build (it fails later, naming its field)."""
        from hubspot_scheduler_provider.ledger import booking_entry

        try:
            booking, _ = self.build(item)
        except Exception:
            return None
        return booking_entry(booking)

    def _failed(
        self,
        index: int,
        error: BaseException | None,
        reason: str,
        *,
        retryable: bool,
        field: str | None = None,
    ) -> dict[str, Any]:
        # Results go to XCom, which Airflow never masks: scrub every secret the hook knows.
        reason = self._redact(reason)
        with self._lock:
            report = self._report
            report.failed += 1
            report.retryable_failures += retryable
            if len(report.first_failures) < FAILURES_LOGGED:
                report.first_failures.append(f"#{index}: {reason}")
                log_it = True
            else:
                log_it = False
        if log_it:
            if error is not None and not isinstance(error, HubSpotError | BookingInputError):
                self.log.exception("Item #%d failed unexpectedly", index, exc_info=error)
            else:
                self.log.warning("Item #%d failed: %s", index, reason)
        entry: dict[str, Any] = {"index": index, "error": reason}
        if field is not None:
            entry["field"] = field
        return entry

    # ------------------------------------------------------------------ the batch (calling thread)
    def run(self, items: Iterable[Any]) -> BatchReport:
        """Book every item; never raises for an item's failure (see :class:`BatchReport`)."""
        total = len(items) if isinstance(items, Sized) else None
        report = self._report
        results: dict[int, dict[str, Any]] = {}
        started = self._clock()
        next_progress = started + self.progress_interval_seconds
        source: Iterator[tuple[int, Any]] = enumerate(items)
        if self.ledger is not None:
            reads = self.ledger.load()
            answered, pending = self.ledger.summary()
            if answered or pending:
                self.log.info(
                    "This task's booking ledger (%d values read): %d items answered by an earlier try "
                    "(returned without calling HubSpot), %d sent without an answer (settled through the CRM)",
                    reads,
                    answered,
                    len(pending),
                )
            if pending:
                # Spread the unanswered items over the run: each is settled through the CRM, whose search
                # limit (far below the general one) then overlaps with booking the others.
                ordered = list(source)
                unanswered = [pair for pair in ordered if self._entry_of(pair[1]) in pending]
                rest = [pair for pair in ordered if pair not in unanswered]
                every = max(1, len(rest) // (len(unanswered) + 1))
                merged: list[tuple[int, Any]] = []
                for position, pair in enumerate(rest):
                    if unanswered and position % every == every - 1:
                        merged.append(unanswered.pop(0))
                    merged.append(pair)
                source = iter(merged + unanswered)
        if self.index_wait_seconds > 0:
            # No ledger says what an earlier try sent: wait for HubSpot's CRM index once here, then check
            # each item once, instead of waiting per item.
            self.log.info(
                "Repeated attempt: waiting %.0f s for HubSpot's CRM index, then checking each item in "
                "the CRM before booking it",
                self.index_wait_seconds,
            )
            self._sleep(self.index_wait_seconds)

        # Until HubSpot has answered once, the account's limit is unknown: one item at a time. Items
        # answered from the ledger or refused as bad input call nothing, so they do not end this.
        if self.learn_limit:
            for index, item in source:
                from_ledger = self._report.from_ledger
                results[index] = self._book_one(index, item)
                if "field" not in results[index] and self._report.from_ledger == from_ledger:
                    break  # HubSpot answered (or failed to)
            self._learn_limit()

        in_flight: dict[Future[dict[str, Any]], int] = {}
        max_in_flight = 2 * self.max_workers
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="hubspot-book") as pool:
            try:
                exhausted = False
                while in_flight or not exhausted:
                    while not exhausted and len(in_flight) < max_in_flight:
                        try:
                            index, item = next(source)
                        except StopIteration:
                            exhausted = True
                            break
                        in_flight[pool.submit(self._book_one, index, item)] = index
                    if not in_flight:
                        break
                    timeout = max(0.0, next_progress - self._clock())
                    done, _ = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        results[in_flight.pop(future)] = future.result()
                    if self._clock() >= next_progress:
                        self._log_progress(len(results), total, started)
                        next_progress = self._clock() + self.progress_interval_seconds
            except BaseException:
                # Killed (SIGTERM raises in this thread) or a bug: let running items finish, start no more.
                self._report.aborted_by = "the task was stopped"
                self._stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                self._flush_ledger()
                raise
        self._flush_ledger()
        report.results = [results[index] for index in sorted(results)]
        report.elapsed_seconds = self._clock() - started
        return report

    def _flush_ledger(self) -> None:
        if self.ledger is not None:
            self.ledger.flush()

    def _learn_limit(self) -> None:
        learned = limit_from_headers(self.hook.rate_limit_state.snapshot)
        if learned is None:
            self.log.info("No rate-limit headers from HubSpot yet; pacing to %r", self.limiter)
            return
        self.limiter.configure(*learned)
        self.log.info(
            "Pacing to HubSpot's limit of %d requests per %g s (from its X-HubSpot-RateLimit headers)",
            *learned,
        )

    def _log_progress(self, done: int, total: int | None, started: float) -> None:
        elapsed = self._clock() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        with self._lock:
            booked, failed = self._report.booked, self._report.failed
        if total is not None and rate > 0:
            eta = _duration((total - done) / rate)
            of_total = f"{done}/{total}"
        else:
            eta, of_total = "unknown", str(done)
        self.log.info(
            "Progress: %s items done (%d booked, %d failed) in %s, %.1f items/s, ETA %s",
            of_total,
            booked,
            failed,
            _duration(elapsed),
            rate,
            eta,
        )
