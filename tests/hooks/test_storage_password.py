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
