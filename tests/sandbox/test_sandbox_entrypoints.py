"""The ways in: the pytest plugin fixtures, the CLI, and a pytest-free import."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from hubspot_scheduler_provider.testing import HubSpotSandbox

from .conftest import scheduler_url


def test_plugin_fixture_starts_a_sandbox_and_points_the_default_connection_at_it(hubspot_sandbox):
    conn = json.loads(os.environ["AIRFLOW_CONN_HUBSPOT_DEFAULT"])
    assert conn == {
        "conn_type": "hubspot",
        "host": hubspot_sandbox.url,
        "password": hubspot_sandbox.token,
        "extra": {},
    }
    answer = requests.get(
        scheduler_url(hubspot_sandbox, "2026-09", "/meeting-links"),
        headers={"Authorization": f"Bearer {conn['password']}"},
    )
    assert answer.status_code == 200


def test_plugin_factory_starts_configured_sandboxes(hubspot_sandbox_factory):
    limited = hubspot_sandbox_factory(
        conn_id="hubspot_limited", rate_limit=1, conn_extra={"api_version": "v3"}
    )
    conn = json.loads(os.environ["AIRFLOW_CONN_HUBSPOT_LIMITED"])
    assert conn["host"] == limited.url and conn["extra"] == {"api_version": "v3"}
    assert limited.limiter.limit == 1


def test_airflow_reads_the_fixture_connection(hubspot_sandbox):
    from airflow.providers.common.compat.sdk import BaseHook

    conn = BaseHook.get_connection("hubspot_default")
    assert conn.host == hubspot_sandbox.url
    assert conn.password == hubspot_sandbox.token


def test_testing_package_imports_without_pytest():
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "import hubspot_scheduler_provider.testing as t\n"
        "with t.HubSpotSandbox() as s: print(s.url)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("http://127.0.0.1:")


def test_cli_prints_the_connection_and_serves_until_interrupted():
    process = subprocess.Popen(
        [sys.executable, "-m", "hubspot_scheduler_provider.testing", "serve", "--token", "cli-token"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        env_line = process.stdout.readline()
        add_line = process.stdout.readline()
        assert "not HubSpot" in banner
        assert env_line.startswith("AIRFLOW_CONN_HUBSPOT_DEFAULT=")
        assert add_line.startswith("airflow connections add hubspot_default --conn-json ")
        conn = json.loads(env_line.split("=", 1)[1].strip().strip("'"))
        answer = requests.get(
            f"{conn['host']}/scheduler/v3/meetings/meeting-links",
            headers={"Authorization": "Bearer cli-token"},
            timeout=10,
        )
        assert answer.status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0  # bounded at ~3 s; 30 s leaves room for a loaded machine
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_cli_shutdown_is_bounded_with_a_request_and_a_keep_alive_connection_open(stop_signal):
    """A half-sent request (its handler blocked reading the body) and an idle keep-alive connection
    must not hold the CLI: it exits within its shutdown bound (3 s) plus interpreter exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hubspot_scheduler_provider.testing", "serve", "--token", "cli-token"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    connections = []
    try:
        process.stdout.readline()
        conn = json.loads(process.stdout.readline().split("=", 1)[1].strip().strip("'"))
        port = int(conn["host"].rsplit(":", 1)[1])
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        idle.sendall(
            b"GET /scheduler/v3/meetings/meeting-links HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer cli-token\r\n\r\n"
        )
        assert idle.recv(12).startswith(b"HTTP/1.1 200")  # answered; the connection stays open
        in_flight = socket.create_connection(("127.0.0.1", port), timeout=10)
        in_flight.sendall(
            b"POST /scheduler/v3/meetings/meeting-links/book HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 1000\r\n\r\n{"  # 999 bytes never come
        )
        connections += [idle, in_flight]
        time.sleep(0.2)  # let the server start reading the body
        signalled = time.monotonic()
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
        # Bounded: well under the 30 s allowed even on a loaded machine (3 s bound + exit).
        assert time.monotonic() - signalled < 20
    finally:
        for connection in connections:
            connection.close()
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()


def test_cli_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "hubspot_scheduler_provider.testing", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


def test_non_loopback_binding_is_refused():
    done = subprocess.run(
        [sys.executable, "-m", "hubspot_scheduler_provider.testing", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "not loopback" in done.stderr
    with pytest.raises(ValueError, match="not loopback"):
        HubSpotSandbox(host="0.0.0.0")
