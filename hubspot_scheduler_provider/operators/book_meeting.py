"""``BookMeetingOperator``: book one meeting on a HubSpot meeting page, at a given start time or at the
first free slot of a window (``start_time="next_available"``).

Module imports stay cheap (DAG files importing this are parsed often): the hook, pydantic models, input
parsing and availability load inside ``execute``.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.exceptions import AirflowProviderDeprecationWarning
from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator

from hubspot_scheduler_provider import asset_events
from hubspot_scheduler_provider.booking_fields import BOOKING_KEYWORDS
from hubspot_scheduler_provider.errors import BookingInputError, mask_emails
from hubspot_scheduler_provider.links import HubSpotContactLink, HubSpotWebConferenceLink, start_run_links
from hubspot_scheduler_provider.operators._base import HubSpotHookMixin

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from hubspot_scheduler_provider.availability import SlotQuery
    from hubspot_scheduler_provider.booking_flow import BookingOutcome
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
    from hubspot_scheduler_provider.models import MeetingBooking

#: ``start_time`` (keyword or payload ``startTime``) that books the first free slot in the window.
NEXT_AVAILABLE = "next_available"


class BookMeetingOperator(HubSpotHookMixin, BaseOperator):
    """Book a meeting on a HubSpot meeting page and return HubSpot's answer (to XCom).

    Give the booking as ``payload`` (dict, JSON string, ``XComArg`` or ``MeetingBooking``; HubSpot's
    camelCase or snake_case keys), as keyword arguments, or both: keywords win over payload keys.
    Everything is checked before any request; a mistake fails the task (no retry) naming the field.

    :param payload: The whole or a partial booking. Templated.
    :param slug: Meeting page slug (team pages: ``team/page``). Templated.
    :param contact_email: The booker's email address (HubSpot's ``email``). Not ``email``: that is
        Airflow's failure-alert recipient on every operator. Templated.
    :param first_name: The booker's first name. Templated.
    :param last_name: The booker's last name. Templated.
    :param start_time: Aware ``datetime``, ISO 8601 string, epoch milliseconds, or a naive value read in
        ``timezone``. Sent as ISO 8601 UTC. Or ``"next_available"``: at run time, book the first free slot
        of ``duration`` between ``earliest`` and ``latest``; when someone else takes it first (HubSpot
        answers ``MEETING_START_TIME_NOT_VALID``), read availability again and try the next one, up to
        ``max_slot_attempts`` times. The slot booked is logged, is HubSpot's ``start`` in the result and
        goes to XCom key ``slot`` (ISO 8601 in ``timezone``). Also accepted as payload ``startTime``.
        Templated.
    :param duration: Milliseconds (HubSpot's unit), a ``timedelta`` or ISO 8601 (``"PT30M"``); must be
        one the page offers. Templated.
    :param timezone: IANA zone: interprets naive start times and is sent to HubSpot. Templated.
    :param locale: Locale for dates in the confirmation (``"en-us"``). Templated.
    :param form_fields: Answers to the page's questions: ``[{"name", "value"}]`` or ``{name: value}``.
        Templated.
    :param legal_consent_responses: ``[{"communicationTypeId", "consented"}]``. Templated.
    :param likely_available_user_ids: HubSpot user IDs to prefer on team pages. Templated.
    :param earliest: With ``"next_available"``: the slot starts at or after this (default: now). Aware
        ``datetime``, ISO 8601, epoch milliseconds, or naive (wall clock in ``timezone``). Templated.
    :param latest: With ``"next_available"``: the meeting ends at or before this (default: open end, up
        to 12 months ahead). Same forms as ``earliest``. Templated.
    :param max_slot_attempts: With ``"next_available"``: booking POSTs to send at most when slots are
        taken by others before our booking arrives; then the task fails (and Airflow may retry it).
    :param hubspot_conn_id: Connection to HubSpot. Templated.
    :param api_version: Scheduler API version (``"2026-09"``, ``"2026-03"``, ``"v3"``); default: the
        connection's ``api_version`` extra.
    :param validate_against_page: First read the page (one GET) and reject a duration, missing answer,
        missing consent or start time the page would refuse, quoting its options.
    :param allow_offline: Accept HubSpot's ``isOffline`` answer (host calendar disconnected, nothing on
        any calendar) with a warning instead of failing.
    :param allow_resend: When HubSpot's CRM cannot settle whether an unanswered booking request (timeout,
        dropped connection, 5xx) booked the meeting, send it (again) instead of failing "outcome
        unknown, not re-sent". Risks a duplicate. Off by default: a retried or cleared task first reads
        this task's booking ledger (Airflow 3.3+: the answer an earlier try recorded is returned, an
        earlier send without an answer is settled through the CRM) or, on older Airflow, checks the
        CRM (scope ``crm.objects.contacts.read``), and returns a found meeting with ``"reconciled": true``.
    :param booking_key: Books at most once per key and HubSpot portal, across DAG runs, DAGs and tasks:
        a repeat returns the first booking with ``"reconciled": true``. E.g.
        ``"lead-{{ params.lead_id }}-intro"``. Airflow 3.3+: recorded in the asset state store of the
        ``hubspot-scheduler-booking-keys`` asset (added to this task's inlets); older Airflow: checked
        against HubSpot's CRM (this contact, page and start). Templated.
    :param crm_index_lag_seconds: How long HubSpot's CRM search may take to show a new meeting; a
        "not found" counts only after it (default 30).
    :param validate_only: Validate and return the JSON body that would be sent; book nothing. Sends no
        request (unless ``validate_against_page``, whose GET only reads, or ``"next_available"``, which
        reads availability to show the body for the slot free now). Templated
        (``"{{ params.dry_run }}"``). Named like the Google providers' ``validate_only``: ``dry_run`` is
        BaseOperator's method that ``airflow tasks test --dry-run`` calls.
    :param dry_run: Deprecated spelling of ``validate_only`` (0.1).

    Assets in ``outlets`` (e.g. :func:`~hubspot_scheduler_provider.asset_events.booking_asset`) get one
    event per booking, ``extra`` = slug, start, duration, ``calendarEventId``, ``contactId``,
    ``reconciled`` (never the email); a validation-only run or another run's ``booking_key`` booking
    emits none (:mod:`~hubspot_scheduler_provider.asset_events`).
    """

    template_fields: Sequence[str] = (
        "payload",
        *BOOKING_KEYWORDS,
        "earliest",
        "latest",
        "hubspot_conn_id",
        "booking_key",
        "validate_only",
    )
    template_fields_renderers = {
        "payload": "json",
        "form_fields": "json",
        "legal_consent_responses": "json",
        "likely_available_user_ids": "json",
    }
    operator_extra_links = (HubSpotContactLink(), HubSpotWebConferenceLink())
    ui_color = "#ff7a59"

    def __init__(
        self,
        *,
        payload: Any = None,
        slug: str | None = None,
        contact_email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        start_time: Any = None,
        duration: Any = None,
        timezone: str | None = None,
        locale: str | None = None,
        form_fields: Any = None,
        legal_consent_responses: Any = None,
        likely_available_user_ids: Any = None,
        hubspot_conn_id: str = "hubspot_default",
        api_version: str | None = None,
        validate_against_page: bool = False,
        allow_offline: bool = False,
        allow_resend: bool = False,
        validate_only: bool | str = False,
        dry_run: bool | str | None = None,
        earliest: Any = None,
        latest: Any = None,
        max_slot_attempts: int = 3,
        booking_key: str | None = None,
        crm_index_lag_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        if booking_key is not None:
            kwargs["inlets"] = _with_booking_keys_asset(kwargs.get("inlets"))
        # One event per booking, through an alias per declared asset (asset_events explains why).
        kwargs["outlets"], booking_assets = asset_events.route_outlets(kwargs.get("outlets"))
        super().__init__(**kwargs)
        self._booking_assets = booking_assets
        # Only store: no connection lookup, no HubSpot call at DAG-parse time.
        self.payload = payload
        self.slug = slug
        self.contact_email = contact_email
        self.first_name = first_name
        self.last_name = last_name
        self.start_time = start_time
        self.duration = duration
        self.timezone = timezone
        self.locale = locale
        self.form_fields = form_fields
        self.legal_consent_responses = legal_consent_responses
        self.likely_available_user_ids = likely_available_user_ids
        self.hubspot_conn_id = hubspot_conn_id
        self.api_version = api_version
        self.validate_against_page = validate_against_page
        self.allow_offline = allow_offline
        self.allow_resend = allow_resend
        if dry_run is not None:
            warnings.warn(
                "BookMeetingOperator(dry_run=...) is deprecated: use validate_only=... (dry_run is "
                "BaseOperator's method)",
                AirflowProviderDeprecationWarning,
                stacklevel=2,
            )
            validate_only = dry_run
        self.validate_only = validate_only
        self.earliest = earliest
        self.latest = latest
        if (
            isinstance(max_slot_attempts, bool)
            or not isinstance(max_slot_attempts, int)
            or max_slot_attempts < 1
        ):
            raise BookingInputError(
                "max_slot_attempts", f"expected a whole number >= 1, got {max_slot_attempts!r}"
            )
        self.max_slot_attempts = max_slot_attempts
        self.booking_key = booking_key
        self.crm_index_lag_seconds = crm_index_lag_seconds

    def build_booking(self) -> MeetingBooking:
        """The validated booking from the rendered ``payload`` and keywords (raises ``BookingInputError``).

        With ``start_time="next_available"`` its ``start_time`` is a placeholder for the slot chosen in
        ``execute``; every other field is checked all the same.
        """
        return self._read_booking()[0]

    def _read_booking(self) -> tuple[MeetingBooking, bool]:
        """The booking, and whether its start is ``next_available`` (keyword or payload ``startTime``)."""
        from hubspot_scheduler_provider.booking_input import (
            RawValue,
            collect_booking_input,
            normalise_booking,
        )

        overrides = {keyword: getattr(self, keyword) for keyword in BOOKING_KEYWORDS}
        collected = collect_booking_input(self.payload, overrides)
        start = collected.get("start_time")
        next_available = start is not None and _is_next_available(start.value)
        if start is not None and next_available:
            collected["start_time"] = RawValue(start.source, datetime.now(timezone.utc))
        elif start is not None:
            for field in ("earliest", "latest"):
                if getattr(self, field) is not None:
                    raise BookingInputError(
                        field,
                        f"only used with start_time={NEXT_AVAILABLE!r}; this booking gives its start time",
                    )
        return normalise_booking(collected), next_available

    def execute(self, context: Context) -> dict[str, Any]:
        from hubspot_scheduler_provider.booking_flow import BookingFlow
        from hubspot_scheduler_provider.ledger import key_ledger, task_ledger, writer_of
        from hubspot_scheduler_provider.reconcile import is_repeat_attempt

        start_run_links(self)
        booking, next_available = self._read_booking()
        from hubspot_scheduler_provider.fields import parse_switch

        dry_run = parse_switch("validate_only", self.validate_only)
        allow_offline = parse_switch("allow_offline", self.allow_offline)
        validate_against_page = parse_switch("validate_against_page", self.validate_against_page)
        booking_key = _booking_key(self.booking_key)
        with self.hook_closed_after() as hook:
            query = self._slot_query(booking) if next_available else None
            if dry_run:
                if query is not None:
                    booking = self._with_slot_free_now(context, hook, booking, query)
                elif validate_against_page:
                    self._check_against_page(hook, booking)
                return self._dry_run(hook, booking)
            flow = BookingFlow(
                hook,
                log=self.log,
                ledger=task_ledger(context),
                repeat=is_repeat_attempt(context),
                allow_resend=parse_switch("allow_resend", self.allow_resend),
                key_ledger=None if booking_key is None else self._key_ledger(context, hook, key_ledger),
                index_lag_seconds=self.crm_index_lag_seconds,
                writer=writer_of(context),
            )
            prepare = (lambda b: self._check_against_page(hook, b)) if validate_against_page else None
            if query is not None:
                booking, result = flow.book_next_available(
                    booking,
                    query,
                    max_attempts=self.max_slot_attempts,
                    booking_key=booking_key,
                    start_between=self._window_of_earlier_tries(context, query),
                    prepare=prepare,
                )
                self._push_slot(context, query, booking.start_time)
            else:
                result = flow.book(booking, booking_key=booking_key, prepare=prepare)
            self._log_booking(booking, result)
            if result.is_offline:
                self._handle_offline(booking, result, allow_offline)
            flow.record_links(result, self._persist_links(context, hook, result))
            if asset_events.emits(result):
                extra = asset_events.booking_extra(result.raw, slug=booking.slug)
                asset_events.emit(context, self._booking_assets, [extra])
            return result.raw

    @staticmethod
    def _key_ledger(context: Context, hook: HubSpotSchedulerHook, key_ledger: Any) -> Any:
        """The cross-run key records for this portal (Airflow 3.3+), else None (the CRM is checked)."""
        portal_id = hook.get_portal_id()
        if not portal_id:
            raise BookingInputError(
                "booking_key", "needs the HubSpot portal id: set the connection's portal_id extra"
            )
        return key_ledger(context, portal_id)

    def _check_against_page(self, hook: HubSpotSchedulerHook, booking: MeetingBooking) -> None:
        from hubspot_scheduler_provider.page_check import check_against_page

        info = hook.get_booking_info(booking.slug, booking.timezone or "UTC")
        for note in check_against_page(booking, info):
            self.log.warning("%s", note)

    def _dry_run(self, hook: HubSpotSchedulerHook, booking: MeetingBooking) -> dict[str, Any]:
        # The connection's API version decides the wire unit of ``duration``; reading it sends nothing.
        body = booking.to_wire(hook.api_version)
        self.log.info(
            "Dry run: would book this on API %s; nothing sent:\n%s",
            hook.api_version.name,
            json.dumps(_masked_body(body), indent=2, sort_keys=True),
        )
        return body

    # --- start_time="next_available" -------------------------------------------------------------------

    def _slot_query(self, template: MeetingBooking) -> SlotQuery:
        """The window, checked (``BookingInputError`` naming ``earliest``/``latest``) before any request."""
        from hubspot_scheduler_provider.availability import SlotQuery

        return SlotQuery.parse(
            template.slug, template.duration, template.timezone or "UTC", self.earliest, self.latest
        )

    def _with_slot_free_now(
        self, context: Context, hook: HubSpotSchedulerHook, template: MeetingBooking, query: SlotQuery
    ) -> MeetingBooking:
        from hubspot_scheduler_provider.availability import find_slot_starts
        from hubspot_scheduler_provider.booking_flow import at

        starts = find_slot_starts(hook, query, limit=1)
        if not starts:
            raise query.no_free_slot()
        slot = query.to_datetime(starts[0])
        self.log.info("Dry run: the first free slot on page %r is %s", query.slug, slot.isoformat())
        booking = at(template, slot)
        if self.validate_against_page:
            self._check_against_page(hook, booking)
        self._push_slot(context, query, slot)
        return booking

    @staticmethod
    def _window_of_earlier_tries(
        context: Context, query: SlotQuery
    ) -> tuple[datetime | None, datetime | None]:
        """Where an earlier try's slot can start: from ``earliest`` (else from when the run was due, before
        any try ran) to the last start whose meeting ends by ``latest``."""
        if query.earliest_ms is not None:
            earliest: datetime | None = _from_ms(query.earliest_ms)
        else:
            # Stable across retries and clears, unlike start dates; Airflow 2 has no run_after.
            dag_run = context.get("dag_run")
            earliest = (
                getattr(dag_run, "run_after", None)
                or context.get("data_interval_end")
                or context.get("logical_date")
            )
        latest = None if query.latest_ms is None else _from_ms(query.latest_ms - query.duration_ms)
        return earliest, latest

    def _push_slot(self, context: Context, query: SlotQuery, slot: datetime) -> None:
        # In the booker's zone, as people (and HubSpot's page) read it; HubSpot's answer has it in UTC.
        in_zone = query.to_datetime(int(slot.timestamp() * 1000))
        context["ti"].xcom_push(key="slot", value=in_zone.isoformat())

    def _log_booking(self, booking: MeetingBooking, result: BookingOutcome) -> None:
        raw = result.raw
        self.log.info(
            "Booked slug=%s start=%s duration_ms=%s contact=%s calendarEventId=%s correlationId=%s",
            booking.slug,
            raw.get("start", booking.start_time.isoformat()),
            raw.get("duration", booking.duration),
            mask_emails(booking.email),
            raw.get("calendarEventId") or "-",
            result.correlation_id or "-",
        )

    def _handle_offline(self, booking: MeetingBooking, result: BookingOutcome, allow_offline: bool) -> None:
        message = (
            f"HubSpot answered isOffline=true for page {booking.slug!r}: the host's calendar is "
            "disconnected, so nothing is on any calendar (calendarEventId is empty; correlationId="
            f"{result.correlation_id or '-'})."
        )
        if not allow_offline:
            # Not retried: a retry would create another offline booking, not a calendar event.
            raise AirflowFailException(
                f"{message} Reconnect the host's calendar in HubSpot, or set allow_offline=True to accept."
            )
        self.log.warning("%s Accepted because allow_offline=True.", message)

    def _persist_links(
        self, context: Context, hook: HubSpotSchedulerHook, result: BookingOutcome
    ) -> dict[str, str]:
        """Show the extra links; return them (name -> URL) for the ledger. Never fails the task: the
        meeting is booked, and a retry must not book it twice."""
        links = dict(result.links or {})
        conference_url = result.raw.get("webConferenceUrl")
        if isinstance(conference_url, str) and conference_url:
            links[HubSpotWebConferenceLink.name] = conference_url
        contact_id = result.raw.get("contactId")
        if contact_id and HubSpotContactLink.name not in links:
            try:
                portal_id = hook.get_portal_id()
            except Exception as err:
                self.log.warning("No HubSpot contact link: could not look up the portal id (%s)", err)
                portal_id = None
            if portal_id:
                links[HubSpotContactLink.name] = HubSpotContactLink.url(portal_id, contact_id, hook.ui_domain)
        if HubSpotWebConferenceLink.name in links:
            HubSpotWebConferenceLink.persist(context, self, links[HubSpotWebConferenceLink.name])
        if HubSpotContactLink.name in links:
            HubSpotContactLink.persist(context, self, links[HubSpotContactLink.name])
        return links


def _is_next_available(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == NEXT_AVAILABLE


def _from_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)


def _with_booking_keys_asset(inlets: Any) -> Any:
    """``inlets`` plus the booking keys asset, whose state store holds the keys (Airflow 3.3+ only)."""
    from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_3_PLUS

    if not AIRFLOW_V_3_3_PLUS:
        return inlets
    from hubspot_scheduler_provider.ledger import booking_keys_asset

    listed = list(inlets) if isinstance(inlets, (list, tuple)) else ([] if inlets is None else [inlets])
    return [*listed, booking_keys_asset()]


def _booking_key(value: Any) -> str | None:
    """The rendered ``booking_key``: None, or a non-empty text of at most 1,000 characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BookingInputError("booking_key", f"expected a non-empty text, got {value!r}")
    if len(value) > 1000:
        raise BookingInputError("booking_key", f"at most 1000 characters, got {len(value)}")
    return value.strip()


def _masked_body(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "email": mask_emails(body["email"])} if "email" in body else body
