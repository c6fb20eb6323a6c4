"""``[core] hostname_callable`` of the distributed tier: a task instance's ``hostname`` names its Celery
worker (both run on one machine), so the tests can tell which worker ran what."""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    return os.environ.get("HUBSPOT_WORKER_NAME") or socket.getfqdn()
