"""Secrets and personal data: DAG runs that succeed and fail in every way a token is used, then a grep of
everything Airflow kept (task logs, log files, XComs, rendered template fields, exception texts) for the
token, the OAuth client secret, refresh and access tokens. Also: emails masked in INFO logs, no response
bodies logged at ERROR, plain http to a non-loopback host refused before any request."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from hubspot_scheduler_provider.errors import HubSpotConfigError, error_from_response, mask_emails
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from hubspot_scheduler_provider.testing import HubSpotSandbox, Status
from tests.compat import without_airflows_mask_secret_echo, xcom_table
from tests.reliability.helpers import (
    FAST_SETTLE,
    REPORTED,
    SANDBOX_NOW,
    TOKEN,
    make_dag,
    payload,
    record_exception,
    run_dag,
)

WRONG_TOKEN = "pat-na1-WRONG-4b9e-token-must-never-leak"
CLIENT_SECRET = "client-secret-9f3c1a-must-never-leak"
REFRESH_TOKEN = "refresh-token-2d7b44-must-never-leak"
WRONG_CLIENT_SECRET = "client-secret-WRONG-5e8d-must-never-leak"
BOOKER_EMAIL = "grace.hopper@example.com"
#: December 2026 weekdays on which 09:00 New York is free on "alice-smith".
WEEKDAYS = (2, 3, 4, 7, 8, 9)


def booking(index: int, **changes: Any) -> dict[str, Any]:
    start = f"2026-12-{WEEKDAYS[index]:02d}T14:00:00Z"
    return {**payload(index), "email": BOOKER_EMAIL, "startTime": start, **changes}


def run_one(dag_id: str, **operator_kwargs: Any) -> Any:
    with make_dag(dag_id) as dag:
        BookMeetingOperator(task_id="book", on_failure_callback=record_exception, **operator_kwargs)
    return run_dag(dag)


def stored_for(dag_ids: list[str]) -> str:
    """XComs and rendered template fields of these DAGs, as stored in the metadata DB (what the UI shows)."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    xcom = xcom_table()
    with create_session() as session:
        xcoms = [row.value for row in session.query(xcom).filter(xcom.dag_id.in_(dag_ids)).all()]
        rendered = [
            row.rendered_fields
            for row in session.query(RenderedTaskInstanceFields)
            .filter(RenderedTaskInstanceFields.dag_id.in_(dag_ids))
            .all()
        ]
    return json.dumps({"xcom": xcoms, "rendered": rendered}, default=str)


def log_files() -> str:
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return (
        "\n".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file())
        if logs.exists()
        else ""
    )


def test_secrets_never_reach_logs_xcom_rendered_fields_or_errors(
    hubspot_sandbox_factory, airflow_db, capfd, caplog
):
    sandbox: HubSpotSandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, conn_extra=FAST_SETTLE)
    oauth: HubSpotSandbox = hubspot_sandbox_factory(
        conn_id="hubspot_oauth",
        token=None,
        now=SANDBOX_NOW,
        oauth_client_id="client-1",
        oauth_client_secret=CLIENT_SECRET,
        oauth_refresh_token=REFRESH_TOKEN,
    )
    os.environ["AIRFLOW_CONN_HUBSPOT_WRONG"] = json.dumps(
        {**sandbox.connection_dict(), "password": WRONG_TOKEN}
    )
    os.environ["AIRFLOW_CONN_HUBSPOT_OAUTH_WRONG"] = oauth.connection_json(client_secret=WRONG_CLIENT_SECRET)
    runs: dict[str, Any] = {}
    try:
        runs["secrets_booked"] = run_one("secrets_booked", payload=booking(0))
        sandbox.inject(Status(502))
        runs["secrets_outcome_unknown"] = run_one("secrets_outcome_unknown", payload=booking(1))
        runs["secrets_wrong_token"] = run_one(
            "secrets_wrong_token", payload=booking(2), hubspot_conn_id="hubspot_wrong"
        )
        runs["secrets_bad_input"] = run_one("secrets_bad_input", payload=booking(3, duration="half an hour"))
        runs["secrets_oauth_booked"] = run_one(
            "secrets_oauth_booked", payload=booking(4), hubspot_conn_id="hubspot_oauth"
        )
        oauth.expire_access_tokens()
        runs["secrets_oauth_wrong_secret"] = run_one(
            "secrets_oauth_wrong_secret", payload=booking(5), hubspot_conn_id="hubspot_oauth_wrong"
        )
    finally:
        del os.environ["AIRFLOW_CONN_HUBSPOT_WRONG"], os.environ["AIRFLOW_CONN_HUBSPOT_OAUTH_WRONG"]

    states = {dag_id: run.state for dag_id, run in runs.items()}
    assert states == {
        "secrets_booked": "success",
        "secrets_outcome_unknown": "failed",
        "secrets_wrong_token": "failed",
        "secrets_bad_input": "failed",
        "secrets_oauth_booked": "success",
        "secrets_oauth_wrong_secret": "failed",
    }
    assert len(REPORTED) == 4  # each failure said why
    output = capfd.readouterr()
    task_logs = output.out + output.err + caplog.text
    haystacks = {
        "task logs": task_logs,
        "log files": log_files(),
        "XCom and rendered fields": stored_for(list(runs)),
        "exception texts": json.dumps(list(REPORTED.values())),
    }
    # The OAuth access tokens HubSpot (the sandbox) issued during the runs are secrets too.
    issued = list(oauth.tokens._issued)
    assert issued, "the OAuth run must have fetched an access token"
    secrets = [TOKEN, WRONG_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, WRONG_CLIENT_SECRET, *issued]
    leaks = [(where, secret) for where, text in haystacks.items() for secret in secrets if secret in text]
    assert leaks == []
    # The checks above can fail: the runs did log, store and raise things.
    assert "Booked slug=alice-smith" in task_logs and "not re-sent" in haystacks["exception texts"]
    assert "contactId" in haystacks["XCom and rendered fields"]


