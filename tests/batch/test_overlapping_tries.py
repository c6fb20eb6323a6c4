"""Two tries of one batch running at once (a task cleared while its POSTs were in flight, a zombie
worker) share the task state store: neither may overwrite the other's records, so a third try still
finds every answer and every send without one."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from hubspot_scheduler_provider.batch_ledger import BatchLedger
from hubspot_scheduler_provider.ledger import LedgerRecord, TaskLedger
from tests.operators.conftest import HAS_LEDGER

pytestmark = pytest.mark.skipif(not HAS_LEDGER, reason="the task state store exists from Airflow 3.3")


class SharedStore:
    """The task state store's interface over one dict: what every try of the task instance reads."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def sending(item: int) -> LedgerRecord:
    return LedgerRecord("sending", f"f{item}", "s", "2026-12-02T14:00:00Z", 1, float(item))


def send(ledger: BatchLedger, item: int) -> None:
    ledger.write(f"booking:{item}", sending(item))


def answer(ledger: BatchLedger, item: int) -> None:
    ledger.write(f"booking:{item}", sending(item).booked({"n": item}, reconciled=False))


def try_of(store: SharedStore, number: int) -> BatchLedger:
    ledger = BatchLedger(TaskLedger(store), try_number=number, clock=lambda: 0.0)  # flushes by count
    ledger.load()
    return ledger


def states(ledger: BatchLedger, items: range | list[int]) -> dict[int, str | None]:
    return {n: getattr(ledger.read(f"booking:{n}"), "state", None) for n in items}


def test_an_answer_of_try_1_survives_the_writes_of_an_overlapping_try_2() -> None:
    store = SharedStore()
    first = try_of(store, 1)
    for item in range(6):  # sent and answered, the answers still buffered
        send(first, item)
        answer(first, item)
    second = try_of(store, 2)  # cleared meanwhile: starts while try 1's answers are in flight
    assert states(second, range(6)) == dict.fromkeys(range(6), "sending")
    for item in range(10, 14):
        send(second, item)
        answer(second, item)
    second.flush()
    first.flush()  # try 1's answers land after try 2 wrote its own
    send(first, 6)  # both tries go on sending and answering: neither may reuse the other's keys
    for item in (14, 15):
        send(second, item)
    answer(second, 14)
    second.flush()

    third = try_of(store, 3)

    assert states(third, range(6)) == dict.fromkeys(range(6), "booked")  # try 1's answers
    assert third.read("booking:3").answer == {"n": 3}  # type: ignore[union-attr]
    assert states(third, range(10, 15)) == dict.fromkeys(range(10, 15), "booked")  # try 2's
    assert states(third, [6, 15]) == {6: "sending", 15: "sending"}  # sent, no answer: settled in the CRM


def test_two_tries_writing_at_once_from_many_threads_lose_no_record() -> None:
    """Both tries' worker threads interleave their writes at random; every answer and every unanswered
    send of either is there for try 3 (group commit, chunk growth and checkpoints of both tries)."""
    store = SharedStore()
    first, second = try_of(store, 1), try_of(store, 2)
    answered: dict[int, bool] = {}
    lock = threading.Lock()

    def worker(ledger: BatchLedger, items: range, seed: int) -> None:
        rng = random.Random(seed)
        for item in items:
            send(ledger, item)
            if rng.random() < 0.9:  # some stay in flight: no answer
                answer(ledger, item)
                with lock:
                    answered[item] = True
            else:
                with lock:
                    answered[item] = False

    threads = [
        threading.Thread(target=worker, args=(ledger, range(base + 50 * n, base + 50 * (n + 1)), base + n))
        for ledger, base in ((first, 0), (second, 1000))
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    first.flush()
    second.flush()

    third = try_of(store, 3)

    found = states(third, sorted(answered))
    assert found == {item: "booked" if ok else "sending" for item, ok in answered.items()}
