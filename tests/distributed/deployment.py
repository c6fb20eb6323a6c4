"""The distributed tier's deployment: Airflow 3 with CeleryExecutor, PostgreSQL and Redis, on loopback.

:class:`CeleryDeployment` extends the e2e tier's :class:`~tests.e2e.airflow_deployment.AirflowDeployment`
(same environment, REST health check and leftover check). Its one launcher leads one process group and
runs every process under a small supervisor loop, as systemd or Kubernetes would: PostgreSQL (an
unprivileged cluster in a temporary folder; as ``nobody`` when the tests run as root, which PostgreSQL
refuses), Redis (the Celery broker, and the shared rate-limit window), then ``airflow db migrate`` and
the api-server, scheduler, dag-processor, triggerer and two Celery workers (concurrency 2, hostnames
``worker-1@`` and ``worker-2@``). A process that dies is restarted after a second, unless a chaos test
holds it down (:meth:`CeleryDeployment.hold`). Heartbeat timeouts are short so a killed worker's task
instance is detected and retried within about half a minute.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.airflow_deployment import AirflowDeployment, airflow_executable, free_loopback_port

WORKERS = ("worker-1", "worker-2")
WORKER_CONCURRENCY = 2
#: Seconds without a task heartbeat before the scheduler fails (and retries) a task instance.
HEARTBEAT_TIMEOUT_SECONDS = 20
PG_USER = "airflow"


def postgres_bin() -> Path:
    """Debian's PostgreSQL server binaries (``postgresql`` package), newest major first."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return Path(found[-1]).parent


def redis_command(port: int, folder: Path) -> list[str]:
    """A Redis on loopback that writes nothing (no snapshot, no append-only file)."""
    return [
        shutil.which("redis-server") or "redis-server",
        *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
        *("--dir", str(folder)),
    ]


def _as_unprivileged() -> list[str]:
    """PostgreSQL refuses to run as root: run it as ``nobody`` then."""
    return ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []


