"""Fixtures of the reliability suite (helpers live in ``helpers``, imported under one module name)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from hubspot_scheduler_provider import reconcile
from tests.reliability.helpers import FAST_SETTLE, REPORTED, SANDBOX_NOW, TOKEN

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hubspot_scheduler_provider.testing import HubSpotSandbox


@pytest.fixture(autouse=True)
def _no_crm_recheck_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox's CRM shows a booking at once; skip the waits meant for HubSpot's indexing lag."""
    monkeypatch.setattr(reconcile, "CRM_INDEX_LAG_SECONDS", 0.0)


@pytest.fixture
def sandbox(hubspot_sandbox_factory: Any, airflow_db: str) -> HubSpotSandbox:
    """The sandbox, with a short request timeout: an earlier send without an answer is settled once it
    surely ended (its timeout) and the CRM index caught up, so HubSpot's 30 s would be 30 s of waiting."""
    started: HubSpotSandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, conn_extra=FAST_SETTLE)
    return started


@pytest.fixture(autouse=True)
def _fresh_reports() -> Iterator[None]:
    REPORTED.clear()
    yield
    REPORTED.clear()
