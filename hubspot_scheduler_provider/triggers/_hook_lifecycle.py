"""The hook a polling trigger owns: built lazily for the triggerer (no retries or pacing sleeps of its own:
every wait happens in the trigger's ``asyncio.sleep``), closed however the trigger ends. One home for
both triggers of this provider."""

from __future__ import annotations

from contextlib import aclosing
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from airflow.triggers.base import TriggerEvent

    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook


class PollingHookLifecycle:
    """Mixed into a trigger that sets ``hubspot_conn_id`` and ``api_version`` and yields its events from
    ``_events()``: ``run`` relays them and closes the hook's session at the end."""

    hubspot_conn_id: str
    api_version: str | None

    @cached_property
    def hook(self) -> HubSpotSchedulerHook:
        """Built without network access (the connection is read on the first poll, in a thread)."""
        from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

        return HubSpotSchedulerHook(
            hubspot_conn_id=self.hubspot_conn_id,
            api_version=self.api_version,
            max_retries=0,
            pace_on_remaining=False,
        )

    def _events(self) -> AsyncGenerator[TriggerEvent, None]:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            async with aclosing(self._events()) as events:
                async for event in events:
                    yield event
        finally:
            self._close_hook()

    async def cleanup(self) -> None:
        """Called by the triggerer when the trigger is removed (e.g. the task was cleared)."""
        self._close_hook()

    def _close_hook(self) -> None:
        if "hook" in self.__dict__:
            self.hook.close()
