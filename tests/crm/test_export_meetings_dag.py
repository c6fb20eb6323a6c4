"""``ExportMeetingsOperator`` in real DAG runs (``dag.test()``) against the sandbox, writing JSON Lines
to a ``file://`` object storage path."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG

from hubspot_scheduler_provider.operators.export_meetings import ROW_FIELDS, ExportMeetingsOperator
from tests.compat import AIRFLOW_V_3, serialize_for_test
from tests.crm.conftest import SEARCH_PATH, book_visitors, meeting_ids, requests_to
from tests.operators.conftest import SANDBOX_NOW, run_dag, xcom_value

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")


def _run(dag_id: str, **operator_kwargs: Any) -> Any:
    with DAG(dag_id, schedule=None, start_date=START_DATE, catchup=False) as dag:
        ExportMeetingsOperator(task_id="export", **operator_kwargs)
    return run_dag(dag)


def _rows(path: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_exports_every_meeting_as_a_flat_row_over_several_pages(sandbox, tmp_path):
    answers = book_visitors(sandbox, 5)
    target = tmp_path / "out" / "meetings.jsonl"
    run = _run(
        "export_window",
        destination=f"file://{target}",
        created_after=(SANDBOX_NOW - timedelta(hours=1)).isoformat(),
        page_size=2,
    )
    assert run.state == "success"
    rows = _rows(target)
    assert [row["meeting_id"] for row in rows] == meeting_ids(sandbox)
    assert all(tuple(row) == ROW_FIELDS for row in rows)
    first = rows[0]
    assert first == {
        "meeting_id": meeting_ids(sandbox)[0],
        "created_at": "2026-12-01T12:00:00Z",
        "start": answers[0]["start"],
        "end": answers[0]["end"],
        "duration_ms": 1_800_000,
        "outcome": "SCHEDULED",
        "owner_id": "501",
        "contact_id": answers[0]["contactId"],
        "link_id": sandbox.pages["alice-smith"].link_id,
    }
    assert len(requests_to(sandbox, "POST", SEARCH_PATH)) == 3  # pages of 2, 2 and 1
    summary = xcom_value(run, "export")
    assert summary == {
        "path": f"file://{target}",
        "rows": 5,
        "created_after": "2026-12-01T11:00:00Z",
        "created_before": None,
    }
    exported = target.read_text(encoding="utf-8") + json.dumps(summary)
    assert "@example.com" not in exported and "Visitor" not in exported  # no emails, no names


def test_more_results_than_the_search_cap_are_exported_once(sandbox, tmp_path):
    tie = SANDBOX_NOW + timedelta(seconds=1)
    book_visitors(sandbox, 9, created_at=[SANDBOX_NOW] * 2 + [tie] * 5 + [tie + timedelta(seconds=1)] * 2)
    sandbox.crm_search_result_cap = 4
    target = tmp_path / "capped.jsonl"
    run = _run(
        "export_capped", destination=f"file://{target}", created_after="2026-12-01T00:00:00Z", page_size=3
    )
    assert run.state == "success"
    assert [row["meeting_id"] for row in _rows(target)] == meeting_ids(sandbox)
    assert xcom_value(run, "export")["rows"] == 9


def test_the_data_interval_is_the_default_window(sandbox, tmp_path):
    from airflow.timetables.interval import CronDataIntervalTimetable

    with DAG(
        "export_daily",
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
        start_date=START_DATE,
        catchup=False,
    ) as dag:
        ExportMeetingsOperator(task_id="export", destination=f"file://{tmp_path}/{{{{ ds }}}}.jsonl")
    serialize_for_test(dag)
    # Meetings just before, inside and at the end of the interval the run will get.
    day = pendulum.datetime(2026, 11, 30, tz="UTC")
    interval = dag.timetable.infer_manual_data_interval(run_after=day)
    low, high = interval.start, interval.end
    assert high > low
    book_visitors(sandbox, 3, created_at=[low - timedelta(milliseconds=1), low + timedelta(hours=5), high])
    run = dag.test(logical_date=day) if AIRFLOW_V_3 else dag.test(execution_date=day)
    assert run.state == "success"
    assert (run.data_interval_start, run.data_interval_end) == (low, high)
    written = list(tmp_path.glob("*.jsonl"))
    assert len(written) == 1
    assert [row["meeting_id"] for row in _rows(written[0])] == [meeting_ids(sandbox)[1]]
    summary = xcom_value(run, "export")
    assert summary["rows"] == 1
    assert (summary["created_after"], summary["created_before"]) == (
        low.strftime("%Y-%m-%dT%H:%M:%SZ"),
        high.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def test_a_run_without_an_interval_and_no_earlier_success_asks_for_created_after(sandbox, tmp_path):
    run = _run("export_no_interval", destination=f"file://{tmp_path}/x.jsonl")  # schedule=None
    assert run.state == "failed"
    assert sandbox.requests == []


def test_no_meetings_is_an_empty_file(sandbox, tmp_path):
    target = tmp_path / "empty.jsonl"
    run = _run("export_empty", destination=f"file://{target}", created_after="2026-12-01T00:00:00Z")
    assert run.state == "success"
    assert target.read_text(encoding="utf-8") == ""
    assert xcom_value(run, "export")["rows"] == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page_size": 500},
        {"created_after": "soon"},
        {"destination": "/tmp/no-scheme.jsonl"},
        {"owner_ids": "501"},
        {"created_after": "2026-12-02T00:00:00Z", "created_before": "2026-12-01T00:00:00Z"},
    ],
)
def test_bad_arguments_fail_with_no_request_and_no_file(sandbox, tmp_path, kwargs):
    book_visitors(sandbox, 1)
    target = tmp_path / "never.jsonl"
    arguments = {"destination": f"file://{target}", "created_after": "2026-12-01T00:00:00Z", **kwargs}
    run = _run(f"export_bad_{abs(hash(json.dumps(kwargs))) % 10_000}", **arguments)
    assert run.state == "failed"
    assert sandbox.requests == []
    assert not target.exists()


def _leftovers(folder: Any, keep: Any) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p != keep)


def test_a_failed_re_run_keeps_the_earlier_export_and_leaves_no_temporary(sandbox, tmp_path):
    from hubspot_scheduler_provider.testing import Delay, Status

    book_visitors(sandbox, 5)
    target = tmp_path / "day.jsonl"
    arguments = {"destination": f"file://{target}", "created_after": "2026-12-01T00:00:00Z", "page_size": 2}
    assert _run("export_first", **arguments).state == "success"
    earlier = target.read_bytes()
    assert len(earlier.splitlines()) == 5
    searches_before = len(requests_to(sandbox, "POST", SEARCH_PATH))
    # The re-run's third search fails for good (a 403 is not retried), after two pages were written.
    sandbox.inject(Delay(0.0), method="POST", path_contains="/meetings/search", times=2)
    sandbox.inject(Status(403), method="POST", path_contains="/meetings/search", times=1)
    run = _run("export_rerun_fails", **arguments)
    assert run.state == "failed"
    faults = [r.fault for r in requests_to(sandbox, "POST", SEARCH_PATH)[searches_before:]]
    assert faults == ["Delay", "Delay", "Status"]
    assert target.read_bytes() == earlier
    assert _leftovers(tmp_path, target) == []


def test_a_successful_re_run_replaces_the_earlier_export(sandbox, tmp_path):
    book_visitors(sandbox, 2)
    target = tmp_path / "day.jsonl"
    arguments = {"destination": f"file://{target}", "created_after": "2026-12-01T00:00:00Z"}
    assert _run("export_before", **arguments).state == "success"
    assert len(_rows(target)) == 2
    book_visitors(sandbox, 1, created_at=[SANDBOX_NOW + timedelta(minutes=1)])
    run = _run("export_again", **arguments)
    assert run.state == "success"
    assert [row["meeting_id"] for row in _rows(target)] == meeting_ids(sandbox)
    assert len(meeting_ids(sandbox)) == 3
    assert _leftovers(tmp_path, target) == []
