"""The booking ledger of a batch (``BookMeetingsOperator``): one task, many items, few state-store calls.

A batch of 1,000 items must not cost 2,000 state-store writes on the way and 1,000 reads on a retry, so
its records are written and read in groups (see :class:`BatchLedger`); what the records mean is the
same as for one booking (:mod:`~hubspot_scheduler_provider.ledger`).

Keys carry the try that wrote them (``sending:<try>:<n>``, ``answers:<try>:<n>``): the state store is
shared by every try and clear of the task instance, and two tries may run at once (a task cleared while
its POSTs were in flight, a zombie worker). Each try writes only its own keys, numbered from its own
counters, so no try can overwrite another's record; a try reads every try's keys, from 1 to its own
``try_number`` (Airflow gives each try its own number, so that lists every try that can have written).
The ledger was never released with another key scheme (it came with 0.2), so no other format is read.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.ledger import LedgerRecord, TaskLedger

if TYPE_CHECKING:
    from collections.abc import Callable

#: Buffered answers are written once this many are waiting ...
BATCH_FLUSH_ITEMS = 8
#: ... or this often, so a killed worker leaves few answered items to settle through the CRM.
BATCH_FLUSH_SECONDS = 0.25
#: An answer chunk grows (rewritten in place) until its compressed form would pass this size: well
#: under the state store's 64 KB value policy. HubSpot's booking answers repeat the same keys and form
#: fields, so hundreds fit in one: a retry of a 1,000-item batch reads a handful of values.
ANSWER_CHUNK_BYTES = 48_000


class BatchLedger:
    """A batch's records on a :class:`TaskLedger`: few writes per booking, few reads per retry.

    * ``sending:<try>:<n>``: the ``sending`` records of items about to be POSTed. A worker's record must be
      stored before its POST, but the workers wait for one another's writes (group commit): a record
      joins the group being collected while a write is in flight, and one write stores the whole group.
    * ``answers:<try>:<n>``: HubSpot's answers (and "refused, nothing booked" marks), buffered and written
      every :data:`BATCH_FLUSH_SECONDS` or :data:`BATCH_FLUSH_ITEMS` answers, and when the batch ends.
      Each write rewrites the current chunk with the new answers added (zlib-compressed JSON), until it
      would pass :data:`ANSWER_CHUNK_BYTES`; then chunk ``n + 1`` starts. An answer not written yet when
      the worker died leaves its item ``sending``: the retry settles it through the CRM, as any
      unanswered send.
    * Each chunk also carries the checkpoint: how many of its try's ``sending`` groups it sums up, and of
      their records only those still without a stored answer (a handful: the items in flight).

    :meth:`load` reads, for each try from 1 to ``try_number``, its answer chunks and the ``sending``
    groups written after its last chunk's checkpoint, nothing per item (a try that wrote nothing costs
    two reads). Where an item appears more than once, in one try or several, the newest entry wins (an
    answer over the ``sending`` record it answers). Thread-safe.
    """

    def __init__(
        self,
        ledger: TaskLedger,
        *,
        try_number: int = 1,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._ledger = ledger
        #: This try's number: the first part of every key it writes.
        self.try_number = max(1, try_number)
        self.durable = ledger.durable
        self._clock = clock
        self._wall_clock = wall_clock
        self._changed = threading.Condition(threading.Lock())
        self._records: dict[str, LedgerRecord | None] = {}
        # Group commit of sending records: the group being collected, and how many groups are stored.
        self._collecting: dict[str, dict[str, Any]] = {}
        self._next_sending_group = 0
        self._sending_groups_written = 0
        self._writer_busy = False
        self._write_errors: dict[int, BaseException] = {}
        #: Stored sending records without a stored answer: the checkpoint's content.
        self._unanswered: dict[str, dict[str, Any]] = {}
        # Buffered answers, and the chunk they go to (this try's own: another try's chunks stay).
        self._answers: dict[str, dict[str, Any]] = {}
        self._chunk: dict[str, dict[str, Any]] = {}
        self._chunk_number = 0
        self._flushed_at = clock()
        #: Answer chunks are written one at a time, in order: a retry reads them until the first gap.
        self._flush_lock = threading.Lock()
        #: The first failed write: from then on the ledger refuses to record (so nothing more is POSTed),
        #: since a group missing between stored ones would hide the records after it.
        self._broken: BaseException | None = None

    def load(self) -> int:
        """Read what every try recorded (this one too, should its number have run before); return how
        many state-store values were read. This try then writes after its own keys found here."""
        newest: dict[str, tuple[tuple[float, int], LedgerRecord | None]] = {}

        def merge(group: dict[str, Any]) -> None:
            for entry, value in group.items():
                ordered = _group_entry(value) if isinstance(value, dict) else None
                if ordered is not None and (entry not in newest or ordered[0] > newest[entry][0]):
                    newest[entry] = ordered

        reads = 0
        for written_by in range(1, self.try_number + 1):
            read, chunks, sending_groups = self._load_try(written_by, merge)
            reads += read
        self._chunk_number = chunks
        self._next_sending_group = self._sending_groups_written = sending_groups
        self._records = {entry: record for entry, (_, record) in newest.items()}
        self._unanswered = {
            i: r.to_json() for i, r in self._records.items() if r is not None and r.state == "sending"
        }
        return reads

    def _load_try(self, written_by: int, merge: Callable[[dict[str, Any]], None]) -> tuple[int, int, int]:
        """Merge one try's records; return the reads, and how many answer chunks and sending groups."""
        reads, number, checkpoint = 0, 0, None
        while True:
            reads += 1
            chunk = _unpack(self._ledger.read_value(f"answers:{written_by}:{number}"))
            if chunk is None:
                break
            merge(chunk["entries"])
            checkpoint, number = chunk, number + 1
        chunks = number
        if checkpoint is not None:
            number = checkpoint["sending_groups"]
            merge(checkpoint["unanswered"])
        else:
            number = 0
        while True:
            reads += 1
            group = self._ledger.read_value(f"sending:{written_by}:{number}")
            if not isinstance(group, dict):
                break
            number += 1
            merge(group)
        return reads, chunks, number

    def read(self, entry: str) -> LedgerRecord | None:
        return self._records.get(entry)

    def reread(self, entry: str) -> LedgerRecord | None:
        """``entry``'s record with what the other tries stored since :meth:`load` (one still running may
        have answered or re-sent it): read again before a record is deleted only, a few values per try."""
        found: list[tuple[tuple[float, int], LedgerRecord | None]] = []

        def merge(group: dict[str, Any]) -> None:
            value = group.get(entry)
            ordered = _group_entry(value) if isinstance(value, dict) else None
            if ordered is not None:
                found.append(ordered)

        for written_by in range(1, self.try_number):  # this try's own records are the ones in memory
            self._load_try(written_by, merge)
        with self._changed:
            current = self._records.get(entry)
            if current is not None and found:
                order, newest = max(found, key=lambda pair: pair[0])
                if order > (current.sent_at, 2 if current.state == "booked" else 0):
                    self._records[entry] = current = newest
            return current

    def summary(self) -> tuple[int, set[str]]:
        """After :meth:`load`: how many items have a recorded answer, and which were sent without one."""
        answered = sum(1 for r in self._records.values() if r is not None and r.state == "booked")
        pending = {i for i, r in self._records.items() if r is not None and r.state == "sending"}
        return answered, pending

    def write(self, entry: str, record: LedgerRecord) -> None:
        if record.state == "sending":
            self._refuse_if_broken()
        with self._changed:
            self._records[entry] = record
        if record.state == "sending":
            self._store_sending(entry, record)
        else:
            self._buffer_answer(entry, record.to_json())

    def forget(self, entry: str) -> None:
        with self._changed:
            self._records[entry] = None
        self._buffer_answer(entry, {"forgotten_at": self._wall_clock()})

    def flush(self) -> None:
        """Write the buffered answers (the batch calls it when it ends, however it ends).

        Never raises: the answers are HubSpot's already (the meetings are booked). A failed write breaks
        the ledger, so no further booking is sent this try; the next try settles the items whose answer
        was not stored through the CRM."""
        with self._flush_lock:
            with self._changed:
                if not self._answers or self._broken is not None:
                    return
                group, self._answers = self._answers, {}
                self._flushed_at = self._clock()
                for entry in group:
                    self._unanswered.pop(entry, None)
                checkpoint = {
                    "sending_groups": self._sending_groups_written,
                    "unanswered": dict(self._unanswered),
                }
            chunk = {**self._chunk, **group}
            packed = _pack(chunk, checkpoint)
            if len(packed["zlib"]) > ANSWER_CHUNK_BYTES and self._chunk:
                self._chunk_number += 1
                chunk = dict(group)
                packed = _pack(chunk, checkpoint)
            try:
                self._ledger.write_value(f"answers:{self.try_number}:{self._chunk_number}", packed)
                self._chunk = chunk
            except Exception as error:
                self._break(error)

    def _break(self, error: BaseException) -> None:
        with self._changed:
            if self._broken is None:
                self._broken = error
            self._changed.notify_all()

    def _refuse_if_broken(self) -> None:
        if self._broken is not None:
            raise RuntimeError(
                "the booking ledger could not store a record earlier in this try, so nothing more is sent"
            ) from self._broken

    def _buffer_answer(self, entry: str, value: dict[str, Any]) -> None:
        with self._changed:
            self._answers[entry] = value
            due = (
                len(self._answers) >= BATCH_FLUSH_ITEMS
                or self._clock() - self._flushed_at >= BATCH_FLUSH_SECONDS
            )
        if due:
            self.flush()

    def _store_sending(self, entry: str, record: LedgerRecord) -> None:
        """Return once ``record`` is stored (in the group being collected), writing groups in turn."""
        with self._changed:
            self._collecting[entry] = record.to_json()
            mine = self._next_sending_group
            while self._sending_groups_written <= mine:
                if self._writer_busy:
                    self._changed.wait()
                    continue
                self._writer_busy = True
                group, self._collecting = self._collecting, {}
                number = self._next_sending_group
                self._next_sending_group += 1
                self._changed.release()
                try:
                    if self._broken is not None:
                        raise self._broken
                    self._ledger.write_value(f"sending:{self.try_number}:{number}", dict(group))
                except BaseException as error:
                    self._write_errors[number] = error
                    if self._broken is None:
                        self._broken = error
                    raise
                finally:
                    self._changed.acquire()
                    self._writer_busy = False
                    self._sending_groups_written = max(self._sending_groups_written, number + 1)
                    if number not in self._write_errors:
                        self._unanswered.update(group)
                    self._changed.notify_all()
            if mine in self._write_errors:
                raise RuntimeError("the booking ledger could not store this item's record") from (
                    self._write_errors[mine]
                )


