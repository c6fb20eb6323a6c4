"""The booking flow without a task state store (``NoLedger``: Airflow < 3.3, and the CRM half of every
version) against the sandbox: each decision path, with the sandbox's booking list as the judge. Waits
are recorded on a fake clock, not slept. The ledger's paths are in ``test_ledger.py``."""

from __future__ import annotations

import json
import logging
import pickle
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

import hubspot_scheduler_provider
from hubspot_scheduler_provider.booking_flow import BookingFlow
from hubspot_scheduler_provider.errors import (
    BookingOutcomeUnknownError,
    HubSpotDailyLimitError,
    HubSpotValidationError,
)
from hubspot_scheduler_provider.hooks.crm import CrmLookup
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.models import MeetingBooking
from hubspot_scheduler_provider.reconcile import RECHECK_STEPS, is_repeat_attempt
from hubspot_scheduler_provider.testing import (
    DropAfterCommit,
    DropBeforeCommit,
    HubSpotSandbox,
    MalformedJson,
    Status,
)
from hubspot_scheduler_provider.testing.sandbox import DEFAULT_SCOPES
from tests.reliability.helpers import (
    FIRST_SLOT,
    HALF_HOUR_MS,
    SANDBOX_NOW,
    TOKEN,
    assert_exactly_once,
    booking_posts,
    key_of,
    payload,
)

log = logging.getLogger("tests.reliability")
CONTACT_GET = "/crm/v3/objects/contacts/"


def a_booking(**changes: Any) -> MeetingBooking:
    wire = payload()
    fields: dict[str, Any] = {
        "slug": wire["slug"],
        "email": wire["email"],
        "first_name": wire["firstName"],
        "last_name": wire["lastName"],
        "start_time": FIRST_SLOT,
        "duration": HALF_HOUR_MS,
    }
    return MeetingBooking(**{**fields, **changes})


def new_hook() -> HubSpotSchedulerHook:
    hook = HubSpotSchedulerHook()
    hook._sleep = lambda seconds: None  # the transport's retry waits
    return hook


class FakeTime:
    """A clock that only moves when slept on: waits are recorded, not spent."""

    def __init__(self, waits: list[float] | None = None) -> None:
        self.now = time.time()
        self.waits = [] if waits is None else waits

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def book(**kwargs: Any) -> Any:
    fake = FakeTime(kwargs.pop("waits", None))
    flow = BookingFlow(
        new_hook(),
        log=log,
        ledger=kwargs.pop("ledger", None),
        repeat=kwargs.pop("repeat", False),
        allow_resend=kwargs.pop("allow_resend", False),
        index_lag_seconds=kwargs.pop("index_lag_seconds", 0.0),
        sleep=kwargs.pop("sleep", fake.sleep),
        clock=kwargs.pop("clock", fake.clock),
    )
    return flow.book(kwargs.pop("booking", a_booking()), **kwargs)


def crm_reads(sandbox: HubSpotSandbox) -> list[str]:
    return [r.path for r in sandbox.requests if "/crm/" in r.path]


def booking_answer_keys() -> set[str]:
    spec_path = (
        Path(hubspot_scheduler_provider.__file__).parent / "testing/specs/scheduler-meetings-2026-09.json"
    )
    spec = json.loads(spec_path.read_text())
    return set(spec["components"]["schemas"]["ExternalMeetingBookingResponse"]["properties"])


# --- first attempt ---------------------------------------------------------------------------------


def test_first_attempt_books_without_asking_the_crm(sandbox):
    outcome = book()

    assert (outcome.reconciled, booking_posts(sandbox), crm_reads(sandbox)) == (False, 1, [])
    assert outcome.raw == {k: v for k, v in sandbox.bookings[0].items() if k in outcome.raw}
    assert_exactly_once(sandbox, [key_of(payload())])