def test_info_logs_mask_emails_and_error_logs_carry_no_response_bodies(sandbox, capfd, caplog):
    sandbox.inject(Status(502))
    run_one("privacy_outcome_unknown", payload=booking(0), retries=1, retry_delay=0)
    run_one("privacy_rejected", payload=booking(1, duration=45 * 60_000))  # HubSpot answers 400

    output = capfd.readouterr()
    lines = (output.out + output.err + caplog.text).splitlines()
    assert any("g***@example.com" in line for line in lines)
    assert [line for line in lines if BOOKER_EMAIL in line and "debug" not in line.lower()] == []
    error_lines = [line for line in lines if "[error" in line or line.startswith("ERROR")]
    assert error_lines, "the failed runs must have logged errors"
    for line in error_lines:
        for body_marker in ('"correlationId":', '"category":', '"formFields":', '"subCategory":'):
            assert body_marker not in line, line


def test_no_log_line_or_error_carries_the_email_even_percent_encoded(sandbox, capfd, caplog):
    sandbox.inject(Status(502))
    # The CRM check reads the contact at /contacts/<email>: a retried read logs a WARNING with that path.
    sandbox.inject(Status(503), method="GET", path_contains="/crm/v3/objects/contacts/")
    run_one("privacy_percent_encoded", payload=booking(0), retries=1, retry_delay=0)

    output = capfd.readouterr()
    lines = (output.out + output.err + caplog.text).splitlines()
    retried = [line for line in lines if "answered 503" in line and "/crm/v3/objects/contacts/" in line]
    assert retried, "the contact read must have been retried with a WARNING"
    emails = (BOOKER_EMAIL, BOOKER_EMAIL.replace("@", "%40"))
    leaks = [
        line
        for line in lines + list(REPORTED.values())
        if any(email in line.lower() for email in emails) and "debug" not in line.lower()
    ]
    assert leaks == []  # INFO, WARNING and ERROR lines, and exception texts


@pytest.mark.parametrize("host", ["http://api.hubapi.com", "http://10.0.0.7:8080", "api.hubapi.com:80"])
def test_plain_http_to_a_non_loopback_host_is_refused_before_any_request(monkeypatch, sandbox, host):
    schema = {"schema": "http"} if "://" not in host else {}
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_PLAIN",
        json.dumps({"conn_type": "hubspot", "host": host, "password": TOKEN, **schema}),
    )

    with pytest.raises(HubSpotConfigError, match="plain http") as raised:
        HubSpotSchedulerHook("hubspot_plain").get_booking_info("alice-smith", "UTC")

    assert TOKEN not in str(raised.value)
    assert sandbox.requests == []
    assert isinstance(raised.value, AirflowFailException)  # Airflow does not retry a broken connection


