"""``python -m benchmarks`` (from the repository root): run every benchmark, print a table, write
``benchmarks/results.json``.

Each benchmark runs in a fresh interpreter and reports one JSON object; this merges them into one flat
object (ratios first-class, the absolute figures beside them for context) plus the targets and whether
each was met. A benchmark's own output goes to a log file in a temporary directory, named on failure.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from benchmarks._common import RESULT_PREFIX

BENCHMARKS = (
    "client_overhead",
    "ceiling",
    "airflow_cost",
    "import_cost",
    "peer",
    "memory",
    "batch_retry",
    # The CeleryExecutor tier (bash .ci/distributed); reports distributed_skipped where it cannot run.
    "distributed",
)
RESULTS_FILE = Path(__file__).with_name("results.json")

#: key -> (comparison, bound); "info" rows have no target.
TARGETS = {
    "client_overhead_ratio": (">=", 0.8),
    "ceiling_ratio": ("<=", 1.10),
    "ceiling_429_fraction": ("<=", 0.01),
    "ceiling_failed": ("<=", 0),
    "import_ratio": ("<=", 1.05),
    "batch_retry_ratio": ("<=", 1.10),
    "batch_retry_bookings_total": (">=", 1000),
    "batch_retry_duplicates": ("<=", 0),
    "batch_retry_extra_calls": ("<=", 2 * (8 + 8) + 1),
    "distributed_ratio": ("<=", 1.15),
    "distributed_429_fraction": ("<=", 0.01),
    "distributed_duplicates": ("<=", 0),
    "distributed_lost": ("<=", 0),
    "chaos_survived_fraction": (">=", 1.0),
}


def _run(name: str, log_dir: Path) -> dict:
    log_file = log_dir / f"{name}.log"
    started = time.perf_counter()
    with log_file.open("w") as log:
        completed = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}"], stdout=subprocess.PIPE, stderr=log, text=True
        )
        log.write(completed.stdout)
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if completed.returncode != 0 or not lines:
        raise SystemExit(f"benchmark {name} failed (exit {completed.returncode}); see {log_file}")
    print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return json.loads(lines[-1][len(RESULT_PREFIX) :])  # type: ignore[no-any-return]


def _met(key: str, value: float) -> bool:
    comparison, bound = TARGETS[key]
    return value >= bound if comparison == ">=" else value <= bound


def _table(results: dict) -> str:
    r = results
    rows = [
        (
            "client overhead (hook vs bare requests)",
            f"{r['client_hook_bookings_per_s']:.0f} vs {r['client_bare_requests_per_s']:.0f} bookings/s",
            f"{r['client_overhead_ratio']:.3f}",
            ">= 0.80",
        ),
        (
            f"ceiling ({r['ceiling_bookings']} at {r['ceiling_limit']})",
            f"{r['ceiling_elapsed_s']:.2f} s vs floor((N-1)/L)W {r['ceiling_minimum_s']:.2f} s",
            f"{r['ceiling_ratio']:.3f}",
            "<= 1.10",
        ),
        (
            "ceiling 429s / failed",
            f"{r['ceiling_429s']} of {r['ceiling_requests']} requests; {r['ceiling_failed']} failed",
            f"{r['ceiling_429_fraction']:.4f}",
            "<= 0.01; 0 failed",
        ),
        (
            f"Airflow cost ({r['airflow_bookings']} mapped tasks vs 1 batch task)",
            f"{r['airflow_mapped_s']:.2f} s vs {r['airflow_batch_s']:.2f} s (dag.test)",
            f"{r['mapped_vs_batch_ratio']:.1f}",
            "-",
        ),
        (
            "parse cost (operator import vs HttpOperator)",
            f"{r['import_provider_operator_ms']:.0f} vs {r['import_http_operator_ms']:.0f} ms CPU "
            f"(after Airflow: {r['import_after_airflow_provider_operator_ms']:.0f} vs "
            f"{r['import_after_airflow_http_operator_ms']:.0f} ms)",
            f"{r['import_ratio']:.3f}",
            "<= 1.05",
        ),
        (
            "peer (stock HttpOperator vs hook, per booking)",
            f"{r['peer_http_operator_ms_per_booking']:.2f} vs {r['peer_hook_ms_per_booking']:.2f} ms",
            f"{r['peer_http_operator_vs_hook_ratio']:.2f}",
            "-",
        ),
        (
            "memory (10,000-item batch, peak RSS)",
            f"{r['batch_10k_peak_rss_mb']:.0f} MB (1,000 items: {r['batch_1k_peak_rss_mb']:.0f} MB): "
            f"{r['batch_rss_bytes_per_item']} B/item = results {r['batch_result_bytes_per_item']} "
            f"+ other {r['batch_overhead_bytes_per_item']}",
            f"{r['batch_10k_peak_rss_mb']:.0f} MB",
            "few MB per-item state",
        ),
        (
            f"batch retry ({r['batch_retry_remaining_items']} left of 1000 after a SIGKILL, "
            f"{r['batch_retry_limit']})",
            f"{r['batch_retry_elapsed_s']:.2f} s vs floor((N-1)/L)W {r['batch_retry_minimum_s']:.2f} s "
            f"((N-L)W/L: {r['batch_retry_linear_minimum_s']:.2f} s); "
            f"{r['batch_retry_hubspot_calls']} HubSpot calls; {r['batch_retry_bookings_total']} booked, "
            f"{r['batch_retry_duplicates']} duplicates",
            f"{r['batch_retry_ratio']:.3f}",
            "<= 1.10",
        ),
    ]
    if "distributed_ratio" in r:
        rows.append(
            (
                f"distributed ({r['distributed_limit']})",
                f"{r['distributed_elapsed_s']:.1f} s vs floor((N-1)/L)W {r['distributed_minimum_s']:.1f} s; "
                f"{r['distributed_429s']} 429s of {r['distributed_requests']}; "
                f"{r['distributed_duplicates']} duplicates, {r['distributed_lost']} lost; "
                f"chaos {r.get('chaos_scenarios_survived', 'not run')}",
                f"{r['distributed_ratio']:.3f}",
                "<= 1.15; 429s <= 0.01",
            )
        )
    else:
        rows.append(("distributed (CeleryExecutor tier)", r.get("distributed_skipped", "not run"), "-", "-"))
    header = ("benchmark", "measured (same run)", "ratio", "target")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(4)]
    lines = [
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> None:
    log_dir = Path(tempfile.mkdtemp(prefix="hubspot-benchmarks-"))
    print(f"Running {len(BENCHMARKS)} benchmarks (logs in {log_dir}):", file=sys.stderr, flush=True)
    measured: dict = {}
    for name in BENCHMARKS:
        measured.update(_run(name, log_dir))
    targets_met = {key: _met(key, measured[key]) for key in TARGETS if key in measured}
    results = {
        **measured,
        "targets": {key: f"{comparison} {bound}" for key, (comparison, bound) in TARGETS.items()},
        "targets_met": targets_met,
        "environment": {
            "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "python": platform.python_version(),
            "apache_airflow": version("apache-airflow"),
            "apache_airflow_providers_http": version("apache-airflow-providers-http"),
            "cpus": os.cpu_count(),
            "command": "python -m benchmarks",
        },
    }
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(_table(measured))
    missed = [key for key, met in targets_met.items() if not met]
    print(f"\nWrote {RESULTS_FILE}. Targets {'all met' if not missed else 'MISSED: ' + ', '.join(missed)}.")


if __name__ == "__main__":
    main()
