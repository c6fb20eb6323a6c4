"""Batch resume: a 1,000-item ``BookMeetingsOperator`` killed (SIGKILL) after about 600 bookings, then
retried, in a real Airflow DAG run (``dag.test()``, task state store on SQLite).

Try 1 runs in a child process that the benchmark kills once the sandbox has committed ~600 bookings:
whatever was in flight has no recorded answer. After the rate-limit window has emptied, a second child
clears the task and runs it again in the same DAG run (as the scheduler would after a retry or a clear).
Reported: bookings in the end (must be 1,000), duplicates (0), the retry's HubSpot requests (the
unbooked items plus two per item settled through the CRM: those in flight or answered within the last
flush interval when the worker died) and the retry's time against the physical minimum for the
remaining items at HubSpot's limit (``rolling_window_minimum``: a rolling window lets the first L requests
go at once, the next L when those leave it). The linear (N - L) x W / L is reported beside it: it is the
same figure only where N is a multiple of L.

Airflow 3.3+ only (the task state store); on older Airflow it reports that it was skipped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import SandboxProcess, payloads, quiet_airflow_logs, report, rolling_window_minimum

BOOKINGS = 1000
KILL_AFTER = 600
#: HubSpot's own limit for a Pro/Enterprise private app, not scaled down: the limiter counts each request
#: from its answer (never a 429, whatever the latency), so a 1 s window would weigh every round trip and
#: every state-store write of the retry ten times more than HubSpot's 10 s window does.
LIMIT = 190
WINDOW_SECONDS = 10.0
DAG_ID = "benchmark_batch_retry"


def _dag() -> object:
    import pendulum
    from airflow.providers.common.compat.sdk import DAG

    from hubspot_scheduler_provider.operators.book_meetings import BookMeetingsOperator

    class TimedBookMeetingsOperator(BookMeetingsOperator):
        """Writes the batch's own elapsed time (ledger read included) for the parent to read."""

        def _log_summary(self, batch_report: object) -> None:
            super()._log_summary(batch_report)  # type: ignore[arg-type]
            Path(os.environ["BENCHMARK_ELAPSED_FILE"]).write_text(
                json.dumps({"elapsed": batch_report.elapsed_seconds})  # type: ignore[attr-defined]
            )

    with DAG(DAG_ID, schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False) as dag:
        TimedBookMeetingsOperator(
            task_id="book",
            payloads=list(payloads(BOOKINGS)),
            fail_on_item_failure=False,
            progress_interval_seconds=3600,
        )
    return dag


def _child(step: str) -> None:
    """Run in a fresh interpreter: ``first`` starts the DAG run, ``retry`` clears and reruns its task."""
    quiet_airflow_logs()
    from tests.operators.conftest import run_dag
    from tests.reliability.helpers import rerun_cleared

    dag = _dag()
    if step == "first":
        from airflow.utils import db

        db.resetdb()
        run_dag(dag)
        return
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    with create_session() as session:
        [dag_run] = session.query(DagRun).filter_by(dag_id=DAG_ID).all()
        # What the scheduler does when a worker stops heartbeating: the killed try failed.
        for ti in dag_run.get_task_instances(session=session):
            ti.state = TaskInstanceState.FAILED
        session.commit()
        session.expunge(dag_run)
    rerun_cleared(dag, dag_run)  # type: ignore[arg-type]


def main() -> None:
    from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_3_PLUS

    if not AIRFLOW_V_3_3_PLUS:
        report({"batch_retry_skipped": "needs Airflow 3.3+ (task state store)"})
        return
    home = Path(tempfile.mkdtemp(prefix="benchmark-batch-retry-"))
    elapsed_file = home / "elapsed.json"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("BENCHMARK_LOG_LEVEL", "WARNING"),
        "BENCHMARK_ELAPSED_FILE": str(elapsed_file),
    }
    (home / "dags").mkdir()
    command = [sys.executable, "-m", "benchmarks.batch_retry", "--child"]
    with SandboxProcess(rate_limit=LIMIT, window_seconds=WINDOW_SECONDS) as sandbox:
        env["AIRFLOW_CONN_HUBSPOT_DEFAULT"] = sandbox.connection_json()
        first = subprocess.Popen(
            [*command, "first"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 600
        while sandbox.stats()["bookings"] < KILL_AFTER:
            if first.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("try 1 ended before the benchmark could kill it")
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed = sandbox.stats()
        time.sleep(WINDOW_SECONDS + 1)  # the rolling window forgets try 1's requests
        before_retry = sandbox.stats()
        with (home / "retry.log").open("w") as retry_log:
            subprocess.run([*command, "retry"], env=env, check=True, stdout=retry_log, stderr=retry_log)
        after = sandbox.stats()

    remaining = BOOKINGS - before_retry["bookings"]
    minimum = rolling_window_minimum(remaining, LIMIT, WINDOW_SECONDS)
    linear = max(remaining - LIMIT, 0) * WINDOW_SECONDS / LIMIT
    retry_seconds = json.loads(elapsed_file.read_text())["elapsed"]
    print(f"retry log: {home / 'retry.log'}", file=sys.stderr)
    report(
        {
            "batch_retry_ratio": round(retry_seconds / minimum, 3) if minimum else None,
            "batch_retry_bookings_total": after["distinct_bookings"],
            "batch_retry_duplicates": after["bookings"] - after["distinct_bookings"],
            "batch_retry_hubspot_calls": after["requests"] - before_retry["requests"],
            # Beyond one POST per remaining item: two CRM reads per item sent without a recorded answer
            # (at most 8 in flight plus 8 answered since the last flush), and one page-id GET.
            "batch_retry_extra_calls": after["requests"] - before_retry["requests"] - remaining,
            "batch_retry_remaining_items": remaining,
            "batch_retry_booked_before_kill": killed["bookings"],
            "batch_retry_elapsed_s": round(retry_seconds, 2),
            "batch_retry_minimum_s": round(minimum, 2),
            "batch_retry_linear_minimum_s": round(linear, 2),
            "batch_retry_429s": int(after["statuses"].get("429", 0))
            - int(before_retry["statuses"].get("429", 0)),
            "batch_retry_limit": f"{LIMIT} per {WINDOW_SECONDS:g} s",
        }
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        main()