def test_lost_answer_is_reconciled_from_the_crm_with_the_answers_keys(sandbox, caplog):
    sandbox.inject(DropAfterCommit())
    caplog.set_level(logging.INFO)

    outcome = book()

    committed = sandbox.bookings[0]
    assert outcome.reconciled and outcome.raw["reconciled"] is True
    assert set(outcome.raw) - {"reconciled", "crmMeetingId"} <= booking_answer_keys()
    for key in ("contactId", "start", "end", "duration", "subject"):
        assert outcome.raw[key] == committed[key], key
    assert outcome.raw["crmMeetingId"] == committed["crmMeetingId"]
    assert booking_posts(sandbox) == 1
    assert "reconciled" in caplog.text and "guest0@example.com" not in caplog.text
    assert_exactly_once(sandbox, [key_of(payload())])


def test_200_with_a_broken_body_is_reconciled_with_its_correlation_id(sandbox):
    sandbox.inject(MalformedJson())

    outcome = book()

    post = next(r for r in sandbox.requests if r.path.endswith("/book"))
    assert outcome.reconciled and outcome.correlation_id == post.correlation_id
    assert_exactly_once(sandbox, [key_of(payload())])


def test_unknown_outcome_not_in_the_crm_is_not_resent_and_says_what_to_check(sandbox):
    sandbox.inject(DropBeforeCommit())
    waits: list[float] = []

    with pytest.raises(BookingOutcomeUnknownError) as raised:
        book(waits=waits, index_lag_seconds=7.0)

    message = str(raised.value)
    assert message.startswith(
        "Booking outcome unknown, not re-sent: page 'alice-smith' at 2026-12-02T14:00:00Z"
    )
    for hint in ("g***@example.com", "shows no meeting", "allow_resend=True", "retry the task"):
        assert hint in message
    assert "guest0@example.com" not in message
    # Checked at once, then re-checked until the index lag has passed: 1 + 2 + 3 + (7 - 6) seconds.
    assert waits == [*RECHECK_STEPS[:3], 1.0]
    assert len([p for p in crm_reads(sandbox) if p.startswith(CONTACT_GET)]) == 1 + len(waits)
    assert (booking_posts(sandbox), len(sandbox.bookings)) == (1, 0)
    assert_exactly_once(sandbox, [key_of(payload())], {key_of(payload()): message})


def test_allow_resend_sends_once_more_when_the_crm_has_nothing(sandbox):
    sandbox.inject(Status(502))

    outcome = book(allow_resend=True)

    assert (outcome.reconciled, booking_posts(sandbox)) == (False, 2)
    assert_exactly_once(sandbox, [key_of(payload())])


def test_allow_resend_still_reconciles_a_resent_booking_whose_answer_is_lost(sandbox):
    sandbox.inject(Status(504))
    sandbox.inject(DropAfterCommit())

    outcome = book(allow_resend=True)

    assert (outcome.reconciled, booking_posts(sandbox)) == (True, 2)
    assert_exactly_once(sandbox, [key_of(payload())])


def test_allow_resend_sends_at_most_twice(sandbox):
    sandbox.inject(Status(503), times=2)

    with pytest.raises(BookingOutcomeUnknownError):
        book(allow_resend=True)

    assert (booking_posts(sandbox), len(sandbox.bookings)) == (2, 0)


def test_known_failures_are_raised_as_they_are(sandbox):
    sandbox.add_busy_time("alice-smith", FIRST_SLOT, FIRST_SLOT + timedelta(hours=1))

    with pytest.raises(HubSpotValidationError, match="START_TIME_NOT_VALID"):
        book()

    assert crm_reads(sandbox) == []


# --- repeated attempts -----------------------------------------------------------------------------


def test_repeat_attempt_returns_the_earlier_booking_without_posting(sandbox):
    first = book()

    again = book(repeat=True)

    assert again.reconciled and again.raw["contactId"] == first.raw["contactId"]
    assert booking_posts(sandbox) == 1
    assert_exactly_once(sandbox, [key_of(payload())])


def test_repeat_attempt_books_when_the_crm_has_no_such_contact(sandbox):
    outcome = book(repeat=True)

    assert not outcome.reconciled
    assert crm_reads(sandbox) == [CONTACT_GET + "guest0%40example.com"]
    assert_exactly_once(sandbox, [key_of(payload())])


