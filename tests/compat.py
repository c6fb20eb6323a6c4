"""What differs between the Airflow versions CI tests (2.11, 3.0 to 3.3), in one place.

Tests import Airflow internals that moved between minors only through this module, and mark tests of
features a version lacks with the ``requires_*`` markers here (skipped with a reason, never failed).
Public, stable imports (``airflow.providers.common.compat.sdk``) stay in the tests themselves.
"""

from __future__ import annotations

import re
import tempfile
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import pytest
from airflow import __version__ as _airflow_version
from packaging.version import Version

if TYPE_CHECKING:
    from collections.abc import Iterator

AIRFLOW_VERSION = Version(Version(_airflow_version).base_version)


def airflow_at_least(version: str) -> bool:
    return Version(version) <= AIRFLOW_VERSION


AIRFLOW_V_3 = airflow_at_least("3.0")
#: ``airflow.dag_processing.dagbag`` (DagBag, ``sync_bag_to_db``) exists from 3.2; before, ``airflow.models``.
_DAGBAG_IN_DAG_PROCESSING = airflow_at_least("3.2")
#: ``context["task_state_store"]`` and ``retry_policy=`` on operators (Airflow 3.3's task SDK).
HAS_TASK_STATE_STORE = airflow_at_least("3.3")
HAS_RETRY_POLICY = airflow_at_least("3.3")
#: ``BaseOperator.dry_run()`` (what ``airflow tasks test --dry-run`` calls): Airflow 2 and 3.1+; 3.0's
#: task SDK BaseOperator has none.
HAS_BASE_DRY_RUN = not AIRFLOW_V_3 or airflow_at_least("3.1")

requires_airflow_3 = pytest.mark.skipif(
    not AIRFLOW_V_3, reason=f"needs Airflow 3 (this is {AIRFLOW_VERSION})"
)
requires_task_state_store = pytest.mark.skipif(
    not HAS_TASK_STATE_STORE,
    reason=f"context['task_state_store'] is Airflow 3.3+'s (this is {AIRFLOW_VERSION})",
)
requires_retry_policy = pytest.mark.skipif(
    not HAS_RETRY_POLICY, reason=f"retry_policy= is Airflow 3.3+'s (this is {AIRFLOW_VERSION})"
)

#: Airflow 3.0.x (the task SDK's first release): behaviours of its deployment the e2e tier cannot work around.
_AIRFLOW_3_0 = AIRFLOW_V_3 and not airflow_at_least("3.1")
not_on_3_0_triggerer = pytest.mark.skipif(
    _AIRFLOW_3_0,
    reason=(
        "Airflow 3.0.6's triggerer dies ('RuntimeError: Response read out of order!' in "
        "sync_state_to_supervisor, then 'Trigger runner process has died! Exiting.') when a trigger's "
        "connection lookup and its state sync use the supervisor channel at once; tested on 3.3"
    ),
)
not_on_3_0_clear_of_a_running_task = pytest.mark.skipif(
    _AIRFLOW_3_0,
    reason=(
        "Airflow 3.0.6 kills a try cleared while running (its heartbeat answers 404) but leaves the task "
        "instance 'restarting' until [scheduler] task_instance_heartbeat_timeout (300 s) passes, so the "
        "next try starts minutes later; clearing a running task is tested on 3.3"
    ),
)


def dagbag_class() -> Any:
    """Airflow's DagBag: ``airflow.dag_processing.dagbag`` from 3.2, ``airflow.models.dagbag`` before."""
    if _DAGBAG_IN_DAG_PROCESSING:
        from airflow.dag_processing.dagbag import DagBag
    else:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag


def parse_dag_folder(folder: str) -> Any:
    """A DagBag of ``folder``, as the DAG processor parses it (tests/conftest.py turns examples off)."""
    return dagbag_class()(dag_folder=folder)


