"""schemathesis (a tool nobody here wrote) drives HubSpot's own Scheduler specs against the sandbox.

Per vendored spec version: every phase (examples, coverage, fuzzing, stateful where the spec has links),
every check on, a pinned seed and a bounded amount of work: one pass of at most ``MAX_EXAMPLES`` generated
cases per operation (so the case count is the same on every run), and a wall-clock guard that stops a
run that takes unreasonably long and fails it. The only accepted departures are
``testing.deviations.EXPECTED_DIFFERENCES`` (turned into per-operation expected statuses here) and the
spec slips of ``testing.deviations.SPEC_CORRECTIONS`` (applied to the document schemathesis reads).
The sandbox must also report no internal error and no answer of its own that breaks the spec.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hubspot_scheduler_provider.testing import HubSpotSandbox
from hubspot_scheduler_provider.testing.deviations import EXPECTED_DIFFERENCES, corrected

#: The run below uses schemathesis 4.32's engine API (the 3.3 locks, all Pythons). The locks resolved as of
#: older Airflow releases carry an older schemathesis whose engine differs; the run is about the sandbox,
#: not about Airflow, so it is made where the pinned tool is.
SCHEMATHESIS_VERSION = "4.32.5"
pytestmark = pytest.mark.skipif(
    importlib.metadata.version("schemathesis") != SCHEMATHESIS_VERSION,
    reason=f"the conformance run is pinned to schemathesis {SCHEMATHESIS_VERSION} (the Airflow 3.3 locks)",
)

SPEC_DIR = Path(__file__).resolve().parents[2] / "hubspot_scheduler_provider" / "testing" / "specs"
SPECS = {
    "v3": "scheduler-meetings-v3.json",
    "2026-03": "scheduler-meetings-2026-03.json",
    "2026-09": "scheduler-meetings-2026-09.json",
}
SEED = 20261201
MAX_EXAMPLES = 40
#: Wall-clock guard per spec version (one pass takes ~10 s on an idle 2-core machine).
MAX_SECONDS = 150
#: Fewer cases than this means the run did not really exercise the sandbox.
MIN_CASES = 300
#: Where the counts of the last run go (quoted in docs/sandbox.md).
REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "tmp" / "conformance-schemathesis.json"

_DEFAULT_POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


@dataclass
class RunResult:
    cases: int = 0
    operations: set[str] = field(default_factory=set)
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _operations_config(version: str) -> list[dict[str, Any]]:
    """EXPECTED_DIFFERENCES as schemathesis per-operation settings (one entry per operation)."""
    document = json.loads((SPEC_DIR / SPECS[version]).read_text(encoding="utf-8"))
    prefix = f"/scheduler/{version}/meetings"
    entries = []
    for path, methods in document["paths"].items():
        for method in methods:
            suffix = f"{method.upper()} {path.removeprefix(prefix)}"
            extra: dict[str, list[str]] = {}
            for difference in EXPECTED_DIFFERENCES:
                if difference.operation in (suffix, "*"):
                    extra.setdefault(difference.check, []).extend(str(s) for s in difference.statuses)
            if extra:
                checks = {
                    check: {"expected-statuses": sorted(set(_DEFAULT_POSITIVE) | set(statuses))}
                    for check, statuses in extra.items()
                }
                entries.append({"include-name": f"{method.upper()} {path}", "checks": checks})
    return entries


def run_schemathesis(version: str, sandbox: HubSpotSandbox) -> RunResult:
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import events, from_schema

    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "base-url": sandbox.url,
            "headers": {"Authorization": f"Bearer {sandbox.token}"},
            "request-timeout": 10,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {"enabled": True},
            "operations": _operations_config(version),
        }
    )
    document = json.loads((SPEC_DIR / SPECS[version]).read_text(encoding="utf-8"))
    schema = schemathesis.openapi.from_dict(corrected(SPECS[version], document), config=config)
    result = RunResult()
    stream = from_schema(schema).execute()
    started = time.monotonic()
    for event in stream:
        if time.monotonic() - started > MAX_SECONDS:
            stream.stop()
            result.errors.append(f"stopped: the run took longer than {MAX_SECONDS} s")
            break
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            result.cases += len(recorder.cases)
            result.operations.add(recorder.label)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.status.name == "SUCCESS":
                        continue
                    key = f"{recorder.label} {check.name}"
                    result.failures[key] += 1
                    interaction = recorder.interactions.get(case_id)
                    if key not in result.examples and interaction is not None and interaction.response:
                        result.examples[key] = (
                            f"{interaction.request.method} {interaction.request.uri[:200]} -> "
                            f"{interaction.response.status_code} {interaction.response.content[:300]!r}"
                        )
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            result.errors.append(str(getattr(event, "info", event))[:500])
    result.seconds = time.monotonic() - started
    return result


def _write_report(version: str, result: RunResult) -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    report[version] = {
        "cases": result.cases,
        "operations": len(result.operations),
        "failures": sum(result.failures.values()),
        "seconds": round(result.seconds, 1),
        "seed": SEED,
    }
    REPORT.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize("version", list(SPECS))
def test_schemathesis_finds_no_server_error_and_no_schema_violation(version: str) -> None:
    with HubSpotSandbox(rate_limit=None, daily_limit=None) as sandbox:
        result = run_schemathesis(version, sandbox)
        _write_report(version, result)
        assert result.errors == []
        assert not result.failures, "\n".join(
            f"{count} x {key}\n    e.g. {result.examples.get(key, '')}"
            for key, count in result.failures.items()
        )
        assert sandbox.app.internal_errors == []
        assert sandbox.spec_violations == []
    document = json.loads((SPEC_DIR / SPECS[version]).read_text(encoding="utf-8"))
    served = {f"{method.upper()} {path}" for path, methods in document["paths"].items() for method in methods}
    assert result.operations == served  # every operation of the spec was exercised
    assert result.cases >= MIN_CASES
