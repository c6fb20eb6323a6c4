"""One real Airflow 3 deployment (and one sandbox) shared by every test of the e2e and browser tiers.

Package-scoped: started when the first test here needs it, stopped (process group, no leftovers
checked) after the last one, so the rest of the suite does not share the CPU with it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from tests.compat import airflow_at_least

from .airflow_deployment import ADMIN_USER, AirflowDeployment
from .rest_client import AirflowRestClient

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO_ROOT / "example_dags"
#: Screenshots linked from the README (committed).
ARTIFACTS = REPO_ROOT / "test-artifacts"
FORM_DAG_ID = "hubspot_book_meeting_form"
MINUTE_MS = 60_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        # Under pytest-xdist (``--dist loadgroup``), every test of this package runs in ONE worker, so the
        # package-scoped deployment starts once.
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.xdist_group("airflow-deployment"))
    if AIRFLOW_V_3_0_PLUS and airflow_at_least("3.1"):
        return
    if AIRFLOW_V_3_0_PLUS:  # 3.0: the deployment tier runs; its UI predates the browser tier's test ids
        reason = "Airflow 3.0's UI lacks the data-testids the browser tier drives"
        wanted = "browser"
    else:
        reason = "the e2e/browser tier deploys Airflow 3 (its REST API v2 and React UI)"
        wanted = "e2e"
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here) and item.get_closest_marker(wanted):
            item.add_marker(skip)


@pytest.fixture(scope="package")
def sandbox() -> Iterator[Any]:
    from hubspot_scheduler_provider.testing import HubSpotSandbox

    with HubSpotSandbox(token=f"e2e-{secrets.token_hex(8)}") as started:
        yield started


@pytest.fixture(scope="package")
def airflow(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowDeployment]:
    deployment = AirflowDeployment(
        home=tmp_path_factory.mktemp("airflow-home"),
        dags_folder=EXAMPLE_DAGS,
        extra_env={
            "AIRFLOW_CONN_HUBSPOT_DEFAULT": sandbox.connection_json(),
            # The deferred-sensor test waits through at least one poll after it frees a slot.
            "HUBSPOT_SLOT_SENSOR_POKE_INTERVAL": "2",
            # The new-bookings watcher (tests/e2e/test_new_bookings_watcher.py): its own page, quick polls.
            "HUBSPOT_NEW_BOOKINGS_POLL_INTERVAL": "1",
            "HUBSPOT_WATCHED_LINK_IDS": "3960",
        },
    )
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
    leftovers = deployment.leftover_processes()
    assert not leftovers, f"processes left behind by the deployment: {leftovers}"


@pytest.fixture(scope="package")
def rest(airflow: AirflowDeployment) -> AirflowRestClient:
    return AirflowRestClient(airflow.url, ADMIN_USER, airflow.password)


@dataclass(frozen=True)
class BookedRun:
    conf: dict[str, Any]
    run: dict[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.run["dag_run_id"])


def first_free_slot_iso(sandbox: Any, slug: str, duration_ms: int) -> str:
    """A free slot (an hour or more away) as the sandbox's availability endpoint lists it, ISO 8601 UTC."""
    import pendulum

    from tests.test_example_dags import bookable_slot

    start_ms = bookable_slot(sandbox, slug, duration_ms)
    return pendulum.from_timestamp(start_ms / 1000, tz="UTC").to_iso8601_string()


@pytest.fixture(scope="package")
def booked_run(rest: AirflowRestClient, sandbox: Any) -> BookedRun:
    """The form DAG unpaused and triggered over REST with the conf its trigger form sends; finished."""
    conf = {
        "contact_email": "ada.lovelace@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "slug": "alice-smith",
        "start_time": first_free_slot_iso(sandbox, "alice-smith", 30 * MINUTE_MS),
        "duration": 30 * MINUTE_MS,
        "timezone": "Europe/London",
        "form_fields": None,
        "legal_consent_responses": None,
        "dry_run": False,
    }
    rest.wait_for_dag(FORM_DAG_ID)
    rest.unpause(FORM_DAG_ID)
    triggered = rest.trigger(FORM_DAG_ID, conf)
    return BookedRun(conf=conf, run=rest.wait_for_run(FORM_DAG_ID, triggered["dag_run_id"]))
