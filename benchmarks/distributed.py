"""Distributed: workload (b) of issue 15 on the CeleryExecutor tier, and the chaos scenarios' outcome.

Two ``BookMeetingsOperator`` tasks of 500 items run at the same time on two Celery workers, sharing one
account (190 per 10 s) through the shared window in Redis (``shared_pacing``). Runs the tier's tests
through ``bash .ci/distributed`` (which installs PostgreSQL and Redis if missing and builds its own
environment); they write their figures to a JSON file read here. The chaos tests' figures are read when
they ran (``HUBSPOT_DISTRIBUTED_CHAOS=1``: every scenario; they take minutes), or all figures come from a
whole tier run that recorded them (``HUBSPOT_DISTRIBUTED_FIGURES=FILE``, written by
``HUBSPOT_DISTRIBUTED_RESULTS=FILE bash .ci/distributed``). Without the tier's
services (no apt-get, no root) it reports why and nothing else.

``python -m benchmarks.distributed`` merges its rows into ``benchmarks/results.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._common import report

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = Path(__file__).with_name("results.json")
ROWS_PREFIX = ("distributed_", "chaos_")
LIMIT, WINDOW_SECONDS = 190, 10  # tests/distributed/conftest.py


def measure() -> dict[str, Any]:
    recorded = os.environ.get("HUBSPOT_DISTRIBUTED_FIGURES")
    if (
        recorded
    ):  # the figures a whole tier run recorded (HUBSPOT_DISTRIBUTED_RESULTS=FILE bash .ci/distributed)
        return rows_from(json.loads(Path(recorded).read_text()), failed=False)
    figures_file = Path(tempfile.mkdtemp(prefix="hubspot-distributed-")) / "figures.json"
    selection = ["tests/distributed/test_workloads.py", "-k", "two_batches"]
    if os.environ.get("HUBSPOT_DISTRIBUTED_CHAOS"):
        selection = ["tests/distributed/test_workloads.py", "tests/distributed/test_chaos.py", "-k",
                     "two_batches or chaos"]  # fmt: skip
    completed = subprocess.run(
        ["bash", str(ROOT / ".ci" / "distributed"), *selection, "-q"],
        cwd=ROOT,
        env={**os.environ, "HUBSPOT_DISTRIBUTED_RESULTS": str(figures_file)},
        capture_output=True,
        text=True,
    )
    if not figures_file.exists():
        tail = (completed.stdout + completed.stderr).strip().splitlines()[-5:]
        return {"distributed_skipped": f"the distributed tier did not run: {' | '.join(tail)}"}
    return rows_from(json.loads(figures_file.read_text()), failed=completed.returncode != 0)


def rows_from(figures: dict[str, Any], *, failed: bool) -> dict[str, Any]:
    b = figures["workload_b"]
    # The physical minimum of R requests at L per rolling window W: floor((R - 1) / L) x W (request k
    # starts no earlier than one window after request k - L); (R - L) x W / L beside it.
    minimum = (b["requests"] - 1) // LIMIT * WINDOW_SECONDS
    smooth = (b["requests"] - LIMIT) * WINDOW_SECONDS / LIMIT
    rows: dict[str, Any] = {
        "distributed_ratio": round(b["elapsed_s"] / minimum, 3),
        "distributed_ratio_vs_smooth_minimum": round(b["elapsed_s"] / smooth, 3),
        "distributed_smooth_minimum_s": round(smooth, 2),
        "distributed_429_fraction": b["fraction_429"],
        "distributed_duplicates": b["duplicates"],
        "distributed_lost": b["lost"],
        "distributed_failed": b["failed"],
        "distributed_elapsed_s": b["elapsed_s"],
        "distributed_minimum_s": minimum,
        "distributed_requests": b["requests"],
        "distributed_429s": b["429s"],
        "distributed_limit": "190 per 10 s, 2 Celery workers, 2 x 500 bookings",
    }
    chaos = {name: value for name, value in figures.items() if name.startswith("chaos_")}
    if chaos:
        survived = sum(1 for value in chaos.values() if value.get("survived"))
        rows["chaos_scenarios_survived"] = f"{survived} of {len(chaos)}"
        rows["chaos_survived_fraction"] = round(survived / len(chaos), 3)
        rows["chaos_details"] = chaos
    if failed:
        rows["distributed_tier_failed"] = True
    return rows


def merge(rows: dict[str, Any]) -> None:
    """Replace the tier's rows of ``results.json``, keeping every other benchmark's."""
    results = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {}
    results = {key: value for key, value in results.items() if not key.startswith(ROWS_PREFIX)}
    results.update(rows)
    from benchmarks.__main__ import TARGETS, _met

    targets_met = results.setdefault("targets_met", {})
    for key in TARGETS:
        if key.startswith(ROWS_PREFIX) and isinstance(rows.get(key), (int, float)):
            targets_met[key] = _met(key, rows[key])
    results.setdefault("targets", {}).update(
        {
            key: f"{comparison} {bound}"
            for key, (comparison, bound) in TARGETS.items()
            if key.startswith(ROWS_PREFIX)
        }
    )
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    rows = measure()
    if "distributed_skipped" not in rows:
        merge(rows)
    report(rows)


if __name__ == "__main__":
    main()