def test_a_meeting_of_another_length_at_that_time_is_not_this_booking(sandbox):
    book(booking=a_booking(duration=2 * HALF_HOUR_MS))

    # Same person, same start, 30 instead of 60 minutes: not the same booking, so it is sent (and refused).
    with pytest.raises(HubSpotValidationError, match="START_TIME_NOT_VALID"):
        book(repeat=True)

    assert booking_posts(sandbox) == 2
    assert len(sandbox.bookings) == 1


def test_repeat_attempt_without_crm_scope_fails_naming_the_scope_and_sends_nothing(hubspot_sandbox_factory):
    sandbox = hubspot_sandbox_factory(
        token=TOKEN, now=SANDBOX_NOW, scopes=DEFAULT_SCOPES - {"crm.objects.contacts.read"}
    )

    with pytest.raises(BookingOutcomeUnknownError) as raised:
        book(repeat=True)

    message = str(raised.value)
    assert "needs the scope crm.objects.contacts.read" in message
    assert "repeated attempt" in message and "not re-sent" in message
    assert booking_posts(sandbox) == 0


def test_repeat_attempt_without_crm_scope_books_when_resending_is_allowed(hubspot_sandbox_factory):
    sandbox = hubspot_sandbox_factory(
        token=TOKEN, now=SANDBOX_NOW, scopes=DEFAULT_SCOPES - {"crm.objects.contacts.read"}
    )

    outcome = book(repeat=True, allow_resend=True)

    assert not outcome.reconciled
    assert_exactly_once(sandbox, [key_of(payload())])


def test_unreachable_crm_after_a_lost_answer_fails_with_the_posts_correlation_id(sandbox):
    sandbox.inject(Status(502))
    sandbox.inject(Status(503), method="GET", path_contains=CONTACT_GET, times=20)

    with pytest.raises(BookingOutcomeUnknownError) as raised:
        book()

    post = next(r for r in sandbox.requests if r.path.endswith("/book"))
    assert raised.value.correlation_id == post.correlation_id
    assert "Checking HubSpot's CRM for the meeting failed" in str(raised.value)
    assert "HTTP 503" in str(raised.value)
    assert (booking_posts(sandbox), len(sandbox.bookings)) == (1, 0)


# --- pieces ----------------------------------------------------------------------------------------


def test_crm_lookup_finds_the_contacts_meeting_at_that_start_only(sandbox):
    book()
    book(booking=a_booking(start_time=FIRST_SLOT + timedelta(hours=1)))
    crm = CrmLookup(new_hook().transport)

    contact_id = crm.contact_id_by_email("GUEST0@example.com ")
    meetings = crm.meetings_of_contact_at(contact_id or "", FIRST_SLOT)

    assert contact_id == sandbox.bookings[0]["contactId"]
    assert [m.id for m in meetings] == [sandbox.bookings[0]["crmMeetingId"]]
    assert (meetings[0].start, meetings[0].duration_ms) == (FIRST_SLOT, HALF_HOUR_MS)
    assert crm.contact_id_by_email("nobody@example.com") is None
    searches = [r.body for r in sandbox.requests if r.path.endswith("/meetings/search")]
    assert searches[0]["filterGroups"][0]["filters"][1] == {
        "propertyName": "hs_meeting_start_time",
        "operator": "EQ",
        "value": str(int(FIRST_SLOT.timestamp() * 1000)),
    }
    assert sandbox.spec_violations == []  # requests and answers as crm-meetings-v3.json describes them


@pytest.mark.parametrize(("try_number", "repeat"), [(1, False), (2, True), (5, True), (None, False)])
def test_a_repeat_is_any_try_after_the_first(try_number, repeat):
    class TaskInstance:
        pass

    ti = TaskInstance()
    ti.try_number = try_number  # type: ignore[attr-defined]
    assert is_repeat_attempt({"ti": ti}) is repeat


def test_outcome_unknown_error_survives_pickling():
    error = BookingOutcomeUnknownError(
        "Booking outcome unknown, not re-sent: x.", status=502, correlation_id="c-1"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.correlation_id) == (str(error), "c-1")


def test_daily_limit_is_not_retried_by_airflow(hubspot_sandbox_factory):
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, daily_limit=0)

    with pytest.raises(HubSpotDailyLimitError) as raised:
        book()

    assert isinstance(raised.value, AirflowFailException)
    assert raised.value.policy_name == "DAILY" and "midnight" in str(raised.value)
    assert (booking_posts(sandbox), len(sandbox.bookings)) == (1, 0)


