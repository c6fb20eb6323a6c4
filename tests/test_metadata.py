"""pyproject.toml's metadata says what CI tests: the Pythons of the lock files, and lower bounds that
some lock pins exactly (so the oldest allowed version of each dependency is one CI really ran)."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCKS = sorted((ROOT / ".ci").glob("requirements-airflow*.txt"))
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def pythons_in_ci() -> set[str]:
    """Python 3.11 (every lock named without -pyX.Y) and each -pyX.Y lock's."""
    found = {re.search(r"-py(3\.\d+)\.txt$", lock.name) for lock in LOCKS}
    return {"3.11"} | {match.group(1) for match in found if match}


def pinned_versions(name: str) -> set[Version]:
    pattern = re.compile(rf"^{re.escape(name)}==(\S+)$", re.MULTILINE | re.IGNORECASE)
    return {Version(v) for lock in LOCKS for v in pattern.findall(lock.read_text(encoding="utf-8"))}


def test_every_lock_is_found() -> None:
    assert len(LOCKS) == 7, [lock.name for lock in LOCKS]


def test_classifiers_and_requires_python_name_exactly_the_pythons_in_ci() -> None:
    prefix = "Programming Language :: Python :: 3."
    classified = {c.rsplit(" :: ", 1)[1] for c in PROJECT["classifiers"] if c.startswith(prefix)}
    assert classified == pythons_in_ci()
    allowed = SpecifierSet(PROJECT["requires-python"])
    oldest = min(pythons_in_ci(), key=Version)
    assert allowed.contains(oldest)
    assert not allowed.contains(f"3.{int(oldest.split('.')[1]) - 1}"), "an untested older Python is allowed"


def test_each_lower_bound_is_the_oldest_version_a_lock_pins() -> None:
    for line in PROJECT["dependencies"]:
        requirement = Requirement(line)
        lower = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{requirement.name}: one >= bound expected"
        pinned = pinned_versions(requirement.name)
        assert pinned, f"{requirement.name} is in no lock"
        assert all(requirement.specifier.contains(v) for v in pinned), requirement
        # ">=3.1" is met by 3.1.0: compare the release parts the bound names.
        oldest = min(pinned)
        assert oldest.release[: len(lower[0].release)] == lower[0].release, (requirement, oldest)
