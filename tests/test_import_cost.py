"""DAG files import operator and sensor modules on every parse, and the triggerer imports trigger modules:
importing them must not load the hook, the pydantic models or jsonschema (those load when a task runs).

Each module is imported in a fresh interpreter, after what Airflow itself loads for any operator
(Airflow 3 loads pydantic and jsonschema on its own), so only what the module adds is measured.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hubspot_scheduler_provider.get_provider_info import get_provider_info

#: Loaded by the module itself, these are the heavy part: modules (prefixes) that must stay out.
HEAVY = ("pydantic", "jsonschema", "hubspot_scheduler_provider.models", "hubspot_scheduler_provider.hooks")

MEASURE = """
import json, sys
import airflow.providers.common.compat.sdk, airflow.triggers.base  # what every operator module needs
airflow.providers.common.compat.sdk.BaseOperator, airflow.providers.common.compat.sdk.BaseSensorOperator
before = set(sys.modules)
import importlib
importlib.import_module(sys.argv[1])
added = sorted(set(sys.modules) - before)
models = []
if "pydantic" in sys.modules:
    from pydantic import BaseModel
    pending = list(BaseModel.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("hubspot_scheduler_provider"):
            models.append(f"{cls.__module__}.{cls.__qualname__}")
print(json.dumps({"added": added, "models": models}))
"""


def _component_modules() -> list[str]:
    info = get_provider_info()
    return [
        module
        for section in ("operators", "sensors", "triggers")
        for entry in info[section]
        for module in entry["python-modules"]
    ]


@pytest.mark.parametrize("module", _component_modules())
def test_importing_stays_cheap(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, module], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])

    assert module in loaded["added"]  # measured the import, not a module loaded earlier
    heavy = [name for name in loaded["added"] if name.startswith(HEAVY)]
    assert heavy == [], f"importing {module} loads {heavy}"
    assert loaded["models"] == [], f"importing {module} defines pydantic models {loaded['models']}"
