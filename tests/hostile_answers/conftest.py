"""Fixtures for the hostile answers suite: a hostile server, a recorder for redirect targets, a hook on
them with secrets HubSpot's impostor can echo, every hook endpoint as a call, and bounded measurement
(wall time and peak RSS growth while a call runs)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

from hubspot_scheduler_provider.hooks.crm import CrmLookup
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from tests.hostile_answers.servers import HostileServer, Recorder, answer

TOKEN = "pat-na1-HOSTILE-3f9a1c-token-must-never-leak"
#: Shorter than Airflow's masker bothers with (5 characters): the provider scrubs it all the same.
SHORT_TOKEN = "Q7zX"
CLIENT_ID = "hostile-client-1"
CLIENT_SECRET = "client-secret-HOSTILE-8e2b-never-leak"
REFRESH_TOKEN = "refresh-token-HOSTILE-51c7-never-leak"
ISSUED_TOKEN = "issued-access-HOSTILE-a94d-never-leak"
SECRETS = (TOKEN, SHORT_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, ISSUED_TOKEN)
TOKEN_ANSWER = {"access_token": ISSUED_TOKEN, "expires_in": 1800, "refresh_token": REFRESH_TOKEN}

Call = Callable[[HubSpotSchedulerHook], Any]


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer().start()
    yield server
    server.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder().start()
    yield server
    server.close()


def connect(
    monkeypatch: pytest.MonkeyPatch,
    server: HostileServer,
    *,
    oauth: bool = False,
    token: str = TOKEN,
    **extra: Any,
) -> None:
    conn: dict[str, Any] = {"conn_type": "hubspot", "host": server.url, "extra": dict(extra)}
    if oauth:
        conn["extra"].update(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN)
    else:
        conn["password"] = token
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps(conn))


def make_hook(**kwargs: Any) -> HubSpotSchedulerHook:
    hook = HubSpotSchedulerHook(**{"max_retries": 0, **kwargs})
    hook._sleep = lambda seconds: None  # retries (where a case allows them) do not wait
    return hook


# --- every endpoint, as a call ------------------------------------------------------------------------


def a_booking() -> Any:
    from tests.reliability.test_exactly_once import a_booking as booking

    return booking()


def calendar_request() -> dict[str, Any]:
    return {
        "associations": [],
        "emailReminderSchedule": {"reminders": [], "shouldIncludeInviteDescription": False},
        "timezone": "UTC",
        "properties": {
            "hs_meeting_title": "Review",
            "hs_meeting_outcome": "SCHEDULED",
            "hs_meeting_start_time": "2030-01-07T14:00:00Z",
            "hs_meeting_end_time": "2030-01-07T14:30:00Z",
            "hs_timestamp": "2030-01-07T14:00:00Z",
            "hubspot_owner_id": "1001",
        },
    }


ENDPOINTS: dict[str, Call] = {
    "list_meeting_links": lambda hook: list(hook.list_meeting_links()),
    "get_booking_info": lambda hook: hook.get_booking_info("alice-smith", "UTC"),
    "get_availability": lambda hook: hook.get_availability("alice-smith", "UTC"),
    "book_meeting": lambda hook: hook.book_meeting(a_booking()),
    "create_calendar_meeting": lambda hook: hook.create_calendar_meeting("1001", calendar_request()),
    "update_meeting_link": lambda hook: hook.update_meeting_link("alice-smith", "pl-1"),
    "get_portal_id": lambda hook: hook.get_portal_id(),
    "crm_contact": lambda hook: CrmLookup(hook.transport).contact_id_by_email("ada@example.com"),
    "crm_search": lambda hook: CrmLookup(hook.transport).meetings_of_contact_at(
        "501", datetime(2026, 12, 2, 14, tzinfo=timezone.utc)
    ),
    "http_operator_run": lambda hook: hook.run("/crm/v3/objects/contacts/501"),
    "iter_booked_meetings": lambda hook: list(
        hook.iter_booked_meetings(datetime(2026, 12, 1, tzinfo=timezone.utc))
    ),
    "get_crm_meeting": lambda hook: hook.get_crm_meeting("501"),
    "set_meeting_outcome": lambda hook: hook.set_meeting_outcome("501", "CANCELED"),
    "find_crm_meetings": lambda hook: hook.find_crm_meetings(calendar_event_id="cal-501"),
}
#: Writes: an unreadable or unfinished answer leaves their outcome unknown.
WRITES = frozenset({"book_meeting", "create_calendar_meeting"})


# --- bounded measurement -------------------------------------------------------------------------------


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    error: BaseException | None
    result: Any
    seconds: float
    rss_growth_mb: float


def measure(call: Callable[[], Any]) -> Measured:
    """Run ``call``, sampling RSS every 5 ms: the peak growth over the starting RSS, and wall time."""
    start_rss = _rss_bytes()
    peak = [start_rss]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    error: BaseException | None = None
    result = None
    try:
        result = call()
    except Exception as raised:
        error = raised
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    peak[0] = max(peak[0], _rss_bytes())
    return Measured(error, result, seconds, (peak[0] - start_rss) / 2**20)


def default_token_answer() -> Any:
    return answer(200, TOKEN_ANSWER)
