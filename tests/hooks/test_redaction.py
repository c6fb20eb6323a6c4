"""The provider's own scrubbing (``redaction``): every registered secret, in every form, whatever its
length, in linear time; and every HubSpotError scrubbed at construction."""

from __future__ import annotations

import base64
import json
import re
import time
from urllib.parse import quote, quote_plus

import pytest

from hubspot_scheduler_provider.errors import (
    HubSpotError,
    HubSpotValidationError,
    error_from_response,
    mask_emails,
)
from hubspot_scheduler_provider.redaction import REDACTED, RedactingLogger, redact, register_secret

SECRET = "sec/ret+Tok=en-UNIT-9c1d\"quote'"
SHORT = "zQ"


@pytest.fixture(scope="module", autouse=True)
def registered() -> None:
    register_secret(SECRET)
    register_secret(SHORT)


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        repr(SECRET)[1:-1],
        SECRET.encode("unicode_escape").decode(),
        json.dumps(SECRET)[1:-1],
        json.dumps(json.dumps(SECRET))[1:-1],  # JSON inside a JSON string
        repr(json.dumps(SECRET)),
        quote(SECRET, safe=""),
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(SECRET, safe="")),  # lower-case escapes
        quote_plus(SECRET),
        base64.b64encode(f"client-id:{SECRET}".encode()).decode(),  # Basic auth
        base64.b64encode(f"x{SECRET}".encode()).decode(),
        base64.urlsafe_b64encode(f"xy{SECRET}".encode()).decode(),
        SHORT,  # shorter than Airflow's masker bothers with
    ],
)
def test_every_form_of_a_secret_is_scrubbed(form: str) -> None:
    text = f"before {form} after"
    scrubbed = redact(text)
    assert REDACTED in scrubbed
    core = SECRET.split("-")[2]  # "UNIT": no readable part of the secret survives
    assert core not in scrubbed and (form != SHORT or SHORT not in scrubbed)


def test_redaction_is_linear_in_the_text() -> None:
    for index in range(30):
        register_secret(f"another-secret-{index:02d}-" + "a" * 40)
    hostile = ("another-secret-" + "a" * 39 + " ") * 20_000 + "%" * 200_000  # near-misses, 1.4 MB
    started = time.thread_time()  # CPU time of this thread: what the pattern costs, not the machine's load
    redact(hostile)
    assert time.thread_time() - started < 1.0


def test_every_hubspot_error_is_scrubbed_at_construction() -> None:
    error = error_from_response(
        400,
        json.dumps(
            {
                "message": f"bad token {SECRET}",
                "correlationId": SHORT,
                "errors": [{"m": SECRET}],
                "context": {"t": [SECRET]},
            }
        ),
        headers={"X-HubSpot-Correlation-Id": SHORT},
    )
    assert isinstance(error, HubSpotValidationError)
    texts = [
        str(error),
        repr(error),
        json.dumps(error.errors),
        json.dumps(error.context),
        str(error.correlation_id),
    ]
    assert all("UNIT" not in text and SHORT not in text for text in texts), texts
    assert "UNIT" not in str(HubSpotError(f"direct {SECRET}"))


def test_the_hooks_log_lines_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    logger = logging.getLogger("tests.redaction")
    with caplog.at_level(logging.INFO, logger="tests.redaction"):
        RedactingLogger(logger).info("token %s and %r", SECRET, SECRET)
    assert "UNIT" not in caplog.text and REDACTED in caplog.text


@pytest.mark.parametrize(
    "text",
    [
        "a" * 2**20,
        "a%40" * 2**18,
        "a@" * 2**19,
        "a.@a." * (2**20 // 5),
        ("x" * 1000 + "@") * 1000,
        "a@" + "a." * 2**19,
        "ab.cd@ef.gh " * (2**20 // 12),
    ],
    ids=["run", "percent-at", "at-run", "dots", "long-locals", "long-domain", "many-emails"],
)
def test_mask_emails_is_linear(text: str) -> None:
    started = time.thread_time()  # CPU time of this thread: what the pattern costs, not the machine's load
    mask_emails(text)
    # 1 MB in 0.1 to 0.4 s; the old pattern took 22 s for 32k characters.
    assert time.thread_time() - started < 1.0