def test_a_broken_connection_fails_the_task_without_retries(monkeypatch, sandbox):
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_PLAIN",
        json.dumps({"conn_type": "hubspot", "host": "http://api.hubapi.com", "password": TOKEN}),
    )

    dag_run = run_one("secrets_broken_conn", payload=booking(0), hubspot_conn_id="hubspot_plain", retries=3)

    assert dag_run.state == "failed"
    assert dag_run.get_task_instance("book").try_number == 1
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("GET /crm/v3/objects/contacts/jane.doe%40example.com failed", "contacts/j***@example.com failed"),
        ("jane.doe%40Example.COM", "j***@Example.COM"),
        ("JANE%2Bwork%40example.com", "J***@example.com"),
        ("jane.doe@example.com", "j***@example.com"),
    ],
)
def test_mask_emails_masks_percent_encoded_addresses(text, masked):
    assert mask_emails(text).endswith(masked)
    assert "jane" not in mask_emails(text).lower()


def test_hubspot_errors_never_carry_an_email_even_percent_encoded():
    error = error_from_response(
        404, b"{}", method="GET", path="/crm/v3/objects/contacts/grace.hopper%40example.com"
    )

    assert "grace" not in str(error) and "g***@example.com" in str(error)


# --- where Airflow's masker really runs: `airflow tasks test` subprocesses against an echoing server ---

ECHO_TOKEN = "pat-na1-ECHO-6b1f0e-token-must-never-leak"
#: Shorter than Airflow's masker bothers with: only the provider's own scrubbing can catch it.
ECHO_SHORT_TOKEN = "Kq9W"
ECHO_CLIENT_SECRET = "client-secret-ECHO-0d3a-must-never-leak"
ECHO_REFRESH_TOKEN = "refresh-token-ECHO-77e2-must-never-leak"
ECHO_ISSUED_TOKEN = "issued-access-ECHO-c5b8-must-never-leak"
ECHO_SECRETS = (ECHO_TOKEN, ECHO_SHORT_TOKEN, ECHO_CLIENT_SECRET, ECHO_REFRESH_TOKEN, ECHO_ISSUED_TOKEN)
ECHO_DAG_ID = "secrets_echo_subprocess"
ECHO_DAG = '''
import json
import os

import pendulum
from airflow.providers.common.compat.sdk import DAG, BaseOperator

from hubspot_scheduler_provider.errors import HubSpotError
from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator


class ReadAndReport(BaseOperator):
    def execute(self, context):
        read_and_report(context["ti"])


def read_and_report(ti):
    """Like a batch: collect each failure's text and details into XCom, log it, then fail."""
    reports, last = [], None
    for conn_id in ("hubspot_echo_long", "hubspot_echo_oauth", "hubspot_echo_oauth_refused"):
        hook = HubSpotSchedulerHook(conn_id, max_retries=0)
        try:
            hook.get_booking_info("alice-smith", "UTC")
        except HubSpotError as error:
            last = error
            hook.log.warning("read failed: %s (details %s)", error, error.context)
            reports.append({"error": str(error), "context": error.context, "errors": error.errors})
    ti.xcom_push(key="reports", value=reports)
    # `airflow tasks test` deletes its temporary run (and its XComs) at the end: keep what was stored,
    # as stored (XCom values are never masked), and the rendered fields, in a file (not a log line).
    stored = {
        "xcom": ti.xcom_pull(task_ids="read_and_report", key="reports"),
        "rendered": {name: str(getattr(ti.task, name)) for name in ti.task.template_fields},
    }
    with open(os.environ["ECHO_STORED_FILE"], "w") as out:
        json.dump(stored, out)
    raise last


with DAG("secrets_echo_subprocess", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC")):
    BookMeetingOperator(
        task_id="book",
        hubspot_conn_id="hubspot_echo_short",
        payload={"slug": "alice-smith", "email": "ada@example.com", "firstName": "Ada", "lastName": "L",
                 "startTime": "2026-12-02T14:00:00Z", "duration": 1800000},
    )
    ReadAndReport(task_id="read_and_report")
'''


