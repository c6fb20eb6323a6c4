"""The client-side limiter, on a fake clock (no sleeping, no timing)."""

from __future__ import annotations

import threading

import pytest

from hubspot_scheduler_provider.pacing import (
    PacedAdapter,
    RateLimitSnapshot,
    SlidingWindowLimiter,
    limit_from_headers,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(
    clock: FakeClock, max_requests: int = 3, window: float = 1.0, headroom: float = 0.0
) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(max_requests, window, headroom=headroom, clock=clock, sleep=clock.sleep)


def test_a_full_window_passes_at_once_then_each_request_waits_for_the_oldest_to_leave():
    clock = FakeClock()
    pacer = limiter(clock)

    starts = []
    for _ in range(7):
        pacer.acquire()
        starts.append(clock.now - 100.0)

    assert starts == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]
    # Never more than 3 starts in any window of 1 s (half-open, as HubSpot and the sandbox count).
    assert all(starts[i + 3] - starts[i] >= 1.0 for i in range(len(starts) - 3))
    assert pacer.acquired == 7
    assert pacer.waited_seconds == pytest.approx(2.0)  # the 4th and the 7th waited


def test_headroom_stretches_the_window():
    clock = FakeClock()
    pacer = limiter(clock, max_requests=2, window=10.0, headroom=0.05)

    for _ in range(3):
        pacer.acquire()

    assert clock.sleeps == [pytest.approx(10.5)]


def test_a_quiet_window_allows_a_burst_again():
    clock = FakeClock()
    pacer = limiter(clock)
    for _ in range(3):
        pacer.acquire()
    clock.now += 5.0

    waits = [pacer.acquire() for _ in range(3)]

    assert waits == [0.0, 0.0, 0.0]


def test_configure_keeps_the_requests_already_started():
    clock = FakeClock()
    pacer = limiter(clock, max_requests=10)
    for _ in range(4):
        pacer.acquire()

    pacer.configure(2, 1.0)  # e.g. HubSpot's headers say the limit is lower than assumed

    assert pacer.acquire() == pytest.approx(1.0)  # 4 started at t=0 already exceed 2 per window
    assert (pacer.max_requests, pacer.window_seconds) == (2, 1.0)


def test_threads_share_one_limit():
    clock = FakeClock()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:  # threads advance the shared fake clock
        with lock:
            clock.now = max(clock.now, clock.now + seconds)

    pacer = SlidingWindowLimiter(5, 1.0, headroom=0.0, clock=clock, sleep=sleep)
    starts: list[float] = []

    def worker() -> None:
        for _ in range(5):
            pacer.acquire()
            with lock:
                starts.append(clock.now)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(starts) == 20
    starts.sort()
    assert all(starts[i + 5] - starts[i] >= 1.0 - 1e-9 for i in range(len(starts) - 5))


def test_a_slot_counts_until_a_window_after_its_answer():
    clock = FakeClock()
    pacer = limiter(clock, max_requests=2, window=1.0)

    with pacer.slot():
        clock.now += 0.4  # the answer takes 0.4 s
    with pacer.slot():
        pass
    waited = pacer.acquire()

    # HubSpot may have counted both requests as late as their answers (t=0.4): wait until t=1.4.
    assert clock.now - 100.0 == pytest.approx(1.4)
    assert waited == pytest.approx(1.0)


def test_requests_in_flight_count_until_answered():
    pacer = SlidingWindowLimiter(1, 0.001, headroom=0.0)
    started_second = threading.Event()

    def second_request() -> None:
        with pacer.slot():
            started_second.set()

    with pacer.slot():
        other = threading.Thread(target=second_request)
        other.start()
        # However long the first request takes, the second may not start before its answer.
        assert not started_second.wait(timeout=0.2)
    other.join(timeout=10)

    assert started_second.is_set()
    assert pacer.acquired == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 1.0), "max_requests_per_window"),
        ((True, 1.0), "max_requests_per_window"),
        ((5, 0), "window_seconds"),
    ],
)
def test_bad_limits_are_refused(args, message):
    with pytest.raises(ValueError, match=f"^{message}: must be"):
        SlidingWindowLimiter(*args)


def test_limit_from_headers():
    assert limit_from_headers(RateLimitSnapshot(max=190, interval_ms=10_000)) == (190, 10.0)
    assert limit_from_headers(RateLimitSnapshot(max=190)) is None
    assert limit_from_headers(RateLimitSnapshot()) is None


def test_adapter_pools_a_connection_per_worker():
    adapter = PacedAdapter(SlidingWindowLimiter(5, 1.0), pool_maxsize=16)
    assert adapter._pool_maxsize == 16
    assert adapter.limiter.max_requests == 5
