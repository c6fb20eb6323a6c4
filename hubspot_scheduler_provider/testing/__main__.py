"""``python -m hubspot_scheduler_provider.testing serve``: run the HubSpot sandbox (a test double, not
HubSpot) until interrupted, printing the Airflow connection that points at it."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from typing import Any

from hubspot_scheduler_provider.testing.sandbox import DEFAULT_TOKEN, HubSpotSandbox
from hubspot_scheduler_provider.testing.server import LOOPBACK_HOSTS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hubspot_scheduler_provider.testing",
        description="Local HubSpot Scheduler sandbox (a test double, not HubSpot).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the sandbox until interrupted")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    serve.add_argument("--token", default=DEFAULT_TOKEN, help="bearer token to accept")
    serve.add_argument(
        "--host", default="127.0.0.1", help="bind address (loopback only unless --allow-non-loopback)"
    )
    serve.add_argument(
        "--allow-non-loopback", action="store_true", help="allow binding a non-loopback address"
    )
    serve.add_argument("--rate-limit", type=int, default=100, help="requests per window (0 disables)")
    serve.add_argument("--rate-window-seconds", type=float, default=10.0)
    serve.add_argument("--conn-id", default="hubspot_default", help="Airflow connection id to print")
    return parser


#: Seconds the CLI gives open requests and connections once asked to stop.
SHUTDOWN_TIMEOUT_SECONDS = 3.0


def _print_connection(sandbox: HubSpotSandbox, conn_id: str) -> None:
    conn_json = sandbox.connection_json()
    print(f"HubSpot sandbox (a test double, not HubSpot) serving on {sandbox.url}")
    print(f"AIRFLOW_CONN_{conn_id.upper()}={shlex.quote(conn_json)}")
    print(f"airflow connections add {shlex.quote(conn_id)} --conn-json {shlex.quote(conn_json)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.host not in LOOPBACK_HOSTS and not args.allow_non_loopback:
        print(f"refusing to bind {args.host}: not loopback (use --allow-non-loopback)", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()  # the main loop notices within half a second; no exception mid-cleanup

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sandbox = HubSpotSandbox(
        args.token,
        host=args.host,
        port=args.port,
        rate_limit=args.rate_limit or None,
        rate_window_seconds=args.rate_window_seconds,
        allow_non_loopback=args.allow_non_loopback,
    )
    # Everything from start() on sits inside the try: a reader of the banner may stop us at once.
    try:
        sandbox.start()
        _print_connection(sandbox, args.conn_id)
        sandbox.serve_forever(stop)
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        sandbox.stop(SHUTDOWN_TIMEOUT_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
