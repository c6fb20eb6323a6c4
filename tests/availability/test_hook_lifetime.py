"""The shared hook handling (``operators/_base.HubSpotHookMixin``): each operator and the sensor send
its ``api_version`` on the wire, and close the hook (its pooled connections) when ``execute`` ends, also
when it fails. And the sensor's ``deferrable`` defaults to Airflow's ``[operators] default_deferrable``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.operators.calendar_meeting import CreateCalendarMeetingOperator
from hubspot_scheduler_provider.operators.meeting_links import ListMeetingLinksOperator
from hubspot_scheduler_provider.sensors.slot_available import MeetingSlotAvailableSensor
from hubspot_scheduler_provider.testing import Status

if TYPE_CHECKING:
    from hubspot_scheduler_provider.operators._base import HubSpotHookMixin


def list_operator(**kwargs: Any) -> ListMeetingLinksOperator:
    return ListMeetingLinksOperator(task_id="list", **kwargs)


def calendar_operator(**kwargs: Any) -> CreateCalendarMeetingOperator:
    return CreateCalendarMeetingOperator(
        task_id="calendar",
        organizer_user_id=1001,
        owner_id=501,
        title="Kickoff",
        start_time="2026-03-30T09:00",
        duration="PT45M",
        timezone="Europe/Berlin",
        **kwargs,
    )


def slot_sensor(**kwargs: Any) -> MeetingSlotAvailableSensor:
    return MeetingSlotAvailableSensor(
        task_id="wait", slug="alice-smith", duration="PT30M", timezone="America/New_York", **kwargs
    )


OPERATORS = {"list": list_operator, "calendar": calendar_operator, "sensor": slot_sensor}


@pytest.mark.parametrize("make", OPERATORS.values(), ids=OPERATORS.keys())
def test_api_version_argument_reaches_the_wire(sandbox, make):
    make(api_version="2026-03").execute({})

    assert sandbox.requests
    assert all("/2026-03/" in request.path for request in sandbox.requests)


def _pools(operator: HubSpotHookMixin) -> dict[Any, Any]:
    return operator.hook.transport.session.adapters["http://"].poolmanager.pools  # type: ignore[no-any-return]


@pytest.mark.parametrize("make", OPERATORS.values(), ids=OPERATORS.keys())
@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "fails"])
def test_execute_closes_its_hook(sandbox, make, fails):
    operator = make()
    hook, pools = operator.hook, _pools(operator)
    if fails:
        sandbox.inject(Status(403), method=None, path_contains="/", times=100)

    if fails:
        with pytest.raises(Exception):  # noqa: B017 (which one is each operator's own business)
            operator.execute({})
    else:
        operator.execute({})

    assert sandbox.requests  # the hook's session did open a connection ...
    assert len(pools) == 0  # ... and it is closed now
    assert operator.hook is not hook  # the next execute (a retry) starts with a fresh hook


@pytest.mark.parametrize(("setting", "expected"), [(None, False), ("True", True), ("False", False)])
def test_sensor_deferrable_defaults_to_airflows_setting(setting, expected):
    # The default is read when the module is imported (as Airflow's own operators do): fresh interpreter.
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"}
    if setting is not None:
        env["AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"] = setting
    code = (
        "from hubspot_scheduler_provider.sensors.slot_available import MeetingSlotAvailableSensor as S\n"
        "print(S(task_id='t', slug='s', duration=1).deferrable)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=120
    )

    assert result.stdout.strip().splitlines()[-1] == str(expected)
