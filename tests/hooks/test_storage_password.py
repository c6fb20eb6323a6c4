"""The shared window's Redis password (``rate_limit_storage_uri``'s, or the separate extra
``rate_limit_storage_password``): merged into the URL, masked by Airflow and scrubbed by the provider as
soon as the settings are read, never in repr() or an error's text."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from airflow.providers.common.compat.sdk import redact as airflow_redact

from hubspot_scheduler_provider.errors import HubSpotConfigError
from hubspot_scheduler_provider.redaction import redact
from tests.hooks.test_connection import settings_for

# Passwords no other test registers, so nothing but the code under test can have masked them.
IN_URI = "Uri-Pw-7f3KqZ"
SEPARATE = "Sep/Pw:9x@Lm"


def hidden_everywhere(secret: str) -> bool:
    """Airflow's masker (task logs) and the provider's scrubber (its own messages) both hide it."""
    line = f"connecting to redis://:{secret}@cache:6379/1 failed"
    return secret not in str(airflow_redact(line)) and secret not in redact(line)


def test_the_password_in_the_url_is_masked_when_the_settings_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not hidden_everywhere(IN_URI)
    uri = f"redis://:{IN_URI}@127.0.0.1:6379/1"
    settings = settings_for(monkeypatch, extra={"rate_limit_storage_uri": uri})
    assert settings.rate_limit_storage_uri == uri
    assert hidden_everywhere(IN_URI)
    assert IN_URI not in repr(settings)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("redis://127.0.0.1:6379/1", "redis://:Sep%2FPw%3A9x%40Lm@127.0.0.1:6379/1"),
        ("rediss://alice@cache.internal:6380/0", "rediss://alice:Sep%2FPw%3A9x%40Lm@cache.internal:6380/0"),
    ],
)
def test_the_separate_password_extra_is_merged_into_the_url(
    monkeypatch: pytest.MonkeyPatch, uri: str, expected: str
) -> None:
    settings = settings_for(
        monkeypatch, extra={"rate_limit_storage_uri": uri, "rate_limit_storage_password": SEPARATE}
    )
    assert settings.rate_limit_storage_uri == expected
    assert unquote(urlsplit(expected).password or "") == SEPARATE  # what redis-py will send
    assert hidden_everywhere(SEPARATE) and SEPARATE not in repr(settings)
    assert "Sep%2FPw%3A9x%40Lm" not in redact(f"could not reach {expected}")


@pytest.mark.parametrize(
    "extra",
    [
        {"rate_limit_storage_password": "Lone-Pw-NEVER-SHOWN-1"},
        {
            "rate_limit_storage_uri": "redis://:Both-Pw-NEVER-SHOWN-2@cache:6379/1",
            "rate_limit_storage_password": "Both-Pw-NEVER-SHOWN-3",
        },
    ],
)
def test_a_password_without_its_url_or_given_twice_names_the_field(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any]
) -> None:
    with pytest.raises(HubSpotConfigError, match="rate_limit_storage_password") as raised:
        settings_for(monkeypatch, extra=extra)
    assert "NEVER-SHOWN" not in str(raised.value)


@pytest.mark.parametrize(
    ("uri", "secret"),
    [
        ("redis://cache:6379/1?password=Query-Pw-NEVER-SHOWN-4", "Query-Pw-NEVER-SHOWN-4"),
        ("rediss://cache:6380/0?db=0&Password=Query%2FPw-NEVER-SHOWN-5", "Query/Pw-NEVER-SHOWN-5"),
        ("redis://cache:6379/1?username=alice&password=Query-Pw-NEVER-SHOWN-6", "Query-Pw-NEVER-SHOWN-6"),
        ("redis://cache:6379/1?username=alice", None),
        # redis-py passes every query parameter on: ssl_password is the TLS key's passphrase.
        ("rediss://cache:6380/0?ssl_password=Key-Pw-NEVER-SHOWN-11", "Key-Pw-NEVER-SHOWN-11"),
    ],
)
def test_credentials_as_query_parameters_are_refused_naming_both_fields(
    monkeypatch: pytest.MonkeyPatch, uri: str, secret: str | None
) -> None:
    """redis-py sends ``?password=`` (and ``?username=``) to Redis as credentials: a password there would
    pass the userinfo masking (and an AUTH echoed back would carry it), so the URL is refused."""
    with pytest.raises(HubSpotConfigError, match="rate_limit_storage_uri") as raised:
        settings_for(monkeypatch, extra={"rate_limit_storage_uri": uri})
    text = str(raised.value)
    assert "rate_limit_storage_password" in text and "NEVER-SHOWN" not in text
    if secret is not None:
        assert hidden_everywhere(secret)  # masked before the refusal, should the URL be logged elsewhere


@pytest.mark.parametrize(
    "uri",
    [
        "redis://cache:6379/1?password=Twice-NEVER-SHOWN-7",
        # Long values only: every registered secret is scrubbed from all later text of the test process.
        "redis://:Twice-NEVER-SHOWN-8@cache:6379/1?password=Twice-NEVER-SHOWN-10",
    ],
)
def test_a_query_password_counts_in_the_given_twice_check(monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    extra = {"rate_limit_storage_uri": uri}
    if "@" not in uri:
        extra["rate_limit_storage_password"] = "Twice-NEVER-SHOWN-9"
    with pytest.raises(HubSpotConfigError, match="given twice") as raised:
        settings_for(monkeypatch, extra=extra)
    assert "NEVER-SHOWN" not in str(raised.value)


def test_a_user_without_a_password_is_a_user_not_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """``redis://user@host`` is a Redis ACL user (redis-py's reading): masking it would hide a word as
    common as ``default`` in every log."""
    uri = "redis://Acl-User-Zq8@127.0.0.1:6379/1"
    settings = settings_for(monkeypatch, extra={"rate_limit_storage_uri": uri})
    assert settings.rate_limit_storage_uri == uri
    line = "connected as Acl-User-Zq8"
    assert str(airflow_redact(line)) == line and redact(line) == line
