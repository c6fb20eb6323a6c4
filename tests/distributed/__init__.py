"""The distributed tier (``-m distributed``, run by ``bash .ci/distributed``): Airflow 3 with
CeleryExecutor on PostgreSQL and Redis, two Celery workers, the sandbox as ``hubspot_default``;
account-wide pacing (``shared_pacing``), the batch workloads and the chaos scenarios."""
