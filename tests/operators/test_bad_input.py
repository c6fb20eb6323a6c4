"""Bad input fails before any request: one message naming the field and the problem, nothing sent.

Each case runs ``BookMeetingOperator.execute`` with a real sandbox listening (the connection points at
it); the sandbox must receive nothing. The last test runs a few cases in a real DAG run to show the task
fails once, without retries.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG, task

from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.testing import HubSpotSandbox
from tests.operators.conftest import BOOKER, SANDBOX_NOW, TOKEN, run_dag, task_instance

#: A complete, valid booking as keywords; each case changes one thing.
VALID = {
    "slug": "alice-smith",
    "contact_email": "jane.doe@example.com",
    "first_name": "Jane",
    "last_name": "Doe",
    "start_time": "2026-12-02T14:00:00Z",
    "duration": 1800000,
}
WITHOUT_SLUG = {key: value for key, value in BOOKER.items() if key != "slug"}


def case(field: str, mentions: str, **changes: Any) -> Any:
    """``changes`` applied to ``VALID`` (``None`` removes a keyword); the message must start with
    ``field`` and contain ``mentions``."""
    return pytest.param({**VALID, **changes}, field, mentions, id=f"{field}: {mentions}")


def payload_case(field: str, mentions: str, payload: Any) -> Any:
    kwargs = {key: None for key in VALID}
    return pytest.param({**kwargs, "payload": payload}, field, mentions, id=f"{field}: {mentions}")


CASES = [
    # payload of the wrong type or shape
    payload_case("payload", "got list", ["alice-smith"]),
    payload_case("payload", "got int", 42),
    payload_case("payload", "not valid JSON", "{'slug': 'alice-smith',"),
    payload_case("payload", "expected a JSON object, got list", '["alice-smith"]'),
    payload_case("payload", "rendered to 'None'", "None"),
    payload_case("payload", "rendered to '  '", "  "),
    payload_case("payload", "'strat_time' (did you mean 'start_time'?)", {**BOOKER, "strat_time": "x"}),
    payload_case("payload", "unknown key 'company'", {**BOOKER, "company": "Acme"}),
    payload_case("payload", "'startTime' and 'start_time' both give", {**BOOKER, "start_time": "x"}),
    payload_case("payload", "'email' and 'contact_email' both give", {**BOOKER, "contact_email": "x@y.io"}),
    # required text fields
    case("slug", "required", slug=None),
    payload_case("slug", "required", WITHOUT_SLUG),
    case("slug", "must not be empty", slug=""),
    case("slug", "must not be empty", slug="   "),
    case("slug", "contains whitespace", slug="alice smith"),
    case("slug", "expected text, got int", slug=123),
    case("slug", "looks like a URL", slug="https://meetings.hubspot.com/alice-smith"),
    case("contact_email", "the booker's email address", contact_email=None),
    case("contact_email", "must not be empty", contact_email=""),
    case("contact_email", "'jane' is not an email address", contact_email="jane"),
    case("contact_email", "not an email address", contact_email="jane@"),
    case("contact_email", "not an email address", contact_email="jane doe@example.com"),
    case("contact_email", "not an email address", contact_email="jane@example"),
    # the value is quoted masked: bad input is often a real address with a typo
    case(
        "contact_email", "'j***@example.com@' is not an email address", contact_email="jane.doe@example.com@"
    ),
    case("contact_email", "'j***@example.com x' is not", contact_email="jane.doe%40example.com x"),
    payload_case("email", "not an email address", {**BOOKER, "email": "a@@example.com"}),
    case("first_name", "required", first_name=None),
    case("first_name", "must not be empty", first_name=""),
    case("last_name", "must not be empty", last_name="  "),
    case("last_name", "expected text, got int", last_name=7),
    # start time
    case("start_time", "required", start_time=None),
    case("start_time", "cannot parse 'tomorrow'", start_time="tomorrow"),
    case("start_time", "a date without a time of day", start_time="2026-12-02"),
    case("start_time", "a date without a time of day", start_time=date(2026, 12, 2)),
    case("start_time", "a time of day without a date", start_time="14:00"),
    case("start_time", "cannot parse", start_time="2026-13-02T09:00Z"),
    case("start_time", "has no UTC offset; give timezone=", start_time="2026-12-02T09:00"),
    case("start_time", "seconds? multiply by 1000", start_time=1796220000),
    case("start_time", "got bool", start_time=True),
    case("start_time", "got list", start_time=[2026, 12, 2]),
    case(
        "start_time",
        "does not exist in America/New_York",
        start_time="2026-03-08T02:30",
        timezone="America/New_York",
    ),
    payload_case("startTime", "cannot parse", {**BOOKER, "startTime": "next tuesday"}),
    # time zone
    case("timezone", "unknown time zone 'Mars/Olympus'", timezone="Mars/Olympus"),
    case("timezone", "did you mean 'Europe/Berlin'?", timezone="Europe/Berln"),
    case("timezone", "unknown time zone '+02:00'", timezone="+02:00"),
    case("timezone", "must not be empty", timezone=""),
    # duration
    case("duration", "required", duration=None),
    case("duration", "must be positive, got 0", duration=0),
    case("duration", "must be positive", duration=-1800000),
    case("duration", "less than a minute", duration=30),
    case("duration", "cannot parse 'thirty minutes'", duration="thirty minutes"),
    case("duration", "years or months", duration="P1M"),
    case("duration", "not a whole number of minutes", duration=1800500),
    case("duration", "must be positive", duration="PT0S"),
    case("duration", "must be positive", duration=timedelta(minutes=-30)),
    case("duration", "got bool", duration=True),
    # form fields
    case("form_fields", "not valid JSON", form_fields="company=Acme"),
    case("form_fields[0].value", "required", form_fields=[{"name": "company"}]),
    case(
        "form_fields[0]", "unknown key 'label'", form_fields=[{"name": "company", "value": "x", "label": "y"}]
    ),
    case("form_fields[0].name", "must not be empty", form_fields=[{"name": "", "value": "x"}]),
    case("form_fields['company'].value", "got dict", form_fields={"company": {"name": "Acme"}}),
    case("form_fields", "got int", form_fields=42),
    case(
        "form_fields[1]",
        "answered twice",
        form_fields=[{"name": "a", "value": "1"}, {"name": "a", "value": "2"}],
    ),
    payload_case("formFields[0]", "expected {'name'", {**BOOKER, "formFields": ["company"]}),
    # consents
    case("legal_consent_responses", "expected a list", legal_consent_responses={"4711": True}),
    case(
        "legal_consent_responses[0].consented",
        "got nothing",
        legal_consent_responses=[{"communicationTypeId": "4711"}],
    ),
    case(
        "legal_consent_responses[0].consented",
        "expected true or false, got str",
        legal_consent_responses=[{"communicationTypeId": "4711", "consented": "yes"}],
    ),
    case(
        "legal_consent_responses[0].communicationTypeId",
        "required",
        legal_consent_responses=[{"consented": True}],
    ),
    case(
        "legal_consent_responses[0]",
        "did you mean 'communicationTypeId'?",
        legal_consent_responses=[{"communicationTypeID": "4711", "consented": True}],
    ),
    # user ids and locale
    case("likely_available_user_ids", "expected a list", likely_available_user_ids="1001"),
    case("likely_available_user_ids[0]", "non-empty ID", likely_available_user_ids=[None]),
    case("likely_available_user_ids[1]", "non-empty ID", likely_available_user_ids=["1001", " "]),
    case("locale", "must not be empty", locale=""),
]


@pytest.fixture(scope="module")
def quiet_sandbox():
    """One sandbox for all cases: none of them may send it anything."""
    with HubSpotSandbox(token=TOKEN, now=SANDBOX_NOW) as sandbox, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", sandbox.connection_json())
        yield sandbox


def test_at_least_40_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize(("kwargs", "field", "mentions"), CASES)
def test_bad_input_names_the_field_and_sends_nothing(quiet_sandbox, kwargs, field, mentions):
    operator = BookMeetingOperator(task_id="book", **kwargs)

    with pytest.raises(BookingInputError) as caught:
        operator.execute({})

    message = str(caught.value)
    assert message.startswith(field), message
    assert caught.value.field.startswith(field)
    assert mentions in message, message
    assert "jane.doe" not in message, message  # emails are quoted masked, even percent-encoded
    assert quiet_sandbox.requests == []


failures: dict[int, str] = {}


def record_failure(context: Any) -> None:
    failures[context["ti"].map_index] = str(context["exception"])


def test_in_a_dag_run_bad_input_fails_once_and_sends_nothing(hubspot_sandbox_factory, airflow_db):
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW)
    bad = [
        {**VALID, "contact_email": "on-call"},
        {**VALID, "duration": "thirty"},
        {"payload": "{{ ti.xcom_pull(task_ids='returns_nothing') }}"},  # renders to 'None'
    ]
    failures.clear()
    with DAG("book_bad_input", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False) as dag:

        @task
        def returns_nothing() -> None:
            return None

        booking = BookMeetingOperator.partial(
            task_id="book", retries=3, on_failure_callback=record_failure
        ).expand_kwargs(bad)
        returns_nothing() >> booking

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    for map_index in range(len(bad)):
        ti = task_instance(dag_run, "book", map_index)
        assert (ti.state, ti.try_number) == ("failed", 1)
    assert failures[0].startswith("contact_email: 'on-call' is not an email address")
    assert failures[1].startswith("duration: cannot parse 'thirty'")
    assert failures[2].startswith("payload: rendered to 'None'")
    assert sandbox.requests == []
