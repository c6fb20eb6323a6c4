"""One CeleryExecutor deployment (PostgreSQL, Redis, two Celery workers) and one sandbox for the tier.

Package-scoped, like the e2e tier's. The sandbox runs in the test process on loopback with HubSpot's
190 requests per 10 s and is the deployment's ``hubspot_default`` connection, opted in to account-wide
pacing through the deployment's Redis (database 1; Celery's broker uses 0). Without the tier's
services (``bash .ci/distributed`` installs them) every test here is skipped, saying why.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.airflow_deployment import ADMIN_USER
from tests.e2e.rest_client import AirflowRestClient

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.distributed.deployment import CeleryDeployment

DAGS = Path(__file__).with_name("dags")
LIMIT = 190
WINDOW_SECONDS = 10


def missing_services() -> str | None:
    """Why the tier cannot run here, or None."""
    import glob

    needs = {
        "the Celery provider (bash .ci/distributed builds its environment)": importlib.util.find_spec(
            "airflow.providers.celery"
        ),
        "limits": importlib.util.find_spec("limits"),
        "redis-server": shutil.which("redis-server"),
        "PostgreSQL server binaries": glob.glob("/usr/lib/postgresql/*/bin/postgres"),
    }
    missing = [name for name, found in needs.items() if not found]
    return f"the distributed tier needs {', '.join(missing)}" if missing else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = missing_services()
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.distributed)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
    # Chaos last: the workloads' timings are measured on an undisturbed deployment.
    items.sort(key=lambda item: Path(str(item.fspath)).name == "test_chaos.py")


def new_sandbox() -> Any:
    """HubSpot's 190 per 10 s, the benchmark page (open around the clock) at the benchmarks' fixed now."""
    from benchmarks._common import NOW, benchmark_page
    from hubspot_scheduler_provider.testing import HubSpotSandbox

    sandbox = HubSpotSandbox(
        token=f"dist-{secrets.token_hex(8)}",
        rate_limit=LIMIT,
        rate_window_seconds=WINDOW_SECONDS,
        daily_limit=None,
        now=NOW,
        validate_responses=False,
    )
    sandbox.add_page(benchmark_page())
    return sandbox


@pytest.fixture(scope="package")
def sandbox() -> Iterator[Any]:
    with new_sandbox() as started:
        yield started


@pytest.fixture(scope="package")
def deployment(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryDeployment]:
    from tests.distributed.deployment import CeleryDeployment

    deployment = CeleryDeployment(home=tmp_path_factory.mktemp("celery-home"), dags_folder=DAGS)
    deployment.extra_env = {
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": sandbox.connection_json(
            rate_limit_storage_uri=f"{deployment.redis_url}/1",
            rate_limit_max_requests=LIMIT,
            rate_limit_window_seconds=WINDOW_SECONDS,
        ),
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]),
    }
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
    leftovers = deployment.leftover_processes()
    assert not leftovers, f"processes left behind by the deployment: {leftovers}"


@pytest.fixture(scope="package")
def rest(deployment: CeleryDeployment) -> AirflowRestClient:
    return AirflowRestClient(deployment.url, ADMIN_USER, deployment.password)


def booking_census(sandbox: Any, tag: str) -> Counter[str]:
    """How many times the sandbox committed each e-mail of run ``tag`` (more than 1: a duplicate)."""
    return Counter(
        str(booking["request"]["email"])
        for booking in sandbox.bookings
        if str(booking["request"]["email"]).startswith(f"{tag}-")
    )
