"""``HubSpotSchedulerHook``: HubSpot's Scheduler (meetings) API, one method per endpoint.

A subclass of the HTTP provider's ``HttpHook`` so a ``hubspot`` connection also works with the stock
``HttpOperator``, but without its traps: one session per hook (keep-alive, shared by threads) that
never follows redirects and bounds every answer in time and size (``_wire.BoundedSession``, also for
``run()`` and ``get_conn()``), bearer auth, a finite default timeout, connection extras never sent as
headers, secrets scrubbed from its errors and logs (``redaction``), and errors that name HubSpot's
status/category/correlationId instead of logging whole response bodies.

Models are imported inside methods: DAG files import this module on every parse.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.http.hooks.http import HttpHook

from hubspot_scheduler_provider._validation import require_choice, require_whole_number, validation_summary
from hubspot_scheduler_provider.errors import (
    BookingInputError,
    HubSpotConfigError,
    HubSpotResponseError,
)
from hubspot_scheduler_provider.fields import parse_text, parse_timezone
from hubspot_scheduler_provider.hooks._http_compat import HttpOperatorCompatibility
from hubspot_scheduler_provider.hooks._oauth import TOKEN_PATH, OAuthTokenSource, StaticToken, TokenSource
from hubspot_scheduler_provider.hooks._settings import (
    HubSpotSettings,
    read_settings,
    register_secret_everywhere,
)
from hubspot_scheduler_provider.hooks._transport import HubSpotTransport, correlation_id
from hubspot_scheduler_provider.hooks._wire import BoundedSession
from hubspot_scheduler_provider.hooks.crm_meetings import CrmMeetingMethods
from hubspot_scheduler_provider.pacing import RateLimitState
from hubspot_scheduler_provider.redaction import redacting
from hubspot_scheduler_provider.retry_rules import RetryPolicy
from hubspot_scheduler_provider.shared_pacing import shared_pacing_for
from hubspot_scheduler_provider.units import MS_PER_MINUTE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    import requests
    from pendulum import DateTime
    from pydantic import BaseModel

    from hubspot_scheduler_provider.api_versions import ApiVersion
    from hubspot_scheduler_provider.models import (
        AvailabilityPage,
        BookingInfo,
        BookingResult,
        CalendarMeetingCreateRequest,
        MeetingBooking,
        MeetingLink,
    )

LINK_TYPES = ("GROUP_CALENDAR", "PERSONAL_LINK", "ROUND_ROBIN_CALENDAR")


def _slug_segment(slug: Any) -> str:
    """Team slugs contain ``/``; the path takes the slug as ONE encoded segment."""
    return quote(parse_text("slug", slug), safe="")


def _config_error(name: str, problem: str) -> HubSpotConfigError:
    return HubSpotConfigError(f"{name}: {problem}")


def check_link_type(value: Any, field: str = "type") -> str:
    """One of :data:`LINK_TYPES`, else ``BookingInputError`` naming ``field``."""
    return require_choice(field, value, LINK_TYPES, error=BookingInputError)


class HubSpotSchedulerHook(HttpOperatorCompatibility, CrmMeetingMethods, HttpHook):
    """Talk to HubSpot's Scheduler API through a ``hubspot`` connection.

    ``get_conn``, ``run`` and ``check_response`` (what the stock ``HttpOperator`` calls) come from
    :class:`~hubspot_scheduler_provider.hooks._http_compat.HttpOperatorCompatibility`; the CRM meeting
    methods (``iter_booked_meetings``, ``set_meeting_outcome``, ...) from
    :class:`~hubspot_scheduler_provider.hooks.crm_meetings.CrmMeetingMethods`.

    :param hubspot_conn_id: connection whose password is the access token (service key, private-app or
        OAuth access token), or whose extras hold ``client_id``/``client_secret``/``refresh_token``.
    :param api_version: ``v3``, ``2026-03`` or ``2026-09``; default: the connection's ``api_version``
        extra, else the newest stable version.
    :param timeout: seconds per request (connect and read); default: the connection's ``timeout`` extra,
        else ``connection_form.DEFAULT_TIMEOUT_SECONDS``.
    :param max_retries: retries after the first attempt, for answers that are safe to retry.
    :param pace_on_remaining: wait (in ``time.sleep``) before a request when HubSpot's last
        ``X-HubSpot-RateLimit-Remaining`` was low. Turn it off when the caller paces itself: a batch
        (``pacing.PacedAdapter``) or a trigger, which must wait in ``asyncio.sleep`` instead.
    """

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot_default"
    conn_type = "hubspot"
    hook_name = "HubSpot"

    def __init__(
        self,
        hubspot_conn_id: str = default_conn_name,
        *,
        api_version: str | None = None,
        timeout: float | None = None,
        max_retries: int = 5,
        pace_on_remaining: bool = True,
        method: str = "GET",
        **kwargs: Any,
    ) -> None:
        # HttpOperator passes auth_type (and tcp_keep_alive_*); auth is always the bearer token here.
        kwargs.pop("auth_type", None)
        kwargs.pop("http_conn_id", None)
        super().__init__(method=method, http_conn_id=hubspot_conn_id, **kwargs)
        require_whole_number("max_retries", max_retries, minimum=0, error=_config_error)
        self.hubspot_conn_id = hubspot_conn_id
        self._api_version_arg = api_version
        self._timeout_arg = timeout
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self.pace_on_remaining = pace_on_remaining
        #: Newest ``X-HubSpot-RateLimit-*`` values seen by this hook (for callers that pace themselves).
        self.rate_limit_state = RateLimitState()
        #: How the hook waits before a retry; tests replace it to record waits.
        self._sleep: Callable[[float], None] = time.sleep
        #: Monotonic clock for OAuth token expiry; tests replace it to move time.
        self._clock: Callable[[], float] = time.monotonic
        self._init_lock = threading.RLock()
        self._settings: HubSpotSettings | None = None
        self._transport: HubSpotTransport | None = None
        self._session: requests.Session | None = None
        self._portal_id: str | None = None
        self._ui_domain: str | None = None
        # Every line this hook (and its transport) logs is scrubbed of secrets, even one HubSpot echoed.
        self._log = redacting(self.log)

    # ------------------------------------------------------------------ connection form (Airflow < 3.2)
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from hubspot_scheduler_provider.connection_form import legacy_connection_form_widgets

        return legacy_connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        from hubspot_scheduler_provider.connection_form import legacy_ui_field_behaviour

        return legacy_ui_field_behaviour()

    # ------------------------------------------------------------------ lazy, thread-safe set-up
    @property
    def settings(self) -> HubSpotSettings:
        with self._init_lock:
            if self._settings is None:
                conn: Any = self.get_connection(self.hubspot_conn_id)  # sdk or models Connection
                self._settings = read_settings(
                    conn, api_version=self._api_version_arg, timeout=self._timeout_arg
                )
                self.base_url = self._settings.base_url
                self._base_url_initialized = True
            return self._settings

    @property
    def api_version(self) -> ApiVersion:
        return self.settings.api_version

    @property
    def transport(self) -> HubSpotTransport:
        with self._init_lock:
            if self._transport is None:
                settings = self.settings
                session = self._new_session()
                self._transport = HubSpotTransport(
                    base_url=settings.base_url,
                    session=session,
                    tokens=self._token_source(settings),
                    timeout=settings.timeout,
                    policy=self.retry_policy,
                    rate_limit=self.rate_limit_state,
                    sleep=lambda seconds: self._sleep(seconds),
                    log=self.log,
                    pace_on_remaining=self.pace_on_remaining,
                    shared_pacing=shared_pacing_for(settings, self.log),
                )
                self._session = session
            return self._transport

    def _new_session(self) -> BoundedSession:
        """The shared session: connection pool and adapter only. Auth and headers go on each request
        (``HubSpotTransport.request``), so nothing one call sets leaks into another call or thread."""
        session = BoundedSession(self.settings.max_response_bytes)
        # HttpHook's TCP keep-alive adapter, or the adapter the caller gave (attribute names of
        # providers-http >= 4.x; absent attributes just leave requests' default adapter).
        adapter = getattr(self, "adapter", None) or getattr(self, "keep_alive_adapter", None)
        if adapter is not None:
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        return session

    def _token_source(self, settings: HubSpotSettings) -> TokenSource:
        if settings.oauth is None:
            return StaticToken(settings.access_token or "")

        def fetch(form: dict[str, str]) -> Mapping[str, Any]:
            # Exchanging the refresh token again is harmless, so the token request retries like a GET.
            transport = self.transport
            response = transport.request("POST", TOKEN_PATH, idempotent=True, data=form, authenticate=False)
            return transport.json_object(response)

        return OAuthTokenSource(
            settings.oauth, fetch, mask=register_secret_everywhere, clock=lambda: self._clock()
        )

    # ------------------------------------------------------------------ Scheduler endpoints
    def _path(self, suffix: str) -> str:
        return f"{self.api_version.scheduler_prefix}{suffix}"

    def _get_json(self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        transport = self.transport
        return transport.json_object(transport.request("GET", path, idempotent=True, params=params, **kwargs))

    def _get_parsed(self, model: type[BaseModel], path: str, params: Mapping[str, Any], what: str) -> Any:
        transport = self.transport
        response = transport.request("GET", path, idempotent=True, params=params)
        return self._parse(model, transport.json_object(response), what, correlation_id(response))

    def _parse(
        self, model: type[BaseModel], body: dict[str, Any], what: str, correlation: str | None = None
    ) -> Any:
        from pydantic import ValidationError

        try:
            return model.model_validate(body)
        except ValidationError as error:
            raise HubSpotResponseError(
                f"HubSpot's answer to {what} does not match {model.__spec_schema__}: "  # type: ignore[attr-defined]
                f"{validation_summary(error)}",
                status=200,
                correlation_id=correlation,
            ) from None

    def list_meeting_links(
        self,
        name: str | None = None,
        organizer_user_id: str | None = None,
        type: str | None = None,
        limit: int | None = None,
    ) -> Iterator[MeetingLink]:
        """Every meeting page matching the filters, following ``paging.next.after`` through all pages.

        ``limit`` is the page size HubSpot is asked for, not a cap on the total. Arguments are checked
        at once; pages are fetched as the iterator is consumed.
        """
        if type is not None:
            check_link_type(type)
        if limit is not None:
            require_whole_number("limit", limit, minimum=1, error=BookingInputError)
        filters = {"name": name, "organizerUserId": organizer_user_id, "type": type, "limit": limit}
        return self._meeting_link_pages({key: value for key, value in filters.items() if value is not None})

    def _meeting_link_pages(self, params: dict[str, Any]) -> Iterator[MeetingLink]:
        from hubspot_scheduler_provider.models import MeetingLinkPage

        seen_cursors: set[str] = set()
        while True:
            path = self._path("/meeting-links")
            page = self._get_parsed(MeetingLinkPage, path, params, "list meeting links")
            yield from page.results
            cursor = page.paging.next.after if page.paging and page.paging.next else None
            if not cursor:
                return
            if cursor in seen_cursors:
                raise HubSpotResponseError(
                    f"HubSpot repeated the paging cursor {cursor!r}; stopping", status=200
                )
            seen_cursors.add(cursor)
            params = {**params, "after": cursor}

    def get_booking_info(self, slug: str, timezone: str) -> BookingInfo:
        """A meeting page's settings, availability and busy times, as shown to someone in ``timezone``."""
        from hubspot_scheduler_provider.models import BookingInfo

        path = self._path(f"/meeting-links/book/{_slug_segment(slug)}")
        params = {"timezone": parse_timezone("timezone", timezone)}
        return self._get_parsed(BookingInfo, path, params, "booking info")  # type: ignore[no-any-return]

    def get_availability(self, slug: str, timezone: str, month_offset: int = 0) -> AvailabilityPage:
        """Availability of a meeting page for the month ``month_offset`` months from now."""
        from hubspot_scheduler_provider.models import AvailabilityPage

        require_whole_number("month_offset", month_offset, minimum=0, error=BookingInputError)
        path = self._path(f"/meeting-links/book/availability-page/{_slug_segment(slug)}")
        params = {"timezone": parse_timezone("timezone", timezone), "monthOffset": month_offset}
        return self._get_parsed(AvailabilityPage, path, params, "availability")  # type: ignore[no-any-return]

    def find_slots(
        self,
        slug: str,
        duration: Any,
        timezone: str = "UTC",
        earliest: Any = None,
        latest: Any = None,
        limit: int | None = None,
    ) -> list[DateTime]:
        """Free slots of ``duration`` (ms, timedelta or ``"PT30M"``) that fit in ``[earliest, latest]``,
        as aware ``DateTime`` values in ``timezone``, walking month pages as needed (``availability``)."""
        from hubspot_scheduler_provider.availability import find_slots

        return find_slots(self, slug, duration, timezone, earliest, latest, limit)

    def next_available_slot(
        self, slug: str, duration: Any, timezone: str = "UTC", earliest: Any = None, latest: Any = None
    ) -> DateTime | None:
        """The first of :meth:`find_slots`, or None when the window has no free slot."""
        from hubspot_scheduler_provider.availability import next_available_slot

        return next_available_slot(self, slug, duration, timezone, earliest, latest)

    def book_meeting(
        self, booking: MeetingBooking, *, before_each_attempt: Callable[[int], None] | None = None
    ) -> BookingResult:
        """Book a meeting. Retried only when HubSpot cannot have processed it (no idempotency key exists).

        Raises with ``outcome_unknown=True`` after a timeout, dropped connection or 5xx: check HubSpot
        (e.g. the contact's meetings) before booking again. ``is_offline`` true in the answer means the
        host's calendar is disconnected and no calendar event was created.
        """
        from pydantic import ValidationError

        from hubspot_scheduler_provider.models import BookedMeeting, BookingResult, MeetingBooking

        if not isinstance(booking, MeetingBooking):
            raise TypeError(f"booking must be a MeetingBooking, got {type(booking).__name__}")
        version = self.api_version
        try:
            body = booking.to_wire(version)
        except ValueError as error:
            raise BookingInputError("duration", str(error).removeprefix("duration: ")) from None
        # DEBUG: the calling operator logs the one INFO line per booking (its summary).
        self.log.debug(
            "Booking a %d-minute meeting on page %r at %s (API %s)",
            booking.duration // MS_PER_MINUTE,
            booking.slug,
            body["startTime"],
            version.name,
        )
        transport = self.transport
        response = transport.request(
            "POST",
            self._path("/meeting-links/book"),
            idempotent=False,
            json_body=body,
            before_each_attempt=before_each_attempt,
        )
        booked_correlation_id = correlation_id(response)
        try:
            raw = BookedMeeting.normalise_wire(transport.json_object(response), version)
            meeting = BookedMeeting.model_validate(raw)
        except (HubSpotResponseError, ValidationError) as error:
            detail = validation_summary(error) if isinstance(error, ValidationError) else error.message
            raise HubSpotResponseError(
                "HubSpot answered the booking with HTTP 200, so the meeting is probably booked, but the "
                f"answer does not match ExternalMeetingBookingResponse: {detail}",
                status=response.status_code,
                correlation_id=booked_correlation_id,
                outcome_unknown=True,
            ) from None
        if meeting.is_offline:
            self.log.warning(
                "HubSpot booked page %r offline: the host's calendar is disconnected, so no calendar event "
                "was created (correlationId %s)",
                booking.slug,
                booked_correlation_id,
            )
        return BookingResult(meeting=meeting, raw=raw, correlation_id=booked_correlation_id)

    def create_calendar_meeting(
        self, organizer_user_id: str, request: CalendarMeetingCreateRequest | Mapping[str, Any]
    ) -> dict[str, Any]:
        """Create a meeting on ``organizer_user_id``'s calendar; returns HubSpot's JSON.

        ``CalendarMeeting.model_validate(result)`` gives the typed view. Not retried after a timeout
        or 5xx (``outcome_unknown=True``), like bookings.
        """
        from hubspot_scheduler_provider.models import CalendarMeetingCreateRequest

        organizer = parse_text("organizer_user_id", organizer_user_id)
        if not isinstance(request, CalendarMeetingCreateRequest):
            from pydantic import ValidationError

            try:
                request = CalendarMeetingCreateRequest.model_validate(request)
            except ValidationError as error:
                raise BookingInputError("request", validation_summary(error)) from None
        transport = self.transport
        response = transport.request(
            "POST",
            self._path("/calendar"),
            idempotent=False,
            params={"organizerUserId": organizer},
            json_body=request.to_wire_dict(),
        )
        return transport.json_object(response)

    def update_meeting_link(self, slug: str, payment_link_id: str | None) -> MeetingLink:
        """Set (or clear) a meeting page's payment link. Only API version v3 has this endpoint."""
        from hubspot_scheduler_provider.models import MeetingLink

        if self.api_version.name != "v3":
            raise HubSpotConfigError(
                "api_version: updating meeting links exists only in API version v3, "
                f"not {self.api_version.name}"
            )
        transport = self.transport
        response = transport.request(
            "PATCH",
            self._path(f"/meeting-links/{_slug_segment(slug)}"),
            idempotent=True,  # sets a value: repeating it changes nothing
            json_body={"paymentLinkId": payment_link_id},
        )
        return self._parse(  # type: ignore[no-any-return]
            MeetingLink, transport.json_object(response), "update link", correlation_id(response)
        )

    # ------------------------------------------------------------------ account and connection test
    def get_portal_id(self) -> str | None:
        """The account (portal) ID: the connection's ``portal_id`` extra, else asked once and cached."""
        if self._portal_id is None:
            portal = self.settings.portal_id
            if not portal:
                details = self._get_json("/account-info/v3/details")
                portal = details.get("portalId")
                # Asked anyway: keep the web app host too (EU-hosted portals live on app-eu1.hubspot.com).
                ui_domain = details.get("uiDomain")
                self._ui_domain = ui_domain if isinstance(ui_domain, str) and ui_domain else None
            # Threads racing here store the same value; no lock held across the HTTP call.
            self._portal_id = str(portal) if portal not in (None, "") else None
        return self._portal_id

    @property
    def ui_domain(self) -> str | None:
        """The portal's web app host (``uiDomain``) if :meth:`get_portal_id` asked HubSpot, else None."""
        return self._ui_domain

    def test_connection(self) -> tuple[bool, str]:
        """The connection form's "Test" button: one cheap authorized GET; the message says what to fix."""
        from hubspot_scheduler_provider.connection_form import check_connection

        return check_connection(self)

    def close(self) -> None:
        """Close the shared session's pooled connections."""
        with self._init_lock:
            if self._session is not None:
                self._session.close()
