"""Each hostile input through the real entry point, with a live sandbox behind the connection: refused
with ``BookingInputError`` naming the field, a short message, and not one request received."""

from __future__ import annotations

import collections
import time
from typing import Any

import pytest

from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.operators.calendar_meeting import CreateCalendarMeetingOperator
from hubspot_scheduler_provider.sensors.slot_available import MeetingSlotAvailableSensor
from hubspot_scheduler_provider.testing import HubSpotSandbox
from tests.hostile_inputs.cases import CASES, Case
from tests.operators.conftest import SANDBOX_NOW, TOKEN

#: Every category the issue lists, plus the other entry points.
CATEGORIES = {
    "email",
    "names",
    "locale",
    "slug",
    "timezone",
    "start time",
    "duration",
    "form fields",
    "consents",
    "user ids",
    "payload and nesting",
    "switches",
    "calendar meeting",
    "slot sensor",
    "hook arguments",
}
#: A refusal quotes at most a short piece of the offending value.
MAX_MESSAGE_LENGTH = 1_000
#: CPU seconds of the refusing thread (time.thread_time: a busy machine's scheduling does not count):
#: the slowest case (10,000 form fields) takes about 0.1 s; unbounded parsing takes many seconds.
MAX_SECONDS_PER_CASE = 1.0


@pytest.fixture(scope="module")
def quiet_sandbox() -> Any:
    """One sandbox for all cases: none of them may send it anything."""
    with HubSpotSandbox(token=TOKEN, now=SANDBOX_NOW) as sandbox, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", sandbox.connection_json())
        yield sandbox


def run(case: Case) -> Any:
    """Call the entry point ``case`` names the way Airflow would."""
    if case.target == "book":
        given = {key: value for key, value in case.kwargs.items() if key not in case.rendered}
        operator = BookMeetingOperator(task_id="book", **given)
        for key in case.rendered:
            # As when rendering for execution: no XComArg walk (which recurses) on the rendered value.
            object.__setattr__(operator, key, case.kwargs[key])
        return operator.execute({})
    if case.target == "calendar":
        return CreateCalendarMeetingOperator(task_id="calendar", **case.kwargs).execute({})
    if case.target == "sensor":
        return MeetingSlotAvailableSensor(task_id="wait", **case.kwargs).execute({})
    method = case.target.removeprefix("hook:")
    hook = HubSpotSchedulerHook()
    try:
        return getattr(hook, method)(**case.kwargs)
    finally:
        hook.close()


def test_at_least_150_cases_in_every_category() -> None:
    counts = collections.Counter(case.category for case in CASES)
    assert len(CASES) >= 150
    assert set(counts) == CATEGORIES
    assert len({case.id for case in CASES}) == len(CASES)  # one row each


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(reason=case.pending, strict=True)] if case.pending else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_hostile_input_is_refused_naming_the_field_before_any_request(quiet_sandbox: Any, case: Case) -> None:
    already = len(quiet_sandbox.requests)  # a pending (xfail) case may have sent some
    started = time.thread_time()
    with pytest.raises(BookingInputError) as caught:
        run(case)
    elapsed = time.thread_time() - started

    message = str(caught.value)
    assert caught.value.field.startswith(case.field), message[:300]
    assert message.startswith(case.field), message[:300]
    assert len(message) < MAX_MESSAGE_LENGTH, message[:300]
    assert "\x00" not in message and "\u200b" not in message and "\u202e" not in message  # quoted escaped
    assert "jane.doe" not in message  # emails are quoted masked
    assert elapsed < MAX_SECONDS_PER_CASE, elapsed
    assert quiet_sandbox.requests[already:] == []
