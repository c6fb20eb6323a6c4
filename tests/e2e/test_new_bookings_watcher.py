"""The new-bookings asset watcher on the real Airflow 3 deployment: 50 visitor bookings, one triggerer
restart in the middle (some bookings made while it is down), and every meeting reaches exactly one run
of the watching DAG: no miss, no repeat.

Airflow merges the asset events queued between two scheduler loops into ONE run (the scheduler's
``_create_dag_runs_asset_triggered``; trigger events carry no partition key, so no partitioned timetable
applies), so 50 meetings start up to 50 runs: the proof is that each meeting id is in the triggering
events of exactly one run, and the run count is reported. The test brings its own meeting page (link id
``3960``, which the deployment's ``HUBSPOT_WATCHED_LINK_IDS`` names), so other tests' bookings do not
fire the watcher.
"""

from __future__ import annotations

import collections
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider.testing import Host, MeetingPage

from .browser import wait_for
from .conftest import MINUTE_MS

if TYPE_CHECKING:
    from .airflow_deployment import AirflowDeployment
    from .rest_client import AirflowRestClient

pytestmark = pytest.mark.e2e

WATCHER_DAG_ID = "hubspot_enrich_and_notify_new_bookings"
SLUG = "e2e-watched-page"
LINK_ID = "3960"
HOST = Host("1960", "2960", "watched.host@sandbox.example", "Watched", "Host", "UTC")
BOOKINGS = 50
DOWN_AT = 25  # bookings before the triggerer stops
WHILE_DOWN = 10  # bookings while it is down
DURATION_MS = 30 * MINUTE_MS


def watched_page() -> MeetingPage:
    return MeetingPage(
        slug=SLUG,
        link_id=LINK_ID,
        name="e2e watched page",
        link_type="PERSONAL_LINK",
        organizer=HOST,
        members=(),
        timezone="UTC",
        durations_ms=(DURATION_MS,),
        increment_minutes=30,
        hours={weekday: (0, 24 * 60) for weekday in range(7)},
    )


def meeting_ids_by_run(rest: AirflowRestClient) -> dict[str, list[str]]:
    """Each run of the watcher DAG -> the meeting ids in its triggering asset events."""
    runs = rest.get(f"/dags/{WATCHER_DAG_ID}/dagRuns", limit=200)["dag_runs"]
    found = {}
    for run in runs:
        events = rest.get(f"/dags/{WATCHER_DAG_ID}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
        found[run["dag_run_id"]] = [
            event["extra"]["payload"]["meeting_id"] for event in events["asset_events"]
        ]
    return found


def searches_for_the_page(sandbox: Any) -> int:
    return sum(1 for r in sandbox.requests if r.path.endswith("/meetings/search") and LINK_ID in str(r.body))


def test_fifty_visitor_bookings_reach_exactly_one_run_each_across_a_triggerer_restart(
    rest: AirflowRestClient, sandbox: Any, airflow: AirflowDeployment
) -> None:
    from tests.test_example_dags import sandbox_free_slots

    sandbox.add_page(watched_page())
    rest.wait_for_dag(WATCHER_DAG_ID)
    rest.unpause(WATCHER_DAG_ID)
    # The watcher polls the page (the trigger runs once its DAG is active).
    wait_for(lambda: searches_for_the_page(sandbox) >= 2, "the watcher to search the page", timeout=120)

    not_before = (time.time() + 3600) * 1000
    starts = [s for s in sandbox_free_slots(sandbox, SLUG, DURATION_MS, months=2) if s >= not_before]
    assert len(starts) >= BOOKINGS
    booked: list[str] = []

    def book(count: int) -> None:
        for start in starts[len(booked) : len(booked) + count]:
            number = len(booked)
            sandbox.book_as_visitor(
                SLUG, datetime.fromtimestamp(start / 1000, tz=timezone.utc), email=f"lead{number}@example.com"
            )
            booked.append(sandbox.bookings[-1]["crmMeetingId"])

    def seen() -> set[str]:
        return {meeting for ids in meeting_ids_by_run(rest).values() for meeting in ids}

    book(DOWN_AT)
    wait_for(lambda: set(booked) <= seen(), "the first bookings' runs", timeout=120)
    time.sleep(5)  # the trigger stores its watermark a few seconds after its events (COMMIT_DELAY_SECONDS)

    airflow.stop_component("triggerer")
    book(WHILE_DOWN)
    airflow.start_component("triggerer")
    book(BOOKINGS - DOWN_AT - WHILE_DOWN)
    wait_for(lambda: set(booked) <= seen(), "every booking's run", timeout=180)
    time.sleep(5)  # long enough for a repeat to show up, had the restart lost the watermark

    by_run = meeting_ids_by_run(rest)
    rest._request("PATCH", f"/api/v2/dags/{WATCHER_DAG_ID}", json={"is_paused": True})
    every = [meeting for ids in by_run.values() for meeting in ids]
    repeated = [meeting for meeting, count in collections.Counter(every).items() if count > 1]
    assert repeated == [], f"meetings in more than one run: {repeated}"
    assert sorted(every) == sorted(booked), "missed or unexpected meetings"
    assert len(booked) == BOOKINGS == len(set(booked))
    assert 1 <= len(by_run) <= BOOKINGS
    print(f"{BOOKINGS} bookings reached {len(by_run)} runs, each meeting exactly once")
