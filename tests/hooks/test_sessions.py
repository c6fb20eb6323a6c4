"""The hook's one shared session: per-call headers never stick to it, and users close it when done."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
from hubspot_scheduler_provider.operators.meeting_links import ListMeetingLinksOperator
from tests.hooks.conftest import Answer, ScriptedServer

if TYPE_CHECKING:
    import pytest

PAGE = {"results": [], "total": 0}


def pooled_connections(hook: HubSpotSchedulerHook) -> int:
    return len(hook.transport.session.adapters["http://"].poolmanager.pools)


def test_headers_given_to_get_conn_or_run_stay_with_that_call(
    scripted_hook: HubSpotSchedulerHook, scripted_server: ScriptedServer
) -> None:
    scripted_server.queue(*[Answer(body=PAGE) for _ in range(4)])
    shared_headers = dict(scripted_hook.transport.session.headers)

    own = scripted_hook.get_conn(headers={"X-Caller": "first"})
    own.get(f"{scripted_server.url}/scheduler/2026-09/meetings/meeting-links")
    scripted_hook.run("/scheduler/2026-09/meetings/meeting-links", headers={"X-Caller": "second"})
    # Another thread, no headers of its own: it must not see either caller's.
    worker = threading.Thread(target=lambda: list(scripted_hook.list_meeting_links()))
    worker.start()
    worker.join()
    scripted_hook.run("/scheduler/2026-09/meetings/meeting-links")

    assert [seen.headers.get("X-Caller") for seen in scripted_server.seen] == ["first", "second", None, None]
    assert {seen.headers["Authorization"] for seen in scripted_server.seen} == {"Bearer scripted-token"}
    assert dict(scripted_hook.transport.session.headers) == shared_headers
    assert scripted_hook.get_conn() is scripted_hook.transport.session  # no headers: the shared session


def test_list_meeting_links_operator_closes_its_hook(
    scripted_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.hooks.conftest import set_connection

    set_connection(monkeypatch, host=scripted_server.url, password="scripted-token")
    scripted_server.queue(Answer(body=PAGE))
    open_after_close: list[int] = []
    close = HubSpotSchedulerHook.close

    def close_and_count(hook: Any) -> None:  # a spy around the real close
        close(hook)
        open_after_close.append(pooled_connections(hook))

    monkeypatch.setattr(HubSpotSchedulerHook, "close", close_and_count)

    assert ListMeetingLinksOperator(task_id="list").execute({}) == []  # type: ignore[arg-type]
    assert open_after_close == [0] and len(scripted_server.seen) == 1
