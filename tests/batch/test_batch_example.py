"""The bulk example DAG (``hubspot_book_meetings_batch``), run with ``dag.test()`` against the sandbox."""

from __future__ import annotations

import csv
from typing import Any

import pendulum
import pytest

from tests.operators.conftest import hubspot_answers, xcom_value
from tests.test_example_dags import EXAMPLE_DAGS, run_example

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_batch_example_books_one_free_slot_per_lead(hubspot_sandbox: Any) -> None:
    with (EXAMPLE_DAGS / "data" / "new_leads.csv").open(newline="", encoding="utf-8") as file:
        emails = [lead["email"] for lead in csv.DictReader(file)]
    not_before = pendulum.now("UTC").add(hours=1)

    dag_run = run_example("hubspot_book_meetings_batch", {"slug": "alice-smith"})

    assert dag_run.state == "success"
    results = xcom_value(dag_run, "book_meetings")
    answers = {answer["calendarEventId"]: answer for answer in hubspot_answers(hubspot_sandbox)}
    assert results == [answers[result["calendarEventId"]] for result in results]  # HubSpot's, exactly
    assert [_email(result) for result in results] == emails  # one per lead, in the leads' order
    starts = [pendulum.parse(result["start"]) for result in results]
    assert len(set(starts)) == len(emails) and min(starts) >= not_before


def _email(answer: dict[str, Any]) -> str:
    [email] = [field["value"] for field in answer["formFields"] if field["name"] == "email"]
    return str(email)
