"""pytest plugin (``pytest11`` entry point): fixtures starting the HubSpot sandbox, a test double.

* ``hubspot_sandbox``: a started ``HubSpotSandbox`` with default settings for one test; the Airflow
  connection ``hubspot_default`` (env var ``AIRFLOW_CONN_HUBSPOT_DEFAULT``) points at it.
* ``hubspot_sandbox_factory``: call it with ``HubSpotSandbox`` keyword arguments (``rate_limit=...``,
  ``now=...``, OAuth client settings, ``conn_id=...``) to get more sandboxes; each is started, its
  connection env var set, and stopped after the test.

pytest is imported here only, so ``hubspot_scheduler_provider.testing`` works without pytest. The
sandbox itself is imported inside the fixtures: pytest loads this plugin in every test run of every
project that installs the provider, and most of them never start a sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing.sandbox import HubSpotSandbox

SandboxFactory = Callable[..., "HubSpotSandbox"]


def connection_env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


@pytest.fixture
def hubspot_sandbox_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxFactory]:
    from hubspot_scheduler_provider.testing.sandbox import HubSpotSandbox

    started: list[HubSpotSandbox] = []

    def start(
        *, conn_id: str = "hubspot_default", conn_extra: dict[str, Any] | None = None, **options: Any
    ) -> HubSpotSandbox:
        sandbox = HubSpotSandbox(**options).start()
        started.append(sandbox)
        monkeypatch.setenv(connection_env_var(conn_id), sandbox.connection_json(**(conn_extra or {})))
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def hubspot_sandbox(hubspot_sandbox_factory: SandboxFactory) -> HubSpotSandbox:
    return hubspot_sandbox_factory()
