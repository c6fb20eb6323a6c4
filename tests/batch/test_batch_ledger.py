"""A retried batch resumes from its ledger (Airflow 3.3+): recorded answers come back without any HubSpot
call, only the item sent without an answer is settled (through the CRM), and nothing is booked twice."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG

from hubspot_scheduler_provider.batch_ledger import BATCH_FLUSH_ITEMS
from hubspot_scheduler_provider.operators.book_meetings import BookMeetingsOperator
from hubspot_scheduler_provider.testing import DropAfterCommit
from tests.batch.conftest import lead
from tests.operators.conftest import HAS_LEDGER, hubspot_answers, run_dag, task_instance, xcom_value

pytestmark = pytest.mark.skipif(not HAS_LEDGER, reason="the task state store exists from Airflow 3.3")

ITEMS = 12


def test_a_retry_resumes_from_the_ledger_and_settles_only_the_unanswered_item(sandbox: Any) -> None:
    # Item 0's answer is lost after HubSpot booked it, and the CRM shows it only 2 s later, after try 1
    # gave up on it (crm_index_lag_seconds=0): try 1 fails that item "outcome unknown".
    sandbox.crm_index_lag_seconds = 2.0
    sandbox.inject(DropAfterCommit(), method="POST", path_contains="/meeting-links/book")
    leads = [lead(n) for n in range(ITEMS)]
    with DAG(
        "batch_ledger_resume", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False
    ) as dag:
        BookMeetingsOperator(
            task_id="book", payloads=leads, retries=1, retry_delay=timedelta(0), crm_index_lag_seconds=0
        )
    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert task_instance(dag_run, "book").try_number == 2
    results = xcom_value(dag_run, "book")
    answers = {answer["start"]: answer for answer in hubspot_answers(sandbox)}
    assert len(sandbox.bookings) == ITEMS and len(answers) == ITEMS  # each booked once
    assert results[0]["reconciled"] is True and results[0]["start"] == leads[0]["startTime"]
    for number in range(1, ITEMS):  # HubSpot's own answers, recorded by try 1
        assert results[number] == answers[leads[number]["startTime"]]
    posts = [r for r in sandbox.requests if r.path.endswith("/meeting-links/book")]
    assert len(posts) == ITEMS  # try 2 sent no booking
    contacts = {r.path for r in sandbox.requests if "/crm/v3/objects/contacts/" in r.path}
    assert contacts == {"/crm/v3/objects/contacts/lead0%40example.com"}  # only item 0 was settled


def test_the_ledger_is_read_back_in_groups(sandbox: Any) -> None:
    """A retry reads the checkpoint and the groups written after it, never a value per item."""
    from hubspot_scheduler_provider.batch_ledger import BatchLedger
    from hubspot_scheduler_provider.ledger import LedgerRecord, TaskLedger

    def item_entry(index: int) -> str:
        return f"booking:{index}"

    class Store:
        def __init__(self) -> None:
            self.values: dict[str, Any] = {}
            self.gets = 0

        def get(self, key: str, default: Any = None) -> Any:
            self.gets += 1
            return self.values.get(key, default)

        def set(self, key: str, value: Any, **kwargs: Any) -> None:
            self.values[key] = value

        def delete(self, key: str) -> None:
            self.values.pop(key, None)

    store = Store()
    total = 101  # the last answers flushed with the 96th (a multiple of BATCH_FLUSH_ITEMS)
    assert 96 % BATCH_FLUSH_ITEMS == 0
    first = BatchLedger(TaskLedger(store), clock=lambda: 0.0)  # answer groups by count only
    first.load()
    for index in range(total - 2):  # the last two items never started
        record = LedgerRecord("sending", "f", "s", "2026-12-02T14:00:00Z", 1, float(index))
        first.write(item_entry(index), record)
        if index == 5:  # HubSpot refused it: nothing booked
            first.forget(item_entry(index))
        elif index not in (7, 97):  # 7 and 97 were sent without an answer
            first.write(item_entry(index), record.booked({"n": index}, reconciled=False))
    # No flush at the end: the worker died. Item 98's answer, in the last group, was never written.

    again = BatchLedger(TaskLedger(store), try_number=2)
    store.gets = 0
    again.load()

    answered, pending = again.summary()
    assert (answered, pending) == (total - 6, {item_entry(7), item_entry(97), item_entry(98)})
    assert again.read(item_entry(5)) is None and again.read(item_entry(total - 1)) is None
    # Try 1's answer chunk (rewritten at each flush: its checkpoint is from the 3rd, after item 96), its
    # sending groups after that checkpoint (items 97 and 98), each sequence read until the first gap,
    # then try 2's own two empty sequences: 7 reads for 101 items, nothing per item.
    assert store.gets == (1 + 1) + (2 + 1) + 2


def test_a_thousand_hubspot_answers_are_read_back_in_a_handful_of_values() -> None:
    """Answer chunks grow in place up to the value budget (compressed): a retry of a 1,000-item batch
    reads a few values, each well under the state store's 64 KB policy."""
    from hubspot_scheduler_provider.batch_ledger import BatchLedger
    from hubspot_scheduler_provider.ledger import LedgerRecord, TaskLedger

    class Store(dict[str, Any]):
        gets = 0

        def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
            Store.gets += 1
            return super().get(key, default)

        def set(self, key: str, value: Any, **kwargs: Any) -> None:
            self[key] = value

        def delete(self, key: str) -> None:
            self.pop(key, None)

    def answer(n: int) -> dict[str, Any]:  # the shape and size of HubSpot's booking answer (~1 KB)
        return {
            "calendarEventId": f"{n:08x}-cal-{n * 7919:012d}",
            "contactId": str(90_000 + n),
            "start": f"2026-12-{2 + n // 96:02d}T{(n // 4) % 24:02d}:{15 * (n % 4):02d}:00Z",
            "end": f"2026-12-{2 + n // 96:02d}T{(n // 4) % 24:02d}:{15 * (n % 4) + 14:02d}:59Z",
            "duration": 1_800_000,
            "subject": f"Meeting with Lead {n} and Alice Smith",
            "location": "https://meetings.example/alice",
            "locale": "en-us",
            "isOffline": False,
            "formFields": [
                {"name": name, "label": name.title(), "fieldType": "text", "value": f"{name}-{n}"}
                for name in ("firstname", "lastname", "email", "company", "phone")
            ],
            "guestEmails": [],
            "bookingTimezone": "Europe/Berlin",
            "legalConsentResponses": [],
        }

    store = Store()
    ledger = BatchLedger(TaskLedger(store), clock=lambda: 0.0)
    ledger.load()
    for n in range(1000):
        record = LedgerRecord("sending", f"f{n}", "s", "2026-12-02T14:00:00Z", 1, float(n))
        ledger.write(f"booking:{n}", record)
        ledger.write(f"booking:{n}", record.booked(answer(n), reconciled=False))
    ledger.flush()

    Store.gets = 0
    again = BatchLedger(TaskLedger(store), try_number=2)
    reads = again.load()

    assert again.summary() == (1000, set())
    assert again.read("booking:999").answer == answer(999)  # type: ignore[union-attr]
    assert reads == Store.gets <= 6, reads
    sizes = [len(json.dumps(value)) for value in store.values()]
    assert max(sizes) < 64_000, max(sizes)


