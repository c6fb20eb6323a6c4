"""``bash .ci/distributed --serve``: the tier's deployment and sandbox, kept up until Ctrl-C.

Prints the UI's address and the admin password; the DAGs of ``tests/distributed/dags`` are loaded.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    from tests.distributed.conftest import DAGS, LIMIT, WINDOW_SECONDS, new_sandbox
    from tests.distributed.deployment import CeleryDeployment

    sandbox = new_sandbox().start()
    deployment = CeleryDeployment(home=Path(tempfile.mkdtemp(prefix="hubspot-celery-")), dags_folder=DAGS)
    deployment.extra_env = {
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": sandbox.connection_json(
            rate_limit_storage_uri=f"{deployment.redis_url}/1",
            rate_limit_max_requests=LIMIT,
            rate_limit_window_seconds=WINDOW_SECONDS,
        ),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    try:
        deployment.start()
        print(f"Airflow UI: {deployment.url}  (user admin, password {deployment.password})", flush=True)
        print(f"sandbox: {sandbox.url}; logs: {deployment.home}; Ctrl-C stops everything", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        deployment.stop()
        sandbox.stop()
        os.sync()


if __name__ == "__main__":
    main()
