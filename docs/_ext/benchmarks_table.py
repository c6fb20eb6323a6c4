"""The ``benchmarks-table`` directive: the benchmarks page's table, made at build time from
``benchmarks/results.json`` (written by ``python -m benchmarks``), so the page always shows the latest run.

A key missing from the results fails the build (``.ci/docs`` treats warnings as errors).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results.json"

#: (what is measured, the ratio's key or None, the measurements: a format string over the results).
ROWS: tuple[tuple[str, str | None, str], ...] = (
    (
        "Client overhead: hook throughput / bare requests.Session keep-alive loop, same server",
        "client_overhead_ratio",
        "{client_hook_bookings_per_s:,} vs {client_bare_requests_per_s:,} bookings/s",
    ),
    (
        "Ceiling: {ceiling_bookings:,} bookings by BookMeetingsOperator against a {ceiling_limit} limit, "
        "elapsed / (N / limit)",
        "ceiling_ratio",
        "{ceiling_elapsed_s} s vs {ceiling_minimum_s} s; {ceiling_429s} x 429, {ceiling_failed} failed",
    ),
    (
        "Airflow cost: {airflow_bookings} mapped BookMeetingOperator tasks / one BookMeetingsOperator task",
        "mapped_vs_batch_ratio",
        "{airflow_mapped_s} s vs {airflow_batch_s} s",
    ),
    (
        "Parse cost: import of the operator module / HttpOperator's module, fresh interpreter",
        "import_ratio",
        "{import_provider_operator_ms:,} vs {import_http_operator_ms:,} ms (beyond Airflow itself: "
        "{import_after_airflow_provider_operator_ms} vs {import_after_airflow_http_operator_ms} ms)",
    ),
    (
        "Peer: stock HttpOperator with a hubspot connection, time per booking / hook",
        "peer_http_operator_vs_hook_ratio",
        "{peer_http_operator_ms_per_booking} vs {peer_hook_ms_per_booking} ms",
    ),
    (
        "Memory: 10,000-item batch, peak RSS",
        None,
        "{batch_10k_peak_rss_mb} MB (1,000 items: {batch_1k_peak_rss_mb} MB); "
        "{batch_overhead_bytes_per_item} B/item of batch state",
    ),
)
HEADER = ("What", "Measured in the same run", "Ratio", "Target", "Met")


def _row(cells: tuple[str, ...]) -> nodes.row:
    row = nodes.row()
    for text in cells:
        row += nodes.entry("", nodes.paragraph(text=text))
    return row


def build_table(results: dict[str, Any]) -> nodes.table:
    targets, met = results.get("targets", {}), results.get("targets_met", {})
    table = nodes.table(classes=["benchmarks"])
    group = nodes.tgroup(cols=len(HEADER))
    table += group
    for width in (40, 30, 8, 12, 6):
        group += nodes.colspec(colwidth=width)
    group += nodes.thead("", _row(HEADER))
    body = nodes.tbody()
    group += body
    for what, ratio_key, measured in ROWS:
        ratio = "-" if ratio_key is None else f"{results[ratio_key]:g}"
        target = targets.get(ratio_key, "-") if ratio_key else "-"
        verdict = {True: "yes", False: "NO"}.get(met.get(ratio_key), "-") if ratio_key else "-"
        body += _row((what.format(**results), measured.format(**results), ratio, target, verdict))
    return table


class BenchmarksTable(SphinxDirective):
    """``.. benchmarks-table::`` (in MyST a ``{benchmarks-table}`` fence): the table, and where measured."""

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(RESULTS))
        try:
            results = json.loads(RESULTS.read_text(encoding="utf-8"))
            table = build_table(results)
        except (OSError, ValueError, KeyError) as error:
            raise self.error(f"benchmarks-table: cannot read {RESULTS.name}: {error!r}") from error
        env = results.get("environment", {})
        where = (
            f"Measured {env.get('measured_at', '?')} by {env.get('command', 'python -m benchmarks')} on "
            f"{env.get('cpus', '?')} cores, Airflow {env.get('apache_airflow', '?')}, "
            f"Python {env.get('python', '?')}."
        )
        return [table, nodes.paragraph(text=where)]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("benchmarks-table", BenchmarksTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
