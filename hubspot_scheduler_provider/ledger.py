"""The booking ledger: a record written BEFORE each booking POST and completed with HubSpot's answer.

HubSpot's booking endpoint has no idempotency key, and its CRM (the only other witness) lags new
meetings and cannot know that an earlier try is still sending. So, like a payments client, the provider
keeps its own record: ``sending`` (what it is about to send, and when) before the request, ``booked``
(HubSpot's whole answer) after it. Every later try of the same task instance reads the record first:

* ``booked``: return the recorded answer; nothing is sent, HubSpot is not called;
* ``sending``: an earlier send's outcome is unknown (or it is still in flight): settle it through the
  CRM (:mod:`~hubspot_scheduler_provider.reconcile`), never race it;
* nothing: nothing was sent, so book (no CRM read needed).

Where the records live:

* :class:`TaskLedger`: Airflow 3.3's task state store (``context["task_state_store"]``), shared by every
  retry and clear of one task instance (DAG run, task, map index). Records never expire
  (``NEVER_EXPIRE``): a task cleared months later must still find them. With ``[state_store]
  clear_on_success = True`` Airflow deletes them when the task succeeds, so "nothing recorded" proves
  nothing on a later clear: the ledger then says it is not :attr:`~Ledger.durable`, and repeated tries
  check the CRM as on older Airflow.
* :class:`NoLedger`: Airflow 2.11 and 3.0 to 3.2 (no state store): nothing is recorded; repeated tries
  rely on the CRM alone (see the README's per-version guarantees).
* :class:`~hubspot_scheduler_provider.batch_ledger.BatchLedger`: one task's many items
  (``BookMeetingsOperator``), on a :class:`TaskLedger`, written and read back in groups.
* :class:`KeyLedger`: cross-run ``booking_key`` records in Airflow 3.3's asset state store.

Writes go through Airflow's supervisor and raise when they fail, so a POST is never sent without its
``sending`` record. One booking's record is one key (``hubspot-booking:booking:<hash>``) written by every
try, and the store has no compare-and-set: a try that finds an earlier try's ``sending`` record (that try
may still run) reads it again before deleting it, and takes a newer record, e.g. the earlier try's
answer, instead (``booking_flow``). A batch's keys carry the try that wrote them (``batch_ledger``).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from hubspot_scheduler_provider.models import MeetingBooking

#: Prefix of every key this provider writes to a state store (other code may share the store).
KEY_PREFIX = "hubspot-booking"
#: Every state store call goes through this lock: a batch's worker threads share the task's store, and
#: the in-process supervisor of ``dag.test()`` is not thread-safe (it removes the task's comms channel
#: while it answers a call). A real supervisor serialises calls on its socket anyway, so it costs nothing.
_STORE_LOCK = threading.Lock()


@dataclass(frozen=True)
class LedgerRecord:
    """What one booking's record says. Times are epoch seconds (JSON has no datetime)."""

    state: Literal["sending", "booked"]
    #: sha256 of the exact JSON body sent: tells whether a later try would send the same booking.
    fingerprint: str
    slug: str
    #: The start sent, ISO 8601 UTC (``...Z``), and the length in milliseconds: what the CRM is asked.
    start: str
    duration_ms: int
    sent_at: float
    #: HubSpot's answer as returned to XCom (``booked`` only).
    answer: dict[str, Any] | None = None
    #: The answer came from the CRM (reconciled), not from HubSpot's booking endpoint.
    reconciled: bool = False
    #: Who wrote it (``dag_id/run_id/task_id[map_index]``): for messages about another run's booking.
    writer: str | None = None
    #: A random id per send, so two senders racing for one booking key can tell who won.
    token: str | None = None
    #: The task's extra links for this booking (name -> URL), so a replay shows them without HubSpot calls.
    links: dict[str, str] | None = None

    def booked(self, answer: Mapping[str, Any], *, reconciled: bool) -> LedgerRecord:
        return replace(self, state="booked", answer=dict(answer), reconciled=reconciled)

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, value: Any) -> LedgerRecord | None:
        """The record, or None for anything that is not one (a foreign or damaged value)."""
        if not isinstance(value, dict) or value.get("state") not in ("sending", "booked"):
            return None
        try:
            return cls(**{name: value[name] for name in cls.__dataclass_fields__ if name in value})
        except TypeError:
            return None


