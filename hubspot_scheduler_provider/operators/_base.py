"""What every HubSpot operator and sensor of this provider shares: the connection id, the API version
and the hook's lifetime (one hook per ``execute``, created on first use, closed when ``execute`` ends).

A mixin rather than a base class, so it serves ``BaseOperator`` and ``BaseSensorOperator`` subclasses
alike. The hook is a ``cached_property``, as in the official providers (``SlackAPIOperator.hook``,
``HttpSensor.hook``), so ``poke`` and helper methods reach the same hook and session. Imports stay
cheap: the hook loads on first use.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook


class HubSpotHookMixin:
    """``hook`` for ``hubspot_conn_id`` and ``api_version``, and :meth:`hook_closed_after` to end it.

    The class using it sets ``self.hubspot_conn_id`` and ``self.api_version`` in its ``__init__`` (they
    stay its own named arguments, so ``default_args`` and the docs see them) and wraps ``execute`` in
    ``with self.hook_closed_after():``. Override :meth:`hook_options` for extra hook arguments.
    """

    hubspot_conn_id: str
    api_version: str | None

    def hook_options(self) -> dict[str, Any]:
        """Keyword arguments for the hook besides the connection id and API version."""
        return {}

    @cached_property
    def hook(self) -> HubSpotSchedulerHook:
        from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

        return HubSpotSchedulerHook(
            hubspot_conn_id=self.hubspot_conn_id, api_version=self.api_version, **self.hook_options()
        )

    @contextmanager
    def hook_closed_after(self) -> Iterator[HubSpotSchedulerHook]:
        """The hook for this block; closed (session and pooled connections) when the block ends, however
        it ends, so a retry, the next ``poke`` of a rescheduled sensor or a deferral starts afresh."""
        try:
            yield self.hook
        finally:
            self.close_hook()

    def close_hook(self) -> None:
        """Close the hook if this run created one; the next use of ``hook`` creates a new one."""
        hook = self.__dict__.pop("hook", None)
        if hook is not None:
            hook.close()
