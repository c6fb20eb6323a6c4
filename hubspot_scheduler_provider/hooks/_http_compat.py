"""What the stock ``HttpOperator`` calls on a hook (``get_conn``, ``run``, ``check_response``), with the
hubspot hook's auth, retries, bounds and error mapping instead of ``HttpHook``'s.

A mixin of :class:`~hubspot_scheduler_provider.hooks.scheduler.HubSpotSchedulerHook`, kept apart because
the provider's own code never uses it: its operators call the hook's endpoint methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.errors import error_from_response
from hubspot_scheduler_provider.hooks._wire import BoundedSession

if TYPE_CHECKING:
    import requests

    from hubspot_scheduler_provider.hooks._settings import HubSpotSettings
    from hubspot_scheduler_provider.hooks._transport import HubSpotTransport

#: Methods the stock HttpOperator may send that are safe to repeat after a timeout or 5xx.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class HttpOperatorCompatibility:
    """``HttpHook``'s request API over the hubspot hook's transport."""

    method: str
    log: Any  # the hook's logger (LoggingMixin)

    @property
    def settings(self) -> HubSpotSettings:
        raise NotImplementedError

    @property
    def transport(self) -> HubSpotTransport:
        raise NotImplementedError

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> requests.Session:
        """A session authenticated with the bearer token, for code that sends requests itself.

        Without ``headers``: the hook's one shared session (keep-alive pool), never modified here.
        With ``headers``: a new session carrying them, sharing the pooled adapters, so one caller's
        headers never reach another call or thread. Unlike ``HttpHook`` this never copies connection
        extras into headers: they hold settings and OAuth secrets. Either session never follows a
        redirect, and bounds each request's time (``timeout`` is the total deadline) and body size.
        """
        from hubspot_scheduler_provider.hooks._transport import BearerAuth

        transport = self.transport
        shared = transport.session
        if not headers:
            return shared
        session = BoundedSession(self.settings.max_response_bytes)
        session.auth = BearerAuth(transport.tokens)
        session.headers.update(headers)
        for prefix, adapter in shared.adapters.items():
            session.mount(prefix, adapter)
        return session

    def run(
        self,
        endpoint: str | None = None,
        data: dict[str, Any] | str | None = None,
        headers: dict[str, Any] | None = None,
        extra_options: dict[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> requests.Response:
        """``HttpHook.run`` semantics (``data`` is the query for GET/HEAD) with this hook's auth and retries.

        Writes are retried only when HubSpot cannot have processed them.
        """
        extra_options = extra_options or {}
        ignored = sorted(set(extra_options) - {"timeout", "check_response"})
        if ignored:
            self.log.warning("HubSpotSchedulerHook.run ignores extra_options %s", ignored)
        method = self.method
        query_style = method in ("GET", "HEAD")
        params = request_kwargs.pop("params", data if query_style else None)
        return self.transport.request(
            method,
            endpoint or "",
            idempotent=method in IDEMPOTENT_METHODS,
            params=params,
            data=None if query_style else data,
            headers=headers,
            timeout=extra_options.get("timeout"),
            check=extra_options.get("check_response", True),
            **request_kwargs,
        )

    def check_response(self, response: requests.Response) -> None:
        """Raise a :class:`~hubspot_scheduler_provider.errors.HubSpotError` for an error answer (or a
        redirect, never followed), without logging the body (it may hold PII)."""
        method = (response.request.method or "") if response.request is not None else ""
        if 300 <= response.status_code < 400:
            raise self.transport._redirect_error(response, method, "")
        if response.status_code >= 400:
            raise error_from_response(
                response.status_code, response.content, headers=response.headers, method=method
            )
