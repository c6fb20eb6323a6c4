"""Parse cost: importing this provider's operator module vs the HTTP provider's ``HttpOperator`` module.

Each import runs in a fresh interpreter (what a DAG-file processor pays per parse process), alternating
between the two, ``RUNS`` times each; the medians count. Both include importing Airflow itself, as a DAG
file does. Times are the importing process's CPU time: on a shared machine, wall time also counts
waiting for a CPU (the wall-clock medians are reported too). The "after Airflow" figures import
``airflow.providers.common.compat.sdk`` first and time only the module on top of it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from benchmarks._common import report

RUNS = 5
OURS = "hubspot_scheduler_provider.operators.book_meetings"
THEIRS = "airflow.providers.http.operators.http"
AIRFLOW = "airflow.providers.common.compat.sdk"


def _import_seconds(module: str, preload: str | None = None) -> float:
    code = (
        f"import {preload}; " if preload else ""
    ) + f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(output.strip().splitlines()[-1])


def _medians(preload: str | None) -> tuple[float, float]:
    times: dict[str, list[float]] = {OURS: [], THEIRS: []}
    for _ in range(RUNS):
        for module in (OURS, THEIRS):
            times[module].append(_import_seconds(module, preload))
    return statistics.median(times[OURS]), statistics.median(times[THEIRS])


def main() -> None:
    ours, theirs = _medians(None)
    ours_on_top, theirs_on_top = _medians(AIRFLOW)
    report(
        {
            "import_ratio": round(ours / theirs, 3),
            "import_provider_operator_ms": round(ours * 1000, 1),
            "import_http_operator_ms": round(theirs * 1000, 1),
            "import_after_airflow_provider_operator_ms": round(ours_on_top * 1000, 1),
            "import_after_airflow_http_operator_ms": round(theirs_on_top * 1000, 1),
            "import_runs": RUNS,
        }
    )


if __name__ == "__main__":
    main()
