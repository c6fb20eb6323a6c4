"""Test-wide Airflow setup.

Everything Airflow reads at import time is set here, before any test module imports airflow:
a throw-away AIRFLOW_HOME, no example DAGs, and this repository's example_dags/ as the DAG folder
(``dag.test()`` needs the DAG inside the dags folder).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

REPO_ROOT = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="hubspot-provider-airflow-home-")
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)

os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "example_dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")

import pytest  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def pytest_configure(config: pytest.Config) -> None:
    from tests.compat import one_in_process_execution_api, task_sdk_logging_as_in_3_1

    task_sdk_logging_as_in_3_1()
    one_in_process_execution_api()


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated metadata DB (SQLite in the temporary AIRFLOW_HOME), created once per session."""
    from airflow.utils import db

    db.resetdb()
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.fixture(autouse=True)
def _failure_callbacks_see_the_exception() -> Iterator[None]:
    """Airflow 3.0-3.2's ``dag.test()`` gives failure callbacks no ``context["exception"]``: see compat."""
    from tests.compat import failure_callbacks_see_the_exception

    with failure_callbacks_see_the_exception():
        yield


@pytest.fixture
def task_logs(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """Reads the task log lines so far. Airflow 3 writes them to stdout/stderr, Airflow 2 through
    ``logging`` (caplog); capturing file descriptors there would leave Airflow 2's task log handler on a
    closed stream for later tests."""
    from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

    capfd = request.getfixturevalue("capfd") if AIRFLOW_V_3_0_PLUS else None

    def read() -> str:
        output = capfd.readouterr() if capfd is not None else None
        return (output.out + output.err if output is not None else "") + caplog.text

    return read
