"""A real, throw-away Airflow 3 deployment for the e2e and browser tiers.

Runs ``api-server``, ``scheduler``, ``dag-processor`` and ``triggerer`` as separate processes rather than
``airflow standalone``: standalone always starts log servers bound to every interface, while this
tier must listen on loopback only. LocalExecutor workers read task logs from the shared local
folder, so the log servers are not needed (``--skip-serve-logs``).

All processes share one new process group, so :meth:`AirflowDeployment.stop` can end everything
(including task processes) with one signal and then prove that nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Airflow commands of the deployment; the first becomes the process group leader.
COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server", "--workers", "1"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}
ADMIN_USER = "admin"


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_executable() -> str:
    """The ``airflow`` script of the interpreter running the tests (the locked venv)."""
    return str(Path(sys.executable).with_name("airflow"))


@dataclass
class AirflowDeployment:
    home: Path
    dags_folder: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_loopback_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    #: Every process must sign and verify task tokens and sessions with the same secrets.
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    launcher: subprocess.Popen[bytes] | None = None
    pgid: int | None = None
    #: Components restarted by :meth:`restart_component`: each leads a process group of its own.
    restarted: list[subprocess.Popen[bytes]] = field(default_factory=list)
    #: Subclasses (tests/distributed: CeleryExecutor on PostgreSQL) change these three.
    executor: str = "LocalExecutor"
    sql_alchemy_conn: str | None = None  # None: SQLite in the home folder
    healthy_components: tuple[str, ...] = ("metadatabase", "scheduler", "dag_processor", "triggerer")

    def components(self) -> dict[str, list[str]]:
        """Airflow commands of the deployment, by name (each logs to ``<home>/<name>.log``)."""
        return COMPONENTS

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        # Start from the caller's environment (PATH, locale) but replace every Airflow setting the
        # test process itself uses (tests/conftest.py points those at another home).
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sql_alchemy_conn
                or f"sqlite:///{self.home}/airflow.db",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__API__SECRET_KEY": self.secret_key,
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                # The connections page's "Test Connection" button (off by default).
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 180.0) -> None:
        """Migrate the DB, start every component and wait until the API answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({ADMIN_USER: self.password}))
        env = self.env
        self._run_to_completion(["db", "migrate"], env, timeout=timeout)
        self._spawn_components(env)
        self._wait_until_healthy(timeout)

    def _run_to_completion(self, args: list[str], env: dict[str, str], timeout: float) -> None:
        log = self.home / f"airflow-{args[0]}.log"
        with log.open("wb") as out:
            result = subprocess.run(
                [airflow_executable(), *args], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            )
        if result.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{tail(log)}")

    def _spawn_components(self, env: dict[str, str]) -> None:
        """Start every component from one launcher shell that leads a new session and process group.

        One launcher because a process can only join a group of its own session; ``wait -n`` makes
        the launcher exit as soon as any component dies, which :meth:`_wait_until_healthy` notices.
        """
        script = self.launcher_script()
        with (self.home / "launcher.log").open("wb") as log:
            self.launcher = subprocess.Popen(
                ["bash", "-c", script], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pgid = self.launcher.pid

    def launcher_script(self) -> str:
        """The launcher's bash script: every component in the background, exit when one exits."""
        lines = [
            f"{shlex.join([airflow_executable(), *args])} > {shlex.quote(str(self.home / name))}.log 2>&1 &"
            for name, args in self.components().items()
        ]
        return "\n".join([*lines, "wait -n", 'echo "an Airflow component exited with $?" >&2', "exit 1"])

    def _wait_until_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_problem = "no answer yet"
        while time.monotonic() < deadline:
            if self.launcher is not None and self.launcher.poll() is not None:
                raise RuntimeError(f"Airflow failed to start:\n{self.logs_tail()}")
            try:
                health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
                unhealthy = [
                    component
                    for component in self.healthy_components
                    if health.get(component, {}).get("status") != "healthy"
                ]
                if not unhealthy:
                    return
                last_problem = f"not healthy yet: {unhealthy}"
            except requests.RequestException as exc:
                last_problem = repr(exc)
            time.sleep(1)
        raise TimeoutError(f"Airflow did not become healthy ({last_problem}):\n{self.logs_tail()}")

    def logs_tail(self, lines: int = 40) -> str:
        return "\n".join(f"--- {log.name}\n{tail(log, lines)}" for log in sorted(self.home.glob("*.log")))

    def stop(self, grace_seconds: float = 20.0) -> None:
        """SIGTERM the whole process group, SIGKILL after ``grace_seconds``, then check for leftovers."""
        if self.pgid is None:
            return
        groups = [self.pgid, *(process.pid for process in self.restarted)]
        for pgid in groups:
            _signal_group(pgid, signal.SIGTERM)
        for pgid in groups:
            if not _wait_for_group_exit(pgid, grace_seconds):
                _signal_group(pgid, signal.SIGKILL)
                _wait_for_group_exit(pgid, 10)
        if self.launcher is not None:
            self.launcher.wait(timeout=10)
        for process in self.restarted:
            process.wait(timeout=10)

    def component_pids(self, name: str) -> list[int]:
        """Live processes of component ``name`` (e.g. ``"triggerer"``) of this deployment, the main one
        first (its forked helpers, such as the trigger runner, share its command line)."""
        wanted = self.components()[name][0].encode()
        marker = f"AIRFLOW_HOME={self.home}".encode()
        found: dict[int, int] = {}  # pid -> parent pid
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                command = (proc / "cmdline").read_bytes().split(b"\0")
                ours = marker in (proc / "environ").read_bytes().split(b"\0")
                if wanted in command and ours and _is_running(proc):
                    found[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ProcessLookupError, ValueError):
                continue
        return sorted(found, key=lambda pid: found[pid] in found)

    def stop_component(self, name: str, timeout: float = 60.0) -> None:
        """SIGTERM component ``name`` (as a rolling restart does) and wait until it has exited."""
        pids = self.component_pids(name)
        assert pids, f"no running {name}"
        os.kill(pids[0], signal.SIGTERM)  # the main process stops its helpers
        deadline = time.monotonic() + timeout
        while self.component_pids(name):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not stop within {timeout} s")
            time.sleep(0.2)

    def start_component(self, name: str) -> None:
        """Start component ``name`` again (in a process group of its own, which :meth:`stop` ends)."""
        log = (self.home / f"{name}-restarted-{len(self.restarted) + 1}.log").open("wb")
        self.restarted.append(
            subprocess.Popen(
                [airflow_executable(), *self.components()[name]],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def leftover_processes(self) -> list[str]:
        """Live processes of this deployment: in its group, or running with its AIRFLOW_HOME."""
        marker = f"AIRFLOW_HOME={self.home}".encode()
        leftovers = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                in_group = self.pgid is not None and os.getpgid(int(proc.name)) == self.pgid
                uses_home = marker in (proc / "environ").read_bytes().split(b"\0")
                if (in_group or uses_home) and _is_running(proc):
                    command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    leftovers.append(f"{proc.name}: {command}")
            except (OSError, ProcessLookupError):
                continue  # exited while we looked, or not ours to read
        return leftovers


def _is_running(proc: Path) -> bool:
    """True unless the process is a zombie (already exited, waiting to be reaped)."""
    stat = (proc / "stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _wait_for_group_exit(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if os.getpgid(int(proc.name)) == pgid and _is_running(proc):
                        alive = True
                        break
                except (OSError, ProcessLookupError):
                    continue
        if not alive:
            return True
        time.sleep(0.2)
    return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
