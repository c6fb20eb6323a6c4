"""Airflow discovers the provider: package name, the ``hubspot`` connection type, its hook and form."""

from __future__ import annotations

import re
from importlib.metadata import distribution, entry_points

import pytest

from hubspot_scheduler_provider.connection_form import CONN_FIELDS
from hubspot_scheduler_provider.get_provider_info import get_provider_info

HOOK_CLASS = "hubspot_scheduler_provider.hooks.scheduler.HubSpotSchedulerHook"
ENTRY_POINT = "hubspot_scheduler_provider.get_provider_info:get_provider_info"


def canonical(name: str) -> str:
    """PEP 503 normalisation, as Airflow compares distribution names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_package_name_is_the_installed_distribution() -> None:
    [entry_point] = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value == ENTRY_POINT]
    assert entry_point.dist is not None
    installed = canonical(entry_point.dist.name)
    assert get_provider_info()["package-name"] == installed
    assert canonical(distribution(installed).metadata["Name"]) == installed


def test_connection_type_names_the_hook() -> None:
    [conn_type] = get_provider_info()["connection-types"]
    assert (conn_type["connection-type"], conn_type["hook-class-name"]) == ("hubspot", HOOK_CLASS)
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

    assert HubSpotSchedulerHook.conn_type == "hubspot"
    assert HubSpotSchedulerHook.default_conn_name == "hubspot_default"
    assert HubSpotSchedulerHook.conn_name_attr == "hubspot_conn_id"


@pytest.fixture(scope="module")
def providers_manager():  # type: ignore[no-untyped-def]
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_providers_manager_lists_the_provider(providers_manager) -> None:  # type: ignore[no-untyped-def]
    info = providers_manager.providers[get_provider_info()["package-name"]]
    assert info.version == get_provider_info()["versions"][0]


def test_providers_manager_maps_hubspot_to_the_hook(providers_manager) -> None:  # type: ignore[no-untyped-def]
    hook = providers_manager.hooks["hubspot"]
    assert hook is not None, "the hook class could not be imported by Airflow"
    assert (hook.hook_class_name, hook.connection_id_attribute_name) == (HOOK_CLASS, "hubspot_conn_id")
    assert hook.package_name == get_provider_info()["package-name"]


def test_task_runtime_resolves_the_hook() -> None:
    """Airflow 3 tasks (and HttpOperator's ``conn.get_hook``) look hooks up through the task SDK."""
    runtime = pytest.importorskip("airflow.sdk.providers_manager_runtime", reason="Airflow 3 only")
    hook = runtime.ProvidersManagerTaskRuntime().hooks["hubspot"]
    assert hook is not None and hook.hook_class_name == HOOK_CLASS


def test_connection_form_fields_and_behaviour(providers_manager) -> None:  # type: ignore[no-untyped-def]
    widgets = {
        name.removeprefix("extra__hubspot__"): widget
        for name, widget in providers_manager.connection_form_widgets.items()
        if name.startswith("extra__hubspot__")
    }
    assert list(widgets) == list(CONN_FIELDS)
    # Airflow 3 records the dotted path, Airflow 2 only the class name.
    assert {w.hook_class_name.rsplit(".", 1)[-1] for w in widgets.values()} == {"HubSpotSchedulerHook"}
    behaviour = providers_manager.field_behaviours["hubspot"]
    assert "extra" in behaviour["hidden_fields"] and "login" in behaviour["hidden_fields"]
    assert "password" in behaviour["relabeling"]


# --------------------------------------------------------------------------- every component is listed
def _package_modules() -> list[str]:
    """Every module of the package except the sandbox (a test double, no Airflow components) and
    ``__main__`` modules (importing them runs them)."""
    import pkgutil

    import hubspot_scheduler_provider

    return [
        module.name
        for module in pkgutil.walk_packages(
            hubspot_scheduler_provider.__path__, "hubspot_scheduler_provider."
        )
        if not module.name.startswith("hubspot_scheduler_provider.testing")
        and not module.name.endswith("__main__")
    ]


def _components() -> dict[str, set[str]]:
    """Dotted paths of the Airflow components the package defines, by provider-info section: modules
    for operators/sensors/triggers/hooks, classes for extra links."""
    import importlib
    import inspect

    from airflow.providers.common.compat.sdk import (
        BaseHook,
        BaseOperator,
        BaseOperatorLink,
        BaseSensorOperator,
    )
    from airflow.triggers.base import BaseTrigger

    found: dict[str, set[str]] = {"operators": set(), "sensors": set(), "triggers": set(), "hooks": set()}
    found["extra-links"] = set()
    for name in _package_modules():
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != name or cls.__name__.startswith("_"):
                continue
            if issubclass(cls, BaseSensorOperator):  # before BaseOperator: sensors are operators too
                found["sensors"].add(name)
            elif issubclass(cls, BaseOperator):
                found["operators"].add(name)
            elif issubclass(cls, BaseTrigger):
                found["triggers"].add(name)
            elif issubclass(cls, BaseHook):
                found["hooks"].add(name)
            elif issubclass(cls, BaseOperatorLink):
                found["extra-links"].add(f"{name}.{cls.__qualname__}")
    return found


def _listed(section: str) -> set[str]:
    entries = get_provider_info().get(section, [])
    if section == "extra-links":
        return set(entries)
    return {module for entry in entries for module in entry["python-modules"]}


@pytest.mark.parametrize("section", ["operators", "sensors", "triggers", "hooks", "extra-links"])
def test_every_component_is_listed_in_provider_info_and_importable(section: str) -> None:
    import importlib

    defined = _components()[section]

    assert defined, f"the walk found no {section}: is the test still looking in the right place?"
    assert defined == _listed(section)
    for path in _listed(section):  # each listed entry imports (extra links: module, then class)
        module_name, _, attribute = path.rpartition(".") if section == "extra-links" else (path, "", "")
        module = importlib.import_module(module_name)
        assert not attribute or hasattr(module, attribute), path
