"""One booking's record while an earlier try still runs (a task cleared mid-POST, a zombie worker): the
repeated try asks the CRM about the earlier send, and an answer the earlier try records meanwhile is
returned, never deleted and sent again."""

from __future__ import annotations

from typing import Any

import pytest

from hubspot_scheduler_provider.batch_ledger import BatchLedger
from hubspot_scheduler_provider.ledger import LedgerRecord, TaskLedger, booking_entry
from hubspot_scheduler_provider.models.booking import format_utc
from tests.operators.conftest import HAS_LEDGER
from tests.reliability.helpers import booking_posts
from tests.reliability.test_exactly_once import FakeTime, a_booking, book

pytestmark = pytest.mark.skipif(not HAS_LEDGER, reason="the task state store exists from Airflow 3.3")


class Store(dict[str, Any]):
    """The task state store's interface: what both tries of the task instance read and write."""

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        self[key] = value

    def delete(self, key: str) -> None:
        self.pop(key, None)


def test_an_answer_the_earlier_try_records_during_the_crm_check_is_returned_not_resent(sandbox: Any) -> None:
    booking = a_booking()
    entry = booking_entry(booking)
    fake = FakeTime()
    earlier = TaskLedger(Store())  # try 1's view of the store; try 2 below shares it
    sent = LedgerRecord(
        "sending", "f", booking.slug, format_utc(booking.start_time), booking.duration, fake.now
    )
    earlier.write(entry, sent)
    answer = {"calendarEventId": "try-1-event", "start": format_utc(booking.start_time), "isOffline": False}

    def sleep(seconds: float) -> None:  # while try 2 waits for the CRM, try 1's POST returns
        fake.sleep(seconds)
        earlier.write(entry, sent.booked(answer, reconciled=False))

    outcome = book(
        ledger=earlier, repeat=True, booking=booking, sleep=sleep, clock=fake.clock, index_lag_seconds=5.0
    )

    assert (outcome.raw, outcome.source) == (answer, "ledger")
    assert booking_posts(sandbox) == 0  # try 2 sent nothing: the lead is booked once, by try 1
    assert earlier.read(entry) == sent.booked(answer, reconciled=False)  # and its record is kept


def test_a_batch_answer_the_earlier_try_stores_during_the_crm_check_is_returned_not_resent(
    sandbox: Any,
) -> None:
    """The same race on a batch's ledger, which reads the store once (``load``) and keeps what it read:
    the check before deleting the record must ask the store again, or try 2 sees the stale ``sending``."""
    booking = a_booking()
    entry = booking_entry(booking)
    fake = FakeTime()
    store = Store()
    earlier = BatchLedger(TaskLedger(store), try_number=1, clock=lambda: 0.0)
    earlier.load()
    sent = LedgerRecord(
        "sending", "f", booking.slug, format_utc(booking.start_time), booking.duration, fake.now
    )
    earlier.write(entry, sent)  # stored at once (group commit); its answer is not
    repeated = BatchLedger(TaskLedger(store), try_number=2, clock=lambda: 0.0)
    repeated.load()
    answer = {"calendarEventId": "try-1-event", "start": format_utc(booking.start_time), "isOffline": False}

    def sleep(seconds: float) -> None:  # while try 2 waits for the CRM, try 1's answer is stored
        fake.sleep(seconds)
        earlier.write(entry, sent.booked(answer, reconciled=False))
        earlier.flush()

    outcome = book(
        ledger=repeated, repeat=True, booking=booking, sleep=sleep, clock=fake.clock, index_lag_seconds=5.0
    )

    assert (outcome.raw, outcome.source) == (answer, "ledger")
    assert booking_posts(sandbox) == 0  # try 2 sent nothing: the lead is booked once, by try 1
    third = BatchLedger(TaskLedger(store), try_number=3)
    third.load()
    assert third.read(entry) == sent.booked(answer, reconciled=False)  # and no later try forgets it
