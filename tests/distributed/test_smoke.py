"""The deployment itself: CeleryExecutor on PostgreSQL, two workers, both taking tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.distributed.deployment import CeleryDeployment
    from tests.e2e.rest_client import AirflowRestClient


def test_deployment_is_celery_on_postgres(deployment: CeleryDeployment, rest: AirflowRestClient) -> None:
    health = rest.get("/monitor/health")
    assert health["metadatabase"]["status"] == "healthy"
    env = deployment.env
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert {deployment.pid("worker-1"), deployment.pid("worker-2")}
    rest.wait_for_dag("distributed_mapped")
