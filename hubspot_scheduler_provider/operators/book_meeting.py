"""``BookMeetingOperator``: book one meeting on a HubSpot meeting page, at a given start time or at the
first free slot of a window (``start_time="next_available"``).

Module imports stay cheap (DAG files importing this are parsed often): the hook, pydantic models, input
parsing and availability load inside ``execute``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator

from hubspot_scheduler_provider.errors import BookingInputError, mask_emails
from hubspot_scheduler_provider.links import HubSpotContactLink, HubSpotWebConferenceLink, start_run_links

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context
    from pendulum import DateTime

    from hubspot_scheduler_provider.availability import SlotQuery
    from hubspot_scheduler_provider.exactly_once import BookingOutcome
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook
    from hubspot_scheduler_provider.models import MeetingBooking

#: ``start_time`` (keyword or payload ``startTime``) that books the first free slot in the window.
NEXT_AVAILABLE = "next_available"

#: Operator keywords for the booking's fields; kept equal to ``booking_input.BOOKING_KEYWORDS`` (a test
#: checks) but spelled out so importing this module does not import the input parser.
_BOOKING_KEYWORDS = (
    "slug",
    "contact_email",
    "first_name",
    "last_name",
    "timezone",
    "start_time",
    "duration",
    "locale",
    "form_fields",
    "legal_consent_responses",
    "likely_available_user_ids",
)


class BookMeetingOperator(BaseOperator):
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
    :param validate_against_page: First read the page (one GET) and reject a duration, missing answer,
        missing consent or start time the page would refuse, quoting its options.
    :param allow_offline: Accept HubSpot's ``isOffline`` answer (host calendar disconnected, nothing on
        any calendar) with a warning instead of failing.
    :param allow_resend: When HubSpot's CRM cannot confirm whether an unanswered booking request (timeout,
        dropped connection, 5xx) or an earlier try booked the meeting, send the booking (again) instead of
        failing "outcome unknown, not re-sent". Risks a duplicate. Retries and cleared tasks always check
        the CRM first (scope ``crm.objects.contacts.read``) and return a found meeting with
        ``"reconciled": true``. With ``"next_available"`` a retry looks for a meeting of the contact (of
        this length) starting anywhere in the window (from ``earliest``, else from when the DAG run was
        due): an earlier try may have booked a slot this try would not choose. Such a meeting counts as
        booked, even one booked elsewhere.
    :param dry_run: Validate and return the JSON body that would be sent; book nothing. Sends no request
        (unless ``validate_against_page``, whose GET only reads, or ``"next_available"``, which reads
        availability to show the body for the slot free now). Templated (``"{{ params.dry_run }}"``).
    """

    # ``dry_run_only``, not ``dry_run``: that name is BaseOperator's dry_run() method (``airflow tasks test
    # --dry-run`` calls it), so the ``dry_run`` argument is stored under this attribute.
    template_fields: Sequence[str] = (
        "payload",
        *_BOOKING_KEYWORDS,
        "earliest",
        "latest",
        "hubspot_conn_id",
        "dry_run_only",
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
        validate_against_page: bool = False,
        allow_offline: bool = False,
        allow_resend: bool = False,
        dry_run: bool = False,
        earliest: Any = None,
        latest: Any = None,
        max_slot_attempts: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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
        self.validate_against_page = validate_against_page
        self.allow_offline = allow_offline
        self.allow_resend = allow_resend
        self.dry_run_only = dry_run
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

    def get_hook(self) -> HubSpotSchedulerHook:
        from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

        return HubSpotSchedulerHook(hubspot_conn_id=self.hubspot_conn_id)

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

        overrides = {keyword: getattr(self, keyword) for keyword in _BOOKING_KEYWORDS}
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
        from hubspot_scheduler_provider.exactly_once import is_repeat_attempt

        start_run_links(self)
        booking, next_available = self._read_booking()
        hook = self.get_hook()
        try:
            dry_run = _switch("dry_run", self.dry_run_only)
            repeat = is_repeat_attempt(context)
            if next_available:
                query = self._slot_query(booking)
                if dry_run:
                    return self._dry_run(hook, self._with_slot_free_now(context, hook, booking, query))
                booking, result = self._book_next_available(context, hook, booking, query, repeat=repeat)
            else:
                # A repeated try skips the page check: an earlier try may have taken the slot itself,
                # which the CRM reconciliation in _book recognises and the page check would reject.
                if self.validate_against_page and not repeat:
                    self._check_against_page(hook, booking)
                if dry_run:
                    return self._dry_run(hook, booking)
                result = self._book(hook, booking, attempt_is_repeat=repeat)
            self._log_booking(booking, result)
            if result.raw.get("isOffline"):
                self._handle_offline(booking, result)
            self._persist_links(context, hook, result.raw)
            return result.raw
        finally:
            hook.close()

    def _check_against_page(self, hook: HubSpotSchedulerHook, booking: MeetingBooking) -> None:
        from hubspot_scheduler_provider.booking_input import check_against_page

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

    def _book(
        self, hook: HubSpotSchedulerHook, booking: MeetingBooking, *, attempt_is_repeat: bool
    ) -> BookingOutcome:
        # Never a blind re-send: unknown outcomes and repeated tries are settled through HubSpot's CRM.
        from hubspot_scheduler_provider.exactly_once import book_exactly_once

        return book_exactly_once(
            hook,
            booking,
            attempt_is_repeat=attempt_is_repeat,
            allow_resend=self.allow_resend,
            log=self.log,
        )

    # --- start_time="next_available" -------------------------------------------------------------------

    def _slot_query(self, template: MeetingBooking) -> SlotQuery:
        """The window, checked (``BookingInputError`` naming ``earliest``/``latest``) before any request."""
        from hubspot_scheduler_provider.availability import SlotQuery

        return SlotQuery.parse(
            template.slug, template.duration, template.timezone or "UTC", self.earliest, self.latest
        )

    def _book_next_available(
        self,
        context: Context,
        hook: HubSpotSchedulerHook,
        template: MeetingBooking,
        query: SlotQuery,
        *,
        repeat: bool,
    ) -> tuple[MeetingBooking, BookingOutcome]:
        """Book the first free slot in the window (next one when another booker wins, bounded)."""
        from hubspot_scheduler_provider.availability import book_next_available
        from hubspot_scheduler_provider.exactly_once import find_earlier_booking

        if repeat:
            # An earlier try may have booked a slot this try would not pick (it is no longer free), and
            # XComs of earlier tries are gone; so look for the contact's meeting in the whole window.
            earlier = find_earlier_booking(
                hook,
                template,
                allow_resend=self.allow_resend,
                log=self.log,
                start_between=self._window_of_earlier_tries(context, query),
            )
            if earlier is not None:
                # The reconciled answer's "start" is the CRM meeting's, formatted "...Z".
                booked_at = datetime.fromisoformat(earlier.raw["start"].replace("Z", "+00:00"))
                self._push_slot(context, query, booked_at)
                return _at(template, booked_at), earlier

        def booking_for(slot: DateTime) -> MeetingBooking:
            booking = _at(template, slot)
            if self.validate_against_page:
                self._check_against_page(hook, booking)
            return booking

        slot, result = book_next_available(
            hook,
            booking_for,
            slug=query.slug,
            duration=query.duration_ms,
            timezone=query.timezone,
            earliest=self.earliest,
            latest=self.latest,
            max_attempts=self.max_slot_attempts,
            log=self.log,
            # Each POST still goes through exactly-once handling of unknown outcomes; the repeat check
            # already covered the whole window above, so it need not look at each slot again.
            book=lambda booking: self._book(hook, booking, attempt_is_repeat=False),
        )
        self._push_slot(context, query, slot)
        return _at(template, slot), result

    def _with_slot_free_now(
        self, context: Context, hook: HubSpotSchedulerHook, template: MeetingBooking, query: SlotQuery
    ) -> MeetingBooking:
        from hubspot_scheduler_provider.availability import find_slot_starts

        starts = find_slot_starts(hook, query, limit=1)
        if not starts:
            raise query.no_free_slot()
        slot = query.to_datetime(starts[0])
        self.log.info("Dry run: the first free slot on page %r is %s", query.slug, slot.isoformat())
        booking = _at(template, slot)
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

    def _handle_offline(self, booking: MeetingBooking, result: BookingOutcome) -> None:
        message = (
            f"HubSpot answered isOffline=true for page {booking.slug!r}: the host's calendar is "
            "disconnected, so nothing is on any calendar (calendarEventId is empty; correlationId="
            f"{result.correlation_id or '-'})."
        )
        if not self.allow_offline:
            # Not retried: a retry would create another offline booking, not a calendar event.
            raise AirflowFailException(
                f"{message} Reconnect the host's calendar in HubSpot, or set allow_offline=True to accept."
            )
        self.log.warning("%s Accepted because allow_offline=True.", message)

    def _persist_links(self, context: Context, hook: HubSpotSchedulerHook, raw: dict[str, Any]) -> None:
        # The meeting is booked: nothing here may fail the task, or a retry would book it twice.
        conference_url = raw.get("webConferenceUrl")
        if isinstance(conference_url, str) and conference_url:
            HubSpotWebConferenceLink.persist(context, self, conference_url)
        contact_id = raw.get("contactId")
        if not contact_id:
            return
        try:
            portal_id = hook.get_portal_id()
        except Exception as err:
            self.log.warning("No HubSpot contact link: could not look up the portal id (%s)", err)
            return
        if portal_id:
            url = HubSpotContactLink.url(portal_id, contact_id, hook.ui_domain)
            HubSpotContactLink.persist(context, self, url)


def _is_next_available(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == NEXT_AVAILABLE


def _at(template: MeetingBooking, slot: datetime) -> MeetingBooking:
    """``template`` starting at ``slot`` (kept in UTC, as parsed start times are)."""
    return template.model_copy(update={"start_time": slot.astimezone(timezone.utc)})


def _from_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)


def _switch(field: str, value: Any) -> bool:
    """A templated on/off flag: a bool, or the text a template renders one to (``"False"`` is false)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BookingInputError(field, f"expected true or false, got {value!r}")


def _masked_body(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "email": mask_emails(body["email"])} if "email" in body else body