def write_serialized_dags(bag: Any) -> None:
    """Store every DAG of ``bag`` in the metadata DB the way the DAG processor does.

    Airflow 3's ``dag.test()`` runs the serialized DAG from the DB; Airflow 2 runs the object itself.
    """
    if not AIRFLOW_V_3:
        return
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    if _DAGBAG_IN_DAG_PROCESSING:
        from airflow.dag_processing.dagbag import sync_bag_to_db
    elif airflow_at_least("3.1"):
        from airflow.models.dagbag import sync_bag_to_db  # type: ignore[attr-defined,no-redef]
    else:  # 3.0: a DagBag method

        def sync_bag_to_db(bag: Any, bundle_name: str, bundle_version: str | None) -> None:
            bag.sync_to_db(bundle_name, bundle_version)

    sync_bag_to_db(bag, "dags-folder", None)


def serialize_for_test(dag: Any) -> None:
    """Make an in-memory ``dag`` runnable by ``dag.test()`` (Airflow 3: write its serialized form)."""
    if not AIRFLOW_V_3:
        return
    if getattr(dag, "relative_fileloc", None) is None:
        # What the DagBag sets when it parses a file without a bundle path. An in-memory DAG has none;
        # 3.1+ write the serialized DAG without it, 3.0 requires it (``'LazyDeserializedDAG' object
        # has no attribute 'relative_fileloc'``).
        dag.relative_fileloc = dag.fileloc
    bag = dagbag_class()(dag_folder=_empty_folder())
    bag.bag_dag(dag)
    write_serialized_dags(bag)


@cache
def _empty_folder() -> str:
    return tempfile.mkdtemp(prefix="hubspot-compat-dags-")


def run_task_in_process(ti: Any, task: Any, session: Any) -> None:
    """Run one task instance the way ``dag.test()`` does (raises what the task raised)."""
    if airflow_at_least("3.1"):
        from airflow.sdk.definitions.dag import _run_task

        _run_task(ti=ti, task=task)
    elif AIRFLOW_V_3:  # 3.0 reads the task from the task instance
        from airflow.sdk.definitions.dag import _run_task

        ti.task = task
        _run_task(ti=ti)
    else:  # pragma: no cover - Airflow 2
        from airflow.models.dag import _run_task as run_in_process  # type: ignore[attr-defined]

        ti.task = task
        run_in_process(ti=ti, inline_trigger=True, session=session)


def one_in_process_execution_api() -> None:
    """Let ``dag.test()`` build its in-process execution API once per test process, as Airflow 3.3 does.

    3.0-3.2 build a new one for every task ``dag.test()`` runs: a FastAPI app with every versioned route,
    an event loop and its lifespan, about 2.5 s a task, most of those tiers' time in CI. 3.3 keeps one
    (``functools.lru_cache`` on ``supervisor.in_process_api_server``); this does the same on 3.0-3.2.
    What a task sees is unchanged: each run still sets its own DAG bag on the app (``_api_client``).
    """
    if not AIRFLOW_V_3 or airflow_at_least("3.3"):
        return
    import functools

    from airflow.sdk.execution_time import supervisor

    if not hasattr(supervisor.in_process_api_server, "cache_info"):
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(supervisor.in_process_api_server)


def task_sdk_logging_as_in_3_1() -> None:
    """Configure the task SDK's structlog loggers as Airflow 3.1+ do when ``airflow`` is imported.

    3.0 leaves structlog unconfigured in the test process, and structlog's defaults print DEBUG lines
    and rich tracebacks with every frame's local variables, so 3.0's ``dag.test()`` echoes supervisor
    messages (``Sending request msg=MaskSecret(value=<the secret>)``) and the locals of a failed task
    (its token, its OAuth form). 3.1+ filter at ``[logging] logging_level`` and print plain tracebacks,
    as 3.0's own task processes do in a deployment (JSON logs, no locals). Elsewhere this does nothing.
    """
    if not _AIRFLOW_3_0:
        return
    import logging

    import structlog
    from airflow.configuration import conf

    level = logging.getLevelName(conf.get("logging", "logging_level", fallback="INFO").upper())
    processors = [
        # No colours off a terminal (3.1+ check ``isatty``): tests read captured output.
        structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
        if isinstance(processor, structlog.dev.ConsoleRenderer)
        else processor
        for processor in structlog.get_config()["processors"]
    ]
    structlog.configure(processors=processors, wrapper_class=structlog.make_filtering_bound_logger(level))