def fingerprint(wire_body: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of ``wire_body`` (keys sorted, no spaces)."""
    text = json.dumps(wire_body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def new_token() -> str:
    return uuid.uuid4().hex


class Ledger(Protocol):
    #: Whether "nothing recorded" proves "nothing sent" (so a repeated try may book without the CRM).
    durable: bool

    def read(self, entry: str) -> LedgerRecord | None: ...

    def reread(self, entry: str) -> LedgerRecord | None:
        """The record as the store holds it now: another try still running may have written it since."""

    def write(self, entry: str, record: LedgerRecord) -> None: ...

    def forget(self, entry: str) -> None:
        """Nothing was booked (HubSpot refused, or the CRM settled it): a later try may send again."""


class StateStore(Protocol):
    """What this module needs of Airflow's task and asset state store accessors."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, **kwargs: Any) -> None: ...

    def delete(self, key: str) -> None: ...


class NoLedger:
    """No state store (Airflow < 3.3): nothing is recorded, nothing proves that nothing was sent."""

    durable = False

    def read(self, entry: str) -> LedgerRecord | None:
        return None

    reread = read

    def write(self, entry: str, record: LedgerRecord) -> None:
        return None

    def forget(self, entry: str) -> None:
        return None


class LockedStore:
    """A state store accessor whose calls are serialised by :data:`_STORE_LOCK`."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def get(self, key: str, default: Any = None) -> Any:
        with _STORE_LOCK:
            return self._store.get(key, default)

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        with _STORE_LOCK:
            self._store.set(key, value, **kwargs)

    def delete(self, key: str) -> None:
        with _STORE_LOCK:
            self._store.delete(key)


class TaskLedger:
    """Records in Airflow 3.3's task state store of the running task instance."""

    def __init__(self, store: StateStore, *, durable: bool = True) -> None:
        self._store = LockedStore(store)
        self.durable = durable

    def read(self, entry: str) -> LedgerRecord | None:
        return LedgerRecord.from_json(self.read_value(entry))

    reread = read  # every read asks the store

    def write(self, entry: str, record: LedgerRecord) -> None:
        self.write_value(entry, record.to_json())

    def forget(self, entry: str) -> None:
        self._store.delete(_key(entry))

    def read_value(self, entry: str) -> Any:
        return self._store.get(_key(entry))

    def write_value(self, entry: str, value: Any) -> None:
        from airflow.sdk.execution_time.context import NEVER_EXPIRE

        self._store.set(_key(entry), value, retention=NEVER_EXPIRE)


def booking_entry(booking: MeetingBooking, *, chosen_in: str | None = None) -> str:
    """The ledger entry of ``booking``: who books what (page, booker, start, length), not where it stands
    in a list, so a retried batch whose input was re-read in another order still finds its records,
    and a task whose upstream now sends another lead does not take the earlier lead's booking for it.
    ``chosen_in`` replaces the start for a booking whose slot is chosen at run time (its window)."""
    from hubspot_scheduler_provider.models.booking import format_utc

    start = chosen_in if chosen_in is not None else format_utc(booking.start_time)
    identity = "\n".join((booking.slug, booking.email.strip().lower(), start, str(booking.duration)))
    return "booking:" + hashlib.sha256(identity.encode()).hexdigest()[:32]


class KeyLedger:
    """Cross-run ``booking_key`` records in Airflow 3.3's asset state store, one per (portal, key).

    The store has no compare-and-set, so :meth:`claim` writes its own ``sending`` record, waits
    ``settle_seconds`` and reads it back: of two senders that both found the key free, the later write
    wins and the other backs off. This holds as long as reading and writing a key takes less than
    ``settle_seconds`` (milliseconds in practice).
    """

    durable = True

    def __init__(
        self,
        store: StateStore,
        portal_id: str,
        *,
        settle_seconds: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = LockedStore(store)
        self._portal = portal_id
        self.settle_seconds = settle_seconds
        self._sleep = sleep

    def key(self, booking_key: str) -> str:
        digest = hashlib.sha256(booking_key.encode()).hexdigest()
        return f"{KEY_PREFIX}:key:{self._portal}:{digest}"

    def read(self, booking_key: str) -> LedgerRecord | None:
        return LedgerRecord.from_json(self._store.get(self.key(booking_key)))

    def write(self, booking_key: str, record: LedgerRecord) -> None:
        self._store.set(self.key(booking_key), record.to_json())

    def forget(self, booking_key: str) -> None:
        self._store.delete(self.key(booking_key))

    def claim(self, booking_key: str, record: LedgerRecord) -> LedgerRecord | None:
        """Write ``record`` (``sending``, with a token) unless another sender holds the key.

        Returns None when this sender holds the key, else the other sender's record.
        """
        held = self.read(booking_key)
        if held is not None:
            return held
        self.write(booking_key, record)
        self._sleep(self.settle_seconds)
        now = self.read(booking_key)
        if now is None or now.token == record.token:
            if now is None:  # deleted meanwhile (the other sender was refused): write again
                self.write(booking_key, record)
            return None
        return now


def _key(entry: str) -> str:
    return f"{KEY_PREFIX}:{entry}"


# --- where the records live for a running task ---------------------------------------------------------

#: The asset whose state store holds cross-run booking keys: a booking task with a ``booking_key``
#: declares it as an inlet (it is never an outlet, so it emits no asset events).
BOOKING_KEYS_ASSET_NAME = "hubspot-scheduler-booking-keys"
BOOKING_KEYS_ASSET_URI = "hubspot-scheduler://booking-keys"


#: Written by every try of a booking task: a repeated try that finds it knows its ledger was not wiped.
_MARKER = "tried"


def task_ledger(context: Mapping[str, Any]) -> Ledger:
    """This task instance's ledger: the task state store on Airflow 3.3+, else :class:`NoLedger`."""
    store = context.get("task_state_store")
    if store is None:
        return NoLedger()
    from airflow.configuration import conf

    from hubspot_scheduler_provider.reconcile import is_repeat_attempt

    ledger = TaskLedger(store)
    # Records deleted on success (clear_on_success), or wiped through the UI or REST API, prove nothing
    # about a later try: every try leaves a marker, and a repeated try that finds none does not trust
    # "nothing recorded" (it asks the CRM, as on older Airflow).
    cleared_on_success = conf.getboolean("state_store", "clear_on_success", fallback=False)
    marker_found = ledger.read_value(_MARKER) is not None if is_repeat_attempt(context) else True
    ledger.durable = marker_found and not cleared_on_success
    ledger.write_value(_MARKER, True)
    return ledger


def key_ledger(context: Mapping[str, Any], portal_id: str) -> KeyLedger | None:
    """The cross-run booking key records (Airflow 3.3+, the task declares the keys asset), else None."""
    stores = context.get("asset_state_store")
    if stores is None:
        return None
    from airflow.sdk import Asset

    return KeyLedger(stores[Asset(name=BOOKING_KEYS_ASSET_NAME, uri=BOOKING_KEYS_ASSET_URI)], portal_id)


def booking_keys_asset() -> Any:
    """The asset a booking task with a ``booking_key`` lists in its inlets (Airflow 3.3+ only)."""
    from airflow.sdk import Asset

    return Asset(name=BOOKING_KEYS_ASSET_NAME, uri=BOOKING_KEYS_ASSET_URI)


def writer_of(context: Mapping[str, Any]) -> str | None:
    """``dag_id/run_id/task_id[map_index]`` of the running task instance, for records and messages."""
    ti = context.get("ti") or context.get("task_instance")
    if ti is None:
        return None
    map_index = getattr(ti, "map_index", -1)
    suffix = f"[{map_index}]" if isinstance(map_index, int) and map_index >= 0 else ""
    parts = (getattr(ti, name, None) for name in ("dag_id", "run_id", "task_id"))
    return "/".join(str(part or "-") for part in parts) + suffix