@dataclass
class CeleryDeployment(AirflowDeployment):
    pg_port: int = field(default_factory=free_loopback_port)
    redis_port: int = field(default_factory=free_loopback_port)
    executor: str = "CeleryExecutor"
    healthy_components: tuple[str, ...] = ("metadatabase", "scheduler", "dag_processor", "triggerer")
    #: PostgreSQL's folder: outside ``home`` (pytest's temp folders are private to root).
    pg_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hubspot-pg-")))

    def __post_init__(self) -> None:
        self.sql_alchemy_conn = f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{self.pg_port}/airflow"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}"

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        env.update(
            {
                "AIRFLOW__CELERY__BROKER_URL": f"{self.redis_url}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": (
                    f"db+postgresql://{PG_USER}@127.0.0.1:{self.pg_port}/airflow"
                ),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                "AIRFLOW__CORE__PARALLELISM": str(2 * len(WORKERS) * WORKER_CONCURRENCY),
                # Recovery within seconds, not Airflow's production defaults of minutes.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_SECONDS),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
                "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.distributed.hostname.worker_hostname",
            }
        )
        env.update(self.extra_env)
        return env

    def components(self) -> dict[str, list[str]]:
        commands = dict(super().components())
        for name in WORKERS:
            commands[name] = [
                "celery",
                "worker",
                "--queues",
                f"default,{name}",
                "--concurrency",
                str(WORKER_CONCURRENCY),
                "--celery-hostname",
                f"{name}@%h",
                "--pid",
                str(self.home / f"{name}.pid"),
                "--skip-serve-logs",
            ]
        return commands

    def services(self) -> dict[str, list[str]]:
        """PostgreSQL and Redis, on loopback, nothing written outside their folders."""
        return {
            "postgres": [
                *_as_unprivileged(),
                str(postgres_bin() / "postgres"),
                "-D",
                str(self.pg_dir / "data"),
                "-p",
                str(self.pg_port),
                "-k",
                str(self.pg_dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ],
            "redis": redis_command(self.redis_port, self.pg_dir),
        }

    def start(self, timeout: float = 240.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "pids").mkdir(exist_ok=True)
        import json

        from tests.e2e.airflow_deployment import ADMIN_USER

        (self.home / "passwords.json").write_text(json.dumps({ADMIN_USER: self.password}))
        self._initdb()
        self._spawn_components(self.env)
        self._wait_until_healthy(timeout)
        self._wait_for_workers(timeout)

    def _initdb(self) -> None:
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.pg_dir, nobody.pw_uid, nobody.pw_gid)
        log = self.home / "initdb.log"
        with log.open("wb") as out:
            subprocess.run(
                [
                    *_as_unprivileged(),
                    str(postgres_bin() / "initdb"),
                    "-D",
                    str(self.pg_dir / "data"),
                    "-U",
                    PG_USER,
                    "--auth=trust",
                    "--no-sync",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=120,
                cwd=self.pg_dir,
            )

    def launcher_script(self) -> str:
        home = shlex.quote(str(self.home))
        bin_dir = postgres_bin()
        lines = [
            f"H={home}",
            # supervise NAME COMMAND...: run, restart a second after it exits (unless held or stopping).
            "supervise() {",
            "  local name=$1; shift",
            "  while :; do",
            '    while [ -e "$H/hold-$name" ]; do sleep 0.2; done',
            '    [ -e "$H/stopping" ] && return',
            '    "$@" >> "$H/$name.log" 2>&1 &',
            '    echo $! > "$H/pids/$name"',
            "    wait $!",
            '    echo "$(date +%T) $name exited with $?" >> "$H/supervisor.log"',
            '    [ -e "$H/stopping" ] && return',
            "    sleep 1",
            "  done",
            "}",
        ]
        lines += [f"supervise {name} {shlex.join(cmd)} &" for name, cmd in self.services().items()]
        lines += [
            f"until {bin_dir}/pg_isready -q -h 127.0.0.1 -p {self.pg_port}; do sleep 0.2; done",
            f"until redis-cli -p {self.redis_port} ping > /dev/null 2>&1; do sleep 0.2; done",
            f"{bin_dir}/createdb -h 127.0.0.1 -p {self.pg_port} -U {PG_USER} airflow",
            f'{shlex.quote(airflow_executable())} db migrate > "$H/airflow-db.log" 2>&1 || exit 1',
        ]
        # A worker's tasks report the worker's name as their hostname (TaskInstance.hostname).
        lines += [
            f"supervise {name} {'env HUBSPOT_WORKER_NAME=' + name if name in WORKERS else ''} "
            f"{shlex.join([airflow_executable(), *args])} &"
            for name, args in self.components().items()
        ]
        lines += ["wait", "exit 0"]
        return "\n".join(lines)

    def _wait_for_workers(self, timeout: float) -> None:
        """Both Celery workers connected to the broker (their logs say ``ready``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all("ready." in _read(self.home / f"{name}.log") for name in WORKERS):
                return
            if self.launcher is not None and self.launcher.poll() is not None:
                break
            time.sleep(1)
        raise TimeoutError(f"Celery workers not ready:\n{self.logs_tail()}")

    # --- chaos controls -------------------------------------------------------------------------
    def pid(self, name: str) -> int:
        """The process id of component or service ``name`` now (changes when it is restarted)."""
        return int((self.home / "pids" / name).read_text())

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal ``name``'s process (SIGKILL: also every process it started, e.g. a worker's tasks)."""
        pid = self.pid(name)
        if sig == signal.SIGKILL:
            for child in _descendants(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, sig)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    @contextlib.contextmanager
    def hold(self, name: str):  # type: ignore[no-untyped-def]
        """Keep ``name`` down while the block runs (its supervisor waits), then let it restart."""
        flag = self.home / f"hold-{name}"
        flag.touch()
        try:
            yield
        finally:
            flag.unlink(missing_ok=True)

    def restart(self, name: str, sig: signal.Signals) -> int:
        """Signal ``name`` and wait until its supervisor started it again; the new process id."""
        old = self.pid(name)
        self.kill(name, sig)
        return self.wait_restarted(name, old)

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                pid = self.pid(name)
                if pid != old_pid:
                    return pid
            time.sleep(0.2)
        raise TimeoutError(f"{name} was not restarted")

    def stop(self, grace_seconds: float = 30.0) -> None:
        (self.home / "stopping").touch()
        for flag in self.home.glob("hold-*"):
            flag.unlink()
        try:
            super().stop(grace_seconds)
        finally:
            shutil.rmtree(self.pg_dir, ignore_errors=True)

    def leftover_processes(self) -> list[str]:
        """As the base class, plus anything still using the PostgreSQL folder (a server as ``nobody``)."""
        leftovers = super().leftover_processes()
        marker = str(self.pg_dir).encode()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    command = (proc / "cmdline").read_bytes()
                    if marker in command and f"{proc.name}:" not in " ".join(leftovers):
                        shown = command.replace(b"\0", b" ").decode(errors="replace")
                        leftovers.append(f"{proc.name}: {shown}")
        return leftovers


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(proc.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