@pytest.mark.parametrize("failing", ["answers:", "sending:"])
def test_a_failed_store_write_stops_the_batch_sending_and_hides_no_record(failing: str) -> None:
    """After one failed write nothing more is POSTed, so no stored group can sit behind a missing one:
    every item that was sent is, on the retry, either booked or still "sending" (settled in the CRM)."""
    from hubspot_scheduler_provider.batch_ledger import BatchLedger
    from hubspot_scheduler_provider.ledger import LedgerRecord, TaskLedger

    class FlakyStore:
        def __init__(self) -> None:
            self.values: dict[str, Any] = {}
            self.fail: str | None = None

        def get(self, key: str, default: Any = None) -> Any:
            return self.values.get(key, default)

        def set(self, key: str, value: Any, **kwargs: Any) -> None:
            if self.fail and self.fail in key:
                self.fail = None
                raise OSError("the supervisor did not answer")
            self.values[key] = value

        def delete(self, key: str) -> None:
            self.values.pop(key, None)

    store, now = FlakyStore(), [0.0]
    ledger = BatchLedger(TaskLedger(store), clock=lambda: now[0])
    posted = []
    for number in range(4):
        record = LedgerRecord("sending", "f", "s", "2026-12-02T14:00:00Z", 1, float(number))
        if number == 1:
            store.fail = failing
        try:
            ledger.write(f"booking:{number}", record)
        except Exception:
            continue  # not sent
        posted.append(number)
        now[0] += 1.0  # each answer is due to be written at once
        ledger.write(f"booking:{number}", record.booked({"n": number}, reconciled=False))
    ledger.flush()

    retry = BatchLedger(TaskLedger(store), try_number=2)
    retry.load()

    states = {n: getattr(retry.read(f"booking:{n}"), "state", None) for n in range(4)}
    assert posted == ([0, 1] if failing == "answers:" else [0])
    assert all(states[n] in ("booked", "sending") for n in posted), states
    assert all(states[n] is None for n in range(4) if n not in posted), states


def test_items_own_booking_keys_book_once_across_dag_runs(sandbox: Any) -> None:
    leads = [{**lead(n), "booking_key": f"lead-{n}"} for n in range(3)]
    with DAG(
        "batch_keys_two_runs", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False
    ) as dag:
        BookMeetingsOperator(task_id="book", payloads=leads)

    first = run_dag(dag)
    second = run_dag(dag)

    assert (first.state, second.state) == ("success", "success")
    assert len(sandbox.bookings) == 3
    again = xcom_value(second, "book")
    assert all(result["reconciled"] is True for result in again)
    assert [r["calendarEventId"] for r in again] == [r["calendarEventId"] for r in xcom_value(first, "book")]