def echo_everything(exchange: Any) -> None:
    """Quote back every credential the request carried (the bearer token, or the token request's client
    secret and refresh token), raw, repr-escaped, JSON-escaped and percent-encoded, in the message, the
    details and the headers. A token request from the client ``echo-refused`` is refused that way; any
    other gets an access token (which the next requests then carry, and get echoed)."""
    from urllib.parse import parse_qs, quote

    request = exchange.request
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    if request.path.startswith("/oauth/v1/token") and form.get("client_id") != "echo-refused":
        body: dict[str, Any] = {"access_token": ECHO_ISSUED_TOKEN, "expires_in": 1800}
        raw = json.dumps(body).encode()
        head = f"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {len(raw)}\r\n"
        exchange.send((head + f"X-Echo: {form.get('client_secret')}\r\n\r\n").encode() + raw)
        return
    carried = [request.headers.get("authorization", "").removeprefix("Bearer ")]
    carried += [form[name] for name in ("client_secret", "refresh_token") if name in form]
    quoted = [
        form for secret in carried for form in (secret, repr(secret), json.dumps(secret), quote(secret))
    ]
    body = {
        "status": "error",
        "message": f"rejected {' '.join(quoted)}",
        "correlationId": carried[-1],
        "category": "VALIDATION_ERROR",
        "errors": [{"message": carried[0], "context": {"carried": carried}}],
        "context": {"carried": carried},
    }
    raw = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\nX-HubSpot-Correlation-Id: {carried[-1]}\r\n"
        f"X-Echo: {carried[0]}\r\n\r\n"
    )
    exchange.send(head.encode() + raw)


def run_task_in_a_subprocess(env: dict[str, str], task_id: str) -> str:
    import subprocess
    import sys

    airflow = str(Path(sys.executable).with_name("airflow"))
    done = subprocess.run(
        [airflow, "tasks", "test", ECHO_DAG_ID, task_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return done.stdout + done.stderr


def test_echoed_secrets_never_leave_a_task_run_where_airflows_masker_runs(airflow_db, tmp_path):
    from hubspot_scheduler_provider.redaction import forms_of
    from tests.hostile_answers.servers import HostileServer

    server = HostileServer().start()
    try:
        dags = tmp_path / "dags"
        dags.mkdir()
        (dags / "secrets_echo.py").write_text(ECHO_DAG)
        base = {"conn_type": "hubspot", "host": server.url}
        oauth = {"client_secret": ECHO_CLIENT_SECRET, "refresh_token": ECHO_REFRESH_TOKEN}
        env = {
            **os.environ,
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "ECHO_STORED_FILE": str(tmp_path / "stored.json"),
            "AIRFLOW_CONN_HUBSPOT_ECHO_SHORT": json.dumps({**base, "password": ECHO_SHORT_TOKEN}),
            "AIRFLOW_CONN_HUBSPOT_ECHO_LONG": json.dumps({**base, "password": ECHO_TOKEN}),
            "AIRFLOW_CONN_HUBSPOT_ECHO_OAUTH": json.dumps({**base, "extra": {**oauth, "client_id": "echo"}}),
            "AIRFLOW_CONN_HUBSPOT_ECHO_OAUTH_REFUSED": json.dumps(
                {**base, "extra": {**oauth, "client_id": "echo-refused"}}
            ),
        }
        for _ in range(20):
            server.queue(echo_everything)
        outputs = {task: run_task_in_a_subprocess(env, task) for task in ("book", "read_and_report")}
    finally:
        server.close()

    task_output = without_airflows_mask_secret_echo("\n".join(outputs.values()))
    assert (tmp_path / "stored.json").exists(), task_output[-4000:]
    haystacks = {
        "task output (logs, exception texts)": task_output,
        "log files": log_files(),
        "XCom and rendered fields": (tmp_path / "stored.json").read_text() + stored_for([ECHO_DAG_ID]),
    }
    secrets = {form: secret for secret in ECHO_SECRETS for form in forms_of(secret)}
    leaks = [
        (where, secret, form)
        for where, text in haystacks.items()
        for form, secret in secrets.items()
        if form in text
    ]
    assert leaks == []
    # The checks above can fail: the echoes arrived, were turned into errors, logged and stored.
    seen = [(r.method, r.path) for r in server.seen]
    assert seen.count(("POST", "/oauth/v1/token")) >= 2
    assert sum("/book/alice-smith" in path for _, path in seen) >= 2, seen
    assert task_output.count("rejected") >= 3, task_output[-3000:]
    assert "rejected" in haystacks["XCom and rendered fields"]
