"""``HubSpotSandbox``: a local, stateful test double of HubSpot's Scheduler API. It is NOT HubSpot.

It serves the scheduler endpoints of every API version (``v3``, ``2026-03``, ``2026-09``), a small CRM
(contacts by email, meeting search), account details and the OAuth token endpoint over real HTTP on
loopback, validating every request and (by default) every answer against HubSpot's OpenAPI specs.

    with HubSpotSandbox() as sandbox:
        os.environ["AIRFLOW_CONN_HUBSPOT_DEFAULT"] = sandbox.connection_json()
        ...
        assert sandbox.bookings[0]["slug"] == "alice-smith"
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.testing.api_errors import ApiError
from hubspot_scheduler_provider.testing.app import RecordedRequest, SandboxApp
from hubspot_scheduler_provider.testing.oauth import OAuthClient, TokenAuthority
from hubspot_scheduler_provider.testing.rate_limit import SECONDLY, RateLimiter
from hubspot_scheduler_provider.testing.server import LOOPBACK_HOSTS, SandboxHTTPServer
from hubspot_scheduler_provider.testing.state import SandboxState

if TYPE_CHECKING:
    from hubspot_scheduler_provider.testing.faults import Fault
    from hubspot_scheduler_provider.testing.pages import MeetingPage

DEFAULT_TOKEN = "sandbox-token"
#: What the provider needs: read links, book (a CRM write scope), read contacts/meetings, account info.
DEFAULT_SCOPES = frozenset(
    {
        "scheduler.meetings.meeting-link.read",
        "crm.objects.contacts.write",
        "crm.objects.contacts.read",
        "oauth",
    }
)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class HubSpotSandbox:
    """A HubSpot Scheduler test double on ``http://127.0.0.1:<port>``; use as a context manager."""

    def __init__(
        self,
        token: str | None = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scopes: Iterable[str] | None = None,
        rate_limit: int | None = 100,
        rate_window_seconds: float = 10.0,
        daily_limit: int | None = 250_000,
        oauth_client_id: str | None = None,
        oauth_client_secret: str | None = None,
        oauth_refresh_token: str | None = None,
        access_token_ttl_seconds: int = 1800,
        now: datetime | Clock | None = None,
        validate_responses: bool = True,
        allow_non_loopback: bool = False,
        crm_index_lag_seconds: float = 0.0,
        crm_search_rate_limit: int | None = None,
        crm_search_window_seconds: float = 1.0,
        ui_domain: str = "app.hubspot.com",
    ) -> None:
        if host not in LOOPBACK_HOSTS and not allow_non_loopback:
            raise ValueError(
                f"host: {host!r} is not loopback; pass allow_non_loopback=True to expose the sandbox"
            )
        oauth_parts = (oauth_client_id, oauth_client_secret, oauth_refresh_token)
        if any(oauth_parts) and not all(oauth_parts):
            raise ValueError("oauth_client_id, oauth_client_secret and oauth_refresh_token go together")
        self._host, self._requested_port = host, port
        self._clock: Clock = _utc_now
        self.set_now(now)
        self.state = SandboxState(self._now)
        self.crm_index_lag_seconds = crm_index_lag_seconds
        self.state.ui_domain = ui_domain
        client = OAuthClient(*oauth_parts) if all(oauth_parts) else None  # type: ignore[arg-type]
        self.tokens = TokenAuthority(
            token,
            client,
            access_token_ttl_seconds,
            self._now,
            frozenset(DEFAULT_SCOPES if scopes is None else scopes),
        )
        self.limiter = RateLimiter(rate_limit, rate_window_seconds, daily_limit)
        # HubSpot's separate CRM search limit; off unless asked for, so other tests are unaffected.
        self.search_limiter = (
            None
            if crm_search_rate_limit is None
            else RateLimiter(crm_search_rate_limit, crm_search_window_seconds, None, policy_name=SECONDLY)
        )
        self.app = SandboxApp(
            self.state,
            self.tokens,
            self.limiter,
            validate_responses=validate_responses,
            search_limiter=self.search_limiter,
        )
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> HubSpotSandbox:
        if self._server is None:
            self._server = SandboxHTTPServer((self._host, self._requested_port), self.app)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="hubspot-sandbox",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; bounded by about ``timeout`` seconds even with requests or keep-alive
        connections open (their threads are daemons and their sockets are shut down)."""
        if self._server is not None:
            self._server.stop(timeout)
            if self._thread is not None:
                self._thread.join(timeout=timeout)
            self._server = self._thread = None

    def __enter__(self) -> HubSpotSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def serve_forever(self, stop: threading.Event | None = None) -> None:
        """Serve until ``stop`` is set (or the process is interrupted), waking every half second so a
        signal handler always gets to run (for the CLI)."""
        self.start()
        stop = stop or threading.Event()
        while not stop.wait(0.5):
            if self._thread is None or not self._thread.is_alive():
                return

    # --- addresses and credentials ---------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not started; use it as a context manager or call start()")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def token(self) -> str | None:
        return self.tokens.static_token

    @property
    def oauth_client(self) -> OAuthClient | None:
        return self.tokens.client

    def connection_dict(self, **extra: Any) -> dict[str, Any]:
        """The Airflow connection to this sandbox. With OAuth configured the client credentials go to
        the extras and the password stays empty, as an OAuth user would configure it."""
        conn: dict[str, Any] = {"conn_type": "hubspot", "host": self.url}
        client = self.tokens.client
        if client is not None:
            extra = {
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "refresh_token": client.refresh_token,
                **extra,
            }
        elif self.token is not None:
            conn["password"] = self.token
        conn["extra"] = extra
        return conn

    def connection_json(self, **extra: Any) -> str:
        """JSON for an ``AIRFLOW_CONN_<ID>`` environment variable."""
        return json.dumps(self.connection_dict(**extra))

    # --- what happened ---------------------------------------------------------------------------
    @property
    def bookings(self) -> list[dict[str, Any]]:
        """Committed bookings: the answer JSON plus ``request``, ``slug``, ``apiVersion``, ``hostUserId``,
        ``crmMeetingId``. Offline-host answers book nothing and are not listed."""
        with self.state.lock:
            return list(self.state.bookings)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, credentials redacted."""
        with self.app._log_lock:
            return list(self.app.requests)

    @property
    def spec_violations(self) -> list[str]:
        """Answers of the sandbox that broke the spec (should always be empty)."""
        return list(self.app.spec_violations)

    @property
    def internal_errors(self) -> list[str]:
        """Sandbox bugs met while handling requests, each answered as a 500 (should always be empty)."""
        return list(self.app.internal_errors)

    def contact_id(self, email: str) -> str | None:
        with self.state.lock:
            try:
                return self.state.crm.find_contact(email, "email").id
            except ApiError:
                return None

    # --- behaviour controls ----------------------------------------------------------------------
    def inject(
        self, fault: Fault, *, method: str | None = "POST", path_contains: str = "/book", times: int = 1
    ) -> None:
        """Apply ``fault`` to the next ``times`` requests with ``method`` whose path contains
        ``path_contains`` (``method=None``: any method). See ``testing.faults``."""
        self.app.faults.add(fault, method=method, path_contains=path_contains, times=times)

    def set_now(self, now: datetime | Clock | None) -> None:
        """Fix the clock at an aware datetime, follow a callable, or (None) use real UTC time."""
        if now is None:
            self._clock = _utc_now
        elif isinstance(now, datetime):
            if now.tzinfo is None:
                raise ValueError("now: give an aware datetime (e.g. with tzinfo=timezone.utc)")
            self._clock = lambda: now
        else:
            self._clock = now

    def advance(self, delta: timedelta) -> None:
        """Move a fixed clock forward (e.g. to expire OAuth tokens)."""
        moved = self._now() + delta
        self._clock = lambda: moved

    def _now(self) -> datetime:
        return self._clock()

    @property
    def now(self) -> datetime:
        """The sandbox's current time; assign an aware datetime, a callable or None (real time)."""
        return self._now()

    @now.setter
    def now(self, value: datetime | Clock | None) -> None:
        self.set_now(value)

    @property
    def crm_index_lag_seconds(self) -> float:
        """Seconds (real time) a new CRM meeting stays out of CRM search results, like HubSpot's lagging
        search index (reads by id see it at once). Settable at any time; 0 means at once."""
        with self.state.lock:
            return self.state.crm.index_lag_seconds

    @crm_index_lag_seconds.setter
    def crm_index_lag_seconds(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"crm_index_lag_seconds: must not be negative, got {seconds}")
        with self.state.lock:
            self.state.crm.index_lag_seconds = seconds

    @property
    def crm_search_result_cap(self) -> int:
        """Results one CRM search query can page through (HubSpot: 10,000); paging past it is a 400.
        Tests lower it to exercise the cap quickly."""
        with self.state.lock:
            return self.state.crm.search_result_cap

    @crm_search_result_cap.setter
    def crm_search_result_cap(self, results: int) -> None:
        if results < 1:
            raise ValueError(f"crm_search_result_cap: must be at least 1, got {results}")
        with self.state.lock:
            self.state.crm.search_result_cap = results

    def book_as_visitor(
        self,
        slug: str,
        start: datetime,
        *,
        email: str,
        first_name: str = "Web",
        last_name: str = "Visitor",
        duration_ms: int | None = None,
        form_fields: Mapping[str, str] | None = None,
        created_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Book ``slug`` at ``start`` as a lead on the public meeting page would: not through the
        provider and not over HTTP (nothing is added to :attr:`requests`), but through the book
        endpoint's own code (same checks, same contact, CRM meeting and :attr:`bookings` entry).

        ``duration_ms`` defaults to the page's first duration; required consents are given, as the
        page makes the visitor tick them; ``form_fields`` fills the page's other fields by name.
        ``created_at`` sets the CRM meeting's ``hs_createdate`` (default: the sandbox's now), e.g. for
        meetings created at the same millisecond. Returns the book endpoint's answer body (v3 units);
        raises ``ApiError`` (``.status``, ``.message``) where the endpoint would answer an error.
        Thread-safe."""
        from hubspot_scheduler_provider.testing.availability import to_ms
        from hubspot_scheduler_provider.testing.scheduler import book_on_page, iso_utc
        from hubspot_scheduler_provider.testing.spec import catalog

        if start.tzinfo is None:
            raise ValueError("start: give an aware datetime (e.g. with tzinfo=timezone.utc)")
        page = self.state.page(slug)
        body = {
            "slug": slug,
            "duration": page.durations_ms[0] if duration_ms is None else duration_ms,
            "startTime": iso_utc(to_ms(start)),
            "email": email,
            "firstName": first_name,
            "lastName": last_name,
            "formFields": [{"name": name, "value": value} for name, value in (form_fields or {}).items()],
            "legalConsentResponses": [
                {"communicationTypeId": box.communication_type_id, "consented": True}
                for box in page.consent_checkboxes
            ],
            "likelyAvailableUserIds": [],
            "timezone": page.timezone,
        }
        routed = catalog().route("POST", "/scheduler/v3/meetings/meeting-links/book")
        assert routed is not None  # the v3 spec has the book operation
        operation = routed[0]
        problems = operation.spec.schema_errors(operation.request_schema or {}, body)
        if problems:
            raise ValueError("; ".join(problem["message"] for problem in problems))
        created_ms = None if created_at is None else to_ms(created_at)
        return book_on_page(self.state, body, "v3", created_ms=created_ms)

    def set_meeting_outcome(self, crm_meeting_id: str, outcome: str = "CANCELED") -> None:
        """Set a CRM meeting's ``hs_meeting_outcome`` (default: cancel it); ``CANCELED`` and
        ``RESCHEDULED`` also free the booked slot, as cancelling in HubSpot does."""
        self.state.set_meeting_outcome(crm_meeting_id, outcome)

    def expire_access_tokens(self) -> None:
        """Expire every OAuth access token issued so far (the refresh token keeps working)."""
        self.tokens.expire_all()

    def add_page(self, page: MeetingPage) -> None:
        self.state.add_page(page)

    @property
    def pages(self) -> dict[str, MeetingPage]:
        with self.state.lock:
            return dict(self.state.pages)

    def add_busy_time(self, slug: str, start: datetime, end: datetime) -> None:
        """Make every host of page ``slug`` busy over ``[start, end)``."""
        self.state.add_busy_time(slug, start, end)

    def fill(self, slug: str, month_offset: int = 0, timezone: str | None = None) -> None:
        """Make the page fully booked for month ``month_offset`` (in ``timezone``, default the page's)."""
        self.state.fill(slug, month_offset, timezone)

    def reset(self) -> None:
        """Seeded pages again; no bookings, contacts, faults, logged requests or rate-limit history."""
        self.state.reset()
        self.app.faults.clear()
        with self.app._log_lock:
            self.app.requests.clear()
        self.app.spec_violations.clear()
        self.app.internal_errors.clear()
        self.limiter.reset()
        if self.search_limiter is not None:
            self.search_limiter.reset()