def _group_entry(value: dict[str, Any]) -> tuple[tuple[float, int], LedgerRecord | None] | None:
    """One entry of a ``sending``/``answers`` group, with its order: (time, rank) where an answer outranks
    the ``sending`` record of the same send, and a "refused" mark lies between them."""
    if "forgotten_at" in value:
        at = value["forgotten_at"]
        return ((float(at), 1), None) if isinstance(at, (int, float)) else None
    record = LedgerRecord.from_json(value)
    if record is None:
        return None
    return (record.sent_at, 2 if record.state == "booked" else 0), record


def _pack(entries: dict[str, Any], checkpoint: dict[str, Any]) -> dict[str, str]:
    """An answer chunk as the state store keeps it: JSON, compressed, as text (values must be JSON)."""
    text = json.dumps({"entries": entries, **checkpoint}, separators=(",", ":"), sort_keys=True)
    return {"zlib": base64.b64encode(zlib.compress(text.encode(), 6)).decode("ascii")}


def _unpack(value: Any) -> dict[str, Any] | None:
    """A chunk written by :func:`_pack`, or None where there is none (or it is not one)."""
    if not isinstance(value, dict) or not isinstance(value.get("zlib"), str):
        return None
    try:
        chunk = json.loads(zlib.decompress(base64.b64decode(value["zlib"])))
    except (ValueError, zlib.error):
        return None
    if not (
        isinstance(chunk, dict)
        and isinstance(chunk.get("entries"), dict)
        and isinstance(chunk.get("unanswered"), dict)
        and isinstance(chunk.get("sending_groups"), int)
    ):
        return None
    return chunk
