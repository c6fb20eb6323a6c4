"""The slice of Airflow 3's public REST API (v2) the e2e tier drives, as a user's script would."""

from __future__ import annotations

import time
from typing import Any

import requests

TERMINAL_RUN_STATES = {"success", "failed"}


class AirflowRestClient:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        token = self._request("POST", "/auth/token", json={"username": username, "password": password})
        self.session.headers["Authorization"] = f"Bearer {token['access_token']}"

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.base_url}{path}", timeout=30, **kwargs)
        if not response.ok:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self._request("GET", f"/api/v2{path}", params=params)

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.session.get(f"{self.base_url}/api/v2/dags/{dag_id}", timeout=30)
            if response.ok:
                return dict(response.json())
            if time.monotonic() > deadline:
                errors = self.get("/importErrors")
                raise AssertionError(f"DAG {dag_id} not parsed in {timeout}s; import errors: {errors}")
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        dag = self._request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        assert dag["is_paused"] is False

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
        # What the UI's trigger form sends: no logical date (Airflow 3 runs need none), the form as conf.
        return dict(
            self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        )

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in TERMINAL_RUN_STATES:
                return dict(run)
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still {run['state']} after {timeout}s")
            time.sleep(1)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"])

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return dict(self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"))

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        entry = self.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            map_index=map_index,
        )
        return entry["value"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        log = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}")
        return "\n".join(str(line.get("event", line)) for line in log["content"])
