"""``BookMeetingOperator`` in real DAG runs (``dag.test()`` on SQLite) against the sandbox on loopback.

Each test asserts the exact JSON the server received (and that it satisfies HubSpot's booking schema)
and what landed in XCom.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG, task

from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.testing import Status
from tests.compat import HAS_BASE_DRY_RUN
from tests.operators.conftest import (
    BOOKER,
    BOOKER_WIRE,
    SANDBOX_PORTAL_ID,
    SLOT_NEW_YORK_NAIVE,
    SLOT_UTC,
    TOKEN,
    assert_valid_booking_request,
    booking_requests,
    extra_links,
    hubspot_answers,
    rendered_fields,
    run_dag,
    task_instance,
    xcom_value,
)

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")


def make_dag(dag_id: str, **kwargs: Any) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START_DATE, catchup=False, **kwargs)


def python_operator(**kwargs: Any) -> Any:
    try:
        from airflow.providers.standard.operators.python import PythonOperator
    except ImportError:  # Airflow 2 without the standard provider
        from airflow.operators.python import PythonOperator  # type: ignore[no-redef]
    return PythonOperator(**kwargs)


def assert_booked_exactly(
    sandbox: Any,
    dag_run: Any,
    expected_bodies: list[dict[str, Any]],
    task_id: str = "book",
    map_indexes: list[int] | None = None,
) -> None:
    """The server received exactly ``expected_bodies`` and each task's XCom is HubSpot's answer, unchanged."""
    assert dag_run.state == "success"
    received = booking_requests(sandbox)
    # Mapped tasks run in no fixed order.
    assert sorted(received, key=json.dumps) == sorted(expected_bodies, key=json.dumps)
    for body in received:
        assert_valid_booking_request(body)
    answers = {answer["start"]: answer for answer in hubspot_answers(sandbox)}
    for map_index in map_indexes or [-1]:
        value = xcom_value(dag_run, task_id, map_index=map_index)
        assert value == answers[value["start"]]


# --- where the payload comes from ------------------------------------------------------------------


def test_payload_from_a_taskflow_dict(sandbox):
    with make_dag("book_taskflow_dict") as dag:

        @task
        def lead_from_crm() -> dict[str, Any]:
            return dict(BOOKER)

        BookMeetingOperator(task_id="book", payload=lead_from_crm())

    dag_run = run_dag(dag)

    assert_booked_exactly(sandbox, dag_run, [BOOKER_WIRE])
    answer = xcom_value(dag_run, "book")
    assert answer["calendarEventId"] and answer["contactId"]
    assert (answer["start"], answer["end"]) == (SLOT_UTC, "2026-12-02T14:30:00Z")
    assert answer["webConferenceUrl"].startswith("https://")


def test_payload_from_upstream_output(sandbox):
    with make_dag("book_upstream_output") as dag:
        upstream = python_operator(task_id="make", python_callable=lambda: dict(BOOKER))
        BookMeetingOperator(task_id="book", payload=upstream.output)

    assert_booked_exactly(sandbox, run_dag(dag), [BOOKER_WIRE])


def test_xcom_arg_nested_inside_a_payload_dict(sandbox):
    with make_dag("book_nested_xcom_arg") as dag:

        @task
        def next_slot() -> str:
            return SLOT_UTC

        BookMeetingOperator(task_id="book", payload={**BOOKER, "startTime": next_slot()})

    assert_booked_exactly(sandbox, run_dag(dag), [BOOKER_WIRE])


@pytest.mark.parametrize("native", [False, True], ids=["jinja-text", "jinja-native"])
def test_payload_from_jinja_xcom_pull(sandbox, native):
    with make_dag(f"book_jinja_native_{native}", render_template_as_native_obj=native) as dag:
        upstream = python_operator(task_id="make", python_callable=lambda: dict(BOOKER))
        # Without native rendering this renders the dict's Python repr, a string.
        booking = BookMeetingOperator(task_id="book", payload="{{ ti.xcom_pull(task_ids='make') }}")
        upstream >> booking

    dag_run = run_dag(dag)

    assert_booked_exactly(sandbox, dag_run, [BOOKER_WIRE])
    rendered = rendered_fields(dag_run, "book")["payload"]
    assert (rendered if native else json.loads(rendered.replace("'", '"'))) == BOOKER


def test_payload_as_json_text_with_tojson(sandbox):
    with make_dag("book_jinja_tojson") as dag:
        upstream = python_operator(task_id="make", python_callable=lambda: dict(BOOKER))
        booking = BookMeetingOperator(task_id="book", payload="{{ ti.xcom_pull(task_ids='make') | tojson }}")
        upstream >> booking

    assert_booked_exactly(sandbox, run_dag(dag), [BOOKER_WIRE])


def test_snake_case_keywords_naive_time_in_zone_and_iso_duration(sandbox):
    with make_dag("book_snake_naive_iso") as dag:
        BookMeetingOperator(
            task_id="book",
            payload={"slug": "alice-smith", "first_name": "Jane", "last_name": "Doe"},
            contact_email="jane.doe@example.com",
            start_time=SLOT_NEW_YORK_NAIVE,
            timezone="America/New_York",
            duration="PT30M",
            locale="en-us",
            form_fields={"source": "webinar"},
            likely_available_user_ids=[1001],
        )

    expected = {
        **BOOKER_WIRE,
        "timezone": "America/New_York",
        "locale": "en-us",
        "formFields": [{"name": "source", "value": "webinar"}],
        "likelyAvailableUserIds": ["1001"],
    }
    assert_booked_exactly(sandbox, run_dag(dag), [expected])


def test_keywords_are_templated_and_override_the_payload(sandbox):
    with make_dag("book_templated_keywords", params={"who": "sam@example.com", "minutes": 60}) as dag:
        BookMeetingOperator(
            task_id="book",
            payload={**BOOKER, "email": "not-used@example.com"},
            contact_email="{{ params.who }}",
            duration="{{ params.minutes * 60000 }}",
        )

    expected = {**BOOKER_WIRE, "email": "sam@example.com", "duration": 3600000}
    assert_booked_exactly(sandbox, run_dag(dag), [expected])


# --- dynamic task mapping ---------------------------------------------------------------------------

LEADS = [
    {**BOOKER, "email": "a@example.com", "startTime": "2026-12-02T14:00:00Z"},
    {**BOOKER, "email": "b@example.com", "startTime": "2026-12-02T15:00:00Z"},
    {**BOOKER, "email": "c@example.com", "startTime": "2026-12-02T16:00:00Z"},
]


def test_mapped_over_a_list_of_payloads(sandbox):
    with make_dag("book_mapped_payloads") as dag:

        @task
        def leads() -> list[dict[str, Any]]:
            return LEADS

        BookMeetingOperator.partial(task_id="book").expand(payload=leads())

    dag_run = run_dag(dag)

    assert_booked_exactly(
        sandbox, dag_run, [{**BOOKER_WIRE, **lead} for lead in LEADS], map_indexes=[0, 1, 2]
    )
    # One booking per mapped task, each task its own lead.
    for map_index, lead in enumerate(LEADS):
        assert xcom_value(dag_run, "book", map_index=map_index)["start"] == lead["startTime"]


def test_mapped_with_expand_kwargs(sandbox):
    with make_dag("book_mapped_kwargs") as dag:
        BookMeetingOperator.partial(
            task_id="book", payload=BOOKER, timezone="America/New_York"
        ).expand_kwargs(
            [
                {"contact_email": "a@example.com", "start_time": "2026-12-02T09:00"},
                {"contact_email": "b@example.com", "start_time": "2026-12-02T10:00", "duration": "PT1H"},
            ]
        )

    dag_run = run_dag(dag)

    base = {**BOOKER_WIRE, "timezone": "America/New_York"}
    expected = [
        {**base, "email": "a@example.com", "startTime": "2026-12-02T14:00:00Z"},
        {**base, "email": "b@example.com", "startTime": "2026-12-02T15:00:00Z", "duration": 3600000},
    ]
    assert_booked_exactly(sandbox, dag_run, expected, map_indexes=[0, 1])
    assert [xcom_value(dag_run, "book", map_index=i)["start"] for i in (0, 1)] == [
        "2026-12-02T14:00:00Z",
        "2026-12-02T15:00:00Z",
    ]


# --- the result -------------------------------------------------------------------------------------


def test_xcom_is_hubspots_answer_exactly_with_new_keys_kept_and_missing_keys_absent(sandbox):
    # An answer as a future HubSpot might send it: an unknown key, optional keys left out.
    answer = {
        "bookingTimezone": "America/New_York",
        "calendarEventId": "evt-42",
        "contactId": "777",
        "duration": 1800000,
        "end": "2026-12-02T14:30:00Z",
        "formFields": [],
        "guestEmails": [],
        "isOffline": False,
        "legalConsentResponses": [],
        "start": SLOT_UTC,
        "subject": "Meet Alice",
        "meetingReminderPolicy": {"minutesBefore": [15]},
    }
    sandbox.inject(Status(200, body=answer))
    with make_dag("book_exact_answer") as dag:
        BookMeetingOperator(task_id="book", payload=BOOKER)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert xcom_value(dag_run, "book") == answer
    assert "webConferenceUrl" not in xcom_value(dag_run, "book")


def test_api_2026_03_speaks_milliseconds_on_the_wire_and_in_xcom(hubspot_sandbox_factory, airflow_db):
    from tests.operators.conftest import SANDBOX_NOW

    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, conn_extra={"api_version": "2026-03"})
    with make_dag("book_api_2026_03") as dag:
        BookMeetingOperator(task_id="book", payload=BOOKER)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert booking_requests(sandbox) == [{**BOOKER_WIRE, "duration": 1800000}]
    assert sandbox.requests[0].path == "/scheduler/2026-03/meetings/meeting-links/book"
    assert xcom_value(dag_run, "book")["duration"] == 1800000


def test_extra_links_contact_record_and_web_conference(sandbox):
    with make_dag("book_extra_links") as dag:
        BookMeetingOperator(task_id="book", payload=BOOKER)

    dag_run = run_dag(dag)

    answer = xcom_value(dag_run, "book")
    contact_url = f"https://app.hubspot.com/contacts/{SANDBOX_PORTAL_ID}/record/0-1/{answer['contactId']}"
    assert extra_links(dag_run, dag, "book") == {
        "HubSpot contact": contact_url,
        "Web conference": answer["webConferenceUrl"],
    }
    assert xcom_value(dag_run, "book", key="hubspot_contact_url") == contact_url
    # The portal id came from HubSpot's account-info endpoint (the connection has none).
    assert [r.path for r in sandbox.requests if r.method == "GET"] == ["/account-info/v3/details"]


def test_portal_id_from_the_connection_needs_no_lookup(hubspot_sandbox_factory, airflow_db):
    from tests.operators.conftest import SANDBOX_NOW

    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, conn_extra={"portal_id": "99"})
    with make_dag("book_portal_from_conn") as dag:
        BookMeetingOperator(task_id="book", payload=BOOKER)

    dag_run = run_dag(dag)

    contact_id = xcom_value(dag_run, "book")["contactId"]
    assert extra_links(dag_run, dag, "book")["HubSpot contact"] == (
        f"https://app.hubspot.com/contacts/99/record/0-1/{contact_id}"
    )
    assert [r.method for r in sandbox.requests] == ["POST"]


def test_mapped_tasks_get_their_own_links(sandbox):
    with make_dag("book_mapped_links") as dag:
        BookMeetingOperator.partial(task_id="book").expand(payload=LEADS[:2])

    dag_run = run_dag(dag)

    urls = {extra_links(dag_run, dag, "book", i)["Web conference"] for i in range(2)}
    assert urls == {xcom_value(dag_run, "book", map_index=i)["webConferenceUrl"] for i in range(2)}
    assert len(urls) == 2


# --- offline hosts ----------------------------------------------------------------------------------

failures: dict[str, str] = {}


def record_failure(context: Any) -> None:
    ti = context["ti"]
    failures[f"{ti.task_id}[{ti.map_index}]"] = str(context["exception"])


OFFLINE_BOOKING = {**BOOKER, "slug": "offline-host", "startTime": "2026-12-02T09:00:00Z"}


@pytest.mark.parametrize(
    "allow_offline", [False, "false", "False"], ids=["False", "text false", "text False"]
)
def test_offline_host_fails_the_task_without_retry(sandbox, allow_offline):
    """A templated switch renders to text: "false" must mean false (it was once taken as true)."""
    failures.clear()
    with make_dag("book_offline_fails") as dag:
        BookMeetingOperator(
            task_id="book",
            payload=OFFLINE_BOOKING,
            allow_offline=allow_offline,
            retries=3,
            on_failure_callback=record_failure,
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    ti = task_instance(dag_run, "book")
    assert (ti.state, ti.try_number) == ("failed", 1)
    assert "calendar is disconnected" in failures["book[-1]"]
    assert "nothing is on any calendar" in failures["book[-1]"]
    assert len(booking_requests(sandbox)) == 1  # sent once, never retried
    assert sandbox.bookings == []


def test_offline_host_accepted_with_allow_offline(sandbox):
    with make_dag("book_offline_allowed") as dag:
        BookMeetingOperator(task_id="book", payload=OFFLINE_BOOKING, allow_offline=True)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    answer = xcom_value(dag_run, "book")
    assert answer["isOffline"] is True
    assert answer["calendarEventId"] == ""


# --- dry run and page validation --------------------------------------------------------------------


def test_dry_run_returns_the_body_and_sends_nothing(sandbox):
    with make_dag("book_dry_run") as dag:
        BookMeetingOperator(task_id="book", payload=BOOKER, timezone="America/New_York", validate_only=True)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert sandbox.requests == []
    body = xcom_value(dag_run, "book")
    assert body == {**BOOKER_WIRE, "timezone": "America/New_York"}
    assert_valid_booking_request(body)


def test_dry_run_output_books_for_real_downstream(sandbox):
    with make_dag("book_after_dry_run") as dag:
        dry = BookMeetingOperator(task_id="dry", payload=BOOKER, validate_only=True)
        BookMeetingOperator(task_id="book", payload=dry.output)

    assert_booked_exactly(sandbox, run_dag(dag), [BOOKER_WIRE])


def test_validate_against_page_accepts_a_complete_booking(sandbox):
    payload = {
        **BOOKER,
        "slug": "demo-with-form",
        "duration": 900000,
        "formFields": {"company": "Acme"},
        "legalConsentResponses": [{"communicationTypeId": "4711", "consented": True}],
    }
    with make_dag("book_validated_ok") as dag:
        BookMeetingOperator(task_id="book", payload=payload, validate_against_page=True)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert [(r.method, r.path) for r in sandbox.requests][:2] == [
        ("GET", "/scheduler/2026-09/meetings/meeting-links/book/demo-with-form"),
        ("POST", "/scheduler/2026-09/meetings/meeting-links/book"),
    ]


PAGE_REJECTIONS = {
    "duration": (
        {**BOOKER, "duration": "PT45M"},
        ["duration:", "45 min", "offers 30 min (1800000 ms), 60 min"],
    ),
    "form": (
        {
            **BOOKER,
            "slug": "demo-with-form",
            "duration": 900000,
            "legalConsentResponses": [{"communicationTypeId": "4711", "consented": True}],
        },
        ["form_fields:", "'company' (Company)"],
    ),
    "consent": (
        {
            **BOOKER,
            "slug": "demo-with-form",
            "duration": 900000,
            "formFields": {"company": "Acme"},
            "legalConsentResponses": [{"communicationTypeId": "4711", "consented": False}],
        },
        ["legal_consent_responses:", "'4711'"],
    ),
    "start": (
        {**BOOKER, "startTime": "2026-12-02T12:07:00Z"},
        [
            "start_time:",
            "not an available 30 min (1800000 ms) slot",
            "nearest available: 2026-12-02T09:00:00",
        ],
    ),
}


def test_validate_against_page_rejects_with_the_pages_options(sandbox):
    failures.clear()
    with make_dag("book_validated_rejects") as dag:
        for name, (payload, _expected) in PAGE_REJECTIONS.items():
            BookMeetingOperator(
                task_id=name,
                payload=payload,
                timezone="America/New_York",
                validate_against_page=True,
                retries=2,
                on_failure_callback=record_failure,
            )

    dag_run = run_dag(dag)

    for name, (_payload, expected) in PAGE_REJECTIONS.items():
        assert task_instance(dag_run, name).state == "failed"
        assert task_instance(dag_run, name).try_number == 1
        for part in expected:
            assert part in failures[f"{name}[-1]"], failures[f"{name}[-1]"]
    assert {r.method for r in sandbox.requests} == {"GET"}
    assert len(sandbox.requests) == len(PAGE_REJECTIONS)


# --- Airflow's "email" trap, secrets, parse time -----------------------------------------------------


def test_default_args_email_is_the_alert_address_never_the_booker(sandbox):
    default_args = {"email": ["oncall@team.example"], "email_on_failure": False, "email_on_retry": False}
    with make_dag("book_email_trap", default_args=default_args) as dag:
        by_keyword = BookMeetingOperator(
            task_id="by_keyword",
            payload=BOOKER,
            contact_email="sam@example.com",
            start_time="2026-12-02T15:00Z",
        )
        by_payload = BookMeetingOperator(task_id="by_payload", payload=BOOKER)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert sorted(body["email"] for body in booking_requests(sandbox)) == [
        "jane.doe@example.com",
        "sam@example.com",
    ]
    # Failure alerts still go to on-call, not to a booker.
    assert by_keyword.email == by_payload.email == ["oncall@team.example"]
    assert "email" not in inspect.signature(BookMeetingOperator.__init__).parameters
    assert "email" not in BookMeetingOperator.template_fields


def test_email_keyword_is_not_taken_as_the_booker(sandbox):
    failures.clear()
    payload = {key: value for key, value in BOOKER.items() if key != "email"}
    with make_dag("book_email_keyword") as dag:
        op = BookMeetingOperator(
            task_id="book", payload=payload, email="booker@example.com", on_failure_callback=record_failure
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    assert op.email == "booker@example.com"  # Airflow's alert recipient, as the user asked
    assert failures["book[-1]"].startswith("contact_email")
    assert "alert recipient" in failures["book[-1]"]
    assert sandbox.requests == []


def test_token_never_reaches_logs_xcom_or_rendered_fields(sandbox, capfd, caplog):
    with make_dag("book_no_token_leak") as dag:
        BookMeetingOperator(task_id="book", payload=BOOKER)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    output = capfd.readouterr()
    logs = output.out + output.err + caplog.text
    assert "Booked slug=alice-smith" in logs
    assert "j***@example.com" in logs
    for stored in (
        logs,
        json.dumps(rendered_fields(dag_run, "book"), default=str),
        json.dumps(xcom_value(dag_run, "book")),
    ):
        assert TOKEN not in stored


def test_one_info_line_per_booking_with_the_correlation_id(sandbox, capfd, caplog):
    with make_dag("book_log_line") as dag:
        BookMeetingOperator(task_id="book", payload=BOOKER)

    run_dag(dag)

    output = capfd.readouterr()
    lines = [line for line in (output.out + output.err + caplog.text).splitlines() if "Booked slug=" in line]
    assert len({line[line.index("Booked slug=") :] for line in lines}) == 1
    line = lines[0]
    answer = hubspot_answers(sandbox)[0]
    post = next(r for r in sandbox.requests if r.method == "POST")
    for part in (
        "slug=alice-smith",
        f"start={SLOT_UTC}",
        "duration_ms=1800000",
        "contact=j***@example.com",
        f"calendarEventId={answer['calendarEventId']}",
        f"correlationId={post.correlation_id}",
    ):
        assert part in line
    assert "jane.doe@example.com" not in line


def test_template_fields_cover_every_input():
    from hubspot_scheduler_provider.booking_input import BOOKING_KEYWORDS

    fields = set(BookMeetingOperator.template_fields)
    assert fields == {
        "payload",
        *BOOKING_KEYWORDS,
        "earliest",
        "latest",
        "hubspot_conn_id",
        "booking_key",
        "validate_only",
    }
    assert BookMeetingOperator.template_fields_renderers["payload"] == "json"
    assert BookMeetingOperator.template_fields_renderers["form_fields"] == "json"


def assert_base_dry_run_left_alone(operator: BookMeetingOperator) -> None:
    if HAS_BASE_DRY_RUN:
        operator.dry_run()
    else:  # 3.0: nothing to leave alone, and nothing may take the name
        assert not hasattr(operator, "dry_run")


def test_validate_only_leaves_base_operators_dry_run_method_alone():
    # `airflow tasks test --dry-run` calls task.dry_run(); a bool attribute there would crash it.
    operator = BookMeetingOperator(task_id="book", payload=BOOKER, validate_only=True)
    assert operator.validate_only is True
    assert_base_dry_run_left_alone(operator)


def test_dry_run_is_a_deprecated_spelling_of_validate_only():
    from airflow.exceptions import AirflowProviderDeprecationWarning

    with pytest.warns(AirflowProviderDeprecationWarning, match="use validate_only"):
        operator = BookMeetingOperator(task_id="book", payload=BOOKER, dry_run=True)
    assert operator.validate_only is True
    assert_base_dry_run_left_alone(operator)


def test_no_connection_lookup_or_request_at_parse_time(sandbox, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_HUBSPOT_DEFAULT")
    with make_dag("book_parse_time"):
        op = BookMeetingOperator(task_id="book", payload=BOOKER, hubspot_conn_id="no_such_connection")
    assert op.hubspot_conn_id == "no_such_connection"
    assert sandbox.requests == []