# --- cancelled meetings, lagging CRM search ---------------------------------------------------------


@pytest.mark.parametrize("outcome", ["CANCELED", "RESCHEDULED"])
def test_a_retry_does_not_rebook_a_meeting_cancelled_since(sandbox, outcome, caplog):
    """E5: try 1 booked, the invitee cancelled, a retry runs: booking again would undo the cancellation."""
    caplog.set_level(logging.INFO)
    book()
    sandbox.set_meeting_outcome(sandbox.bookings[0]["crmMeetingId"], outcome)

    again = book(repeat=True)

    assert again.reconciled and again.raw["outcome"] == outcome
    assert again.raw["crmMeetingId"] == sandbox.bookings[0]["crmMeetingId"]
    assert (booking_posts(sandbox), len(sandbox.bookings)) == (1, 1)
    assert f"outcome is {outcome} since; it is not booked again" in caplog.text


@pytest.mark.parametrize("outcome", ["NO_SHOW", "COMPLETED"])
def test_a_held_meeting_still_counts_as_booked(sandbox, outcome):
    book()
    sandbox.set_meeting_outcome(sandbox.bookings[0]["crmMeetingId"], outcome)

    again = book(repeat=True)

    assert again.reconciled and again.raw["crmMeetingId"] == sandbox.bookings[0]["crmMeetingId"]
    assert booking_posts(sandbox) == 1


def test_a_lost_answer_with_only_a_cancelled_meeting_is_not_reconciled(sandbox):
    book()
    sandbox.set_meeting_outcome(sandbox.bookings[0]["crmMeetingId"])
    sandbox.inject(DropBeforeCommit())

    with pytest.raises(BookingOutcomeUnknownError, match="shows no meeting"):
        book()


def test_repeat_attempt_rechecks_a_lagging_crm_search(sandbox):
    sandbox.crm_index_lag_seconds = 0.3  # new meetings take 0.3 s to show in CRM search
    book()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    again = book(repeat=True, index_lag_seconds=1.0, sleep=sleep, clock=time.time)

    assert again.reconciled
    assert waits and sum(waits) >= 0.2  # the first look came too early
    assert (booking_posts(sandbox), len(sandbox.bookings)) == (1, 1)


@pytest.mark.parametrize("how", ["repeated attempt", "allow_resend"])
def test_a_resend_refused_for_our_own_unindexed_booking_is_reconciled(sandbox, how):
    """The earlier send booked the slot but search does not show it yet; the re-send is refused with
    MEETING_START_TIME_NOT_VALID; looking again (after the index caught up) finds our own booking."""
    sandbox.crm_index_lag_seconds = 60.0
    fake = FakeTime()
    waits = fake.waits
    clock = fake.clock

    def sleep(seconds: float) -> None:  # the index catches up during the wait after HubSpot's refusal
        fake.sleep(seconds)
        if len(waits) == 2:
            sandbox.crm_index_lag_seconds = 0.0

    if how == "repeated attempt":
        book()
        outcome = book(repeat=True, index_lag_seconds=0.2, sleep=sleep, clock=clock)
    else:
        sandbox.inject(DropAfterCommit())
        outcome = book(allow_resend=True, index_lag_seconds=0.2, sleep=sleep, clock=clock)

    assert outcome.reconciled and outcome.raw["crmMeetingId"] == sandbox.bookings[0]["crmMeetingId"]
    refused = [r for r in sandbox.requests if r.path.endswith("/book")][-1]
    assert (refused.status, outcome.correlation_id) == (400, refused.correlation_id)
    assert (booking_posts(sandbox), len(sandbox.bookings)) == (2, 1)
    assert waits == pytest.approx([0.2, 0.2])


def test_a_resend_refused_for_someone_elses_booking_still_fails(sandbox):
    sandbox.add_busy_time("alice-smith", FIRST_SLOT, FIRST_SLOT + timedelta(hours=1))

    with pytest.raises(HubSpotValidationError, match="START_TIME_NOT_VALID"):
        book(repeat=True, index_lag_seconds=0.1)