#: Airflow 3.0's supervisor logging, at DEBUG, a secret the task asked it to mask (before masking it).
_MASK_SECRET_ECHO = re.compile(r"\[debug\s*\]\s+Sending request\s+msg=MaskSecret\(")


def without_airflows_mask_secret_echo(output: str) -> str:
    """The output of an ``airflow tasks test`` run without Airflow 3.0's echo of the secrets to mask.

    3.0's CLI leaves structlog at DEBUG, and its supervisor logs each request of the task runner, so
    every ``mask_secret()`` call prints ``Sending request msg=MaskSecret(value=<the secret>)`` (the
    secret in the clear the first time, masked later). Whoever registers a secret with Airflow's masker
    gets that line; 3.1+ log at ``[logging] logging_level``. Only those lines are dropped, only on 3.0.
    """
    if not AIRFLOW_V_3 or airflow_at_least("3.1"):
        return output
    return "\n".join(line for line in output.splitlines() if not _MASK_SECRET_ECHO.search(line))


@contextmanager
def failure_callbacks_see_the_exception() -> Iterator[None]:
    """``context["exception"]`` in failure callbacks under ``dag.test()``, as in a deployment.

    Airflow 3.0-3.2's task runner sets it in ``main()`` just before ``finalize()`` runs the callbacks;
    their ``dag.test()`` calls ``finalize()`` directly and leaves it out (3.3 sets it for both).
    Doing what ``main()`` does keeps callback-based tests meaningful there; elsewhere this does nothing.
    """
    if not AIRFLOW_V_3 or airflow_at_least("3.3"):
        yield
        return
    from airflow.sdk.execution_time import task_runner

    real_finalize = task_runner.finalize

    def finalize(ti: Any, state: Any, context: Any, log: Any, error: BaseException | None = None) -> Any:
        context["exception"] = error
        return real_finalize(ti, state, context, log, error)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(task_runner, "finalize", finalize)
        yield


def earlier_tries(dag_run: Any, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
    """Each finished earlier try of a task instance, oldest first (Airflow 3's task instance history):
    ``try_number``, ``state``, ``start_date``, ``end_date`` and, from 3.3, the retry policy's
    ``retry_delay_override`` (seconds) and ``retry_reason``."""
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session

    columns = ("try_number", "state", "start_date", "end_date", "retry_delay_override", "retry_reason")
    with create_session() as session:
        rows = (
            session.query(TaskInstanceHistory)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, map_index=map_index)
            .order_by(TaskInstanceHistory.try_number)
            .all()
        )
        return [{column: getattr(row, column, None) for column in columns} for row in rows]


def xcom_table() -> Any:
    """The XCom table's ORM class: ``XComModel`` in Airflow 3 (``XCom`` is the task SDK's), ``XCom`` in 2."""
    if AIRFLOW_V_3:
        from airflow.models.xcom import XComModel

        return XComModel
    from airflow.models.xcom import XCom  # pragma: no cover - Airflow 2

    return XCom


def stored_xcom_value(dag_run: Any, task_id: str, key: str, map_index: int) -> Any:
    """One XCom as stored in the metadata DB, deserialized as the API server does.

    A plain ``select`` of the value column: ``XComModel.get_many`` answers a ``select`` from 3.1 but
    an ORM ``Query`` in 3.0 (SQLAlchemy 1.4), which has no ``with_only_columns``.
    """
    if not AIRFLOW_V_3:  # pragma: no cover - Airflow 2
        from airflow.models.xcom import XCom

        return XCom.get_one(
            run_id=dag_run.run_id, dag_id=dag_run.dag_id, task_id=task_id, key=key, map_index=map_index
        )
    from airflow.utils.session import create_session
    from sqlalchemy import select

    table = xcom_table()
    query = select(table.value).where(
        table.dag_id == dag_run.dag_id,
        table.run_id == dag_run.run_id,
        table.task_id == task_id,
        table.key == key,
        table.map_index == map_index,
    )
    with create_session() as session:
        row = session.execute(query).first()
    return None if row is None else table.deserialize_value(row)
