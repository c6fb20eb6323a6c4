"""``BookMeetingsOperator``: book a list of meetings in one task, concurrently, paced to HubSpot's limit.

Module imports stay cheap (DAG files importing this are parsed often): the hook, the batch engine,
pydantic models and input parsing load inside ``execute``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator

from hubspot_scheduler_provider import asset_events
from hubspot_scheduler_provider._validation import require_positive_number, require_whole_number
from hubspot_scheduler_provider.booking_fields import BOOKING_KEYWORDS
from hubspot_scheduler_provider.operators._base import HubSpotHookMixin
from hubspot_scheduler_provider.operators.book_meeting import _with_booking_keys_asset

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from hubspot_scheduler_provider.batch import BatchReport

#: Booking fields that differ per person; every other booking keyword may be set once for all items.
_PER_PERSON_KEYWORDS = ("contact_email", "first_name", "last_name", "start_time")
_SHARED_KEYWORDS = tuple(keyword for keyword in BOOKING_KEYWORDS if keyword not in _PER_PERSON_KEYWORDS)
_XCOM_RETURN_KEY = "return_value"


class BookMeetingsOperator(HubSpotHookMixin, BaseOperator):
    """Book many meetings in one task and return one result per item, in input order.

    Items are booked concurrently by ``max_workers`` threads sharing one HubSpot session, paced so the
    account's rate limit is not exceeded (learned from HubSpot's ``X-HubSpot-RateLimit-*`` headers
    unless given). Each item is built exactly as ``BookMeetingOperator`` builds its booking; a bad item
    fails alone, naming its field, before anything is sent for it.

    Results (XCom ``return_value``): HubSpot's booking JSON for each booked item (``duration`` in ms;
    on a repeated attempt, an item booked earlier is the CRM view with ``"reconciled": true``), and
    ``{"index": i, "error": "...", "field": "..."}`` for each failed one (``field`` for bad input).
    If any item failed the task fails at the end, after pushing the results
    (``fail_on_item_failure=False`` succeeds instead); it is not retried when every failure is one a
    retry cannot fix (bad input, a slot HubSpot refuses, a disconnected calendar).

    On a retry (or a cleared task) nothing an earlier attempt booked is booked again. Airflow 3.3+:
    every item is recorded in this task's booking ledger, so a retry returns each recorded answer
    without calling HubSpot, settles through the CRM only the items sent without an answer (after
    booking the rest), and books the others. Older Airflow: every item is first looked up in HubSpot's
    CRM (up to two reads per item, paced like the bookings; scope ``crm.objects.contacts.read``).

    :param payloads: The bookings: a list of dicts (HubSpot's camelCase or snake_case keys, as for
        ``BookMeetingOperator``'s ``payload``), JSON strings or ``MeetingBooking`` objects; or a JSON array;
        or an ``XComArg`` of one. Templated.
    :param slug: Meeting page for every item. Templated.
    :param duration: Milliseconds, ``timedelta`` or ISO 8601 (``"PT30M"``) for every item. Templated.
    :param timezone: IANA zone for every item. Templated.
    :param locale: Locale for every item. Templated.
    :param form_fields: Answers for every item. Templated.
    :param legal_consent_responses: Consents for every item. Templated.
    :param likely_available_user_ids: Preferred hosts for every item. Templated.
        (Like ``BookMeetingOperator``'s keywords, these win over the same key in an item.)
    :param hubspot_conn_id: Connection to HubSpot. Templated.
    :param api_version: Scheduler API version; default: the connection's ``api_version`` extra.
    :param max_workers: Concurrent requests (threads sharing one keep-alive connection pool).
    :param max_requests_per_window: Requests allowed per ``window_seconds``; default: HubSpot's
        ``X-HubSpot-RateLimit-Max`` of the first answer (until then one item at a time), else 100. Lower it
        when other jobs use the same HubSpot app at the same time.
    :param window_seconds: The rate-limit window; default: ``X-HubSpot-RateLimit-Interval-Milliseconds``
        of the first answer, else 10.
    :param fail_on_item_failure: Fail the task at the end when any item failed (default).
    :param allow_offline: Accept HubSpot's ``isOffline`` answer (host calendar disconnected) as booked.
    :param progress_interval_seconds: How often progress (count, rate, ETA) is logged.
    :param booking_key: Cross-run booking keys (see ``BookMeetingOperator``): a ``str.format`` pattern
        over each item's fields, e.g. ``"lead-{email}-{startTime}"``; an item's own ``booking_key``
        (or ``bookingKey``) wins, so ``"{booking_key}"`` uses each item's own. Templated.
    :param crm_index_lag_seconds: How long HubSpot's CRM search may take to show a new meeting
        (default 30).

    Assets in ``outlets`` get one event per booked item (failed items and another run's
    ``booking_key`` bookings none), as for ``BookMeetingOperator``
    (:mod:`~hubspot_scheduler_provider.asset_events`).
    """

    template_fields: Sequence[str] = ("payloads", *_SHARED_KEYWORDS, "hubspot_conn_id", "booking_key")
    template_fields_renderers = {
        "payloads": "json",
        "form_fields": "json",
        "legal_consent_responses": "json",
        "likely_available_user_ids": "json",
    }
    ui_color = "#ff7a59"

    def __init__(
        self,
        *,
        payloads: Any,
        slug: str | None = None,
        duration: Any = None,
        timezone: str | None = None,
        locale: str | None = None,
        form_fields: Any = None,
        legal_consent_responses: Any = None,
        likely_available_user_ids: Any = None,
        hubspot_conn_id: str = "hubspot_default",
        api_version: str | None = None,
        max_workers: int = 8,
        max_requests_per_window: int | None = None,
        window_seconds: float | None = None,
        fail_on_item_failure: bool = True,
        allow_offline: bool = False,
        progress_interval_seconds: float = 30.0,
        booking_key: str | None = None,
        crm_index_lag_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        # Always (Airflow 3.3+): any item may carry its own booking_key, known only when the task runs.
        kwargs["inlets"] = _with_booking_keys_asset(kwargs.get("inlets"))
        # One event per booking, through an alias per declared asset (asset_events explains why).
        kwargs["outlets"], booking_assets = asset_events.route_outlets(kwargs.get("outlets"))
        super().__init__(**kwargs)
        self._booking_assets = booking_assets
        require_whole_number("max_workers", max_workers, minimum=1)
        if max_requests_per_window is not None:
            require_whole_number("max_requests_per_window", max_requests_per_window, minimum=1)
        if window_seconds is not None:
            require_positive_number("window_seconds", window_seconds)
        require_positive_number("progress_interval_seconds", progress_interval_seconds)
        # Only store: no connection lookup, no HubSpot call at DAG-parse time.
        self.payloads = payloads
        self.slug = slug
        self.duration = duration
        self.timezone = timezone
        self.locale = locale
        self.form_fields = form_fields
        self.legal_consent_responses = legal_consent_responses
        self.likely_available_user_ids = likely_available_user_ids
        self.hubspot_conn_id = hubspot_conn_id
        self.api_version = api_version
        self.max_workers = max_workers
        self.max_requests_per_window = max_requests_per_window
        self.window_seconds = window_seconds
        self.fail_on_item_failure = fail_on_item_failure
        self.allow_offline = allow_offline
        self.progress_interval_seconds = progress_interval_seconds
        self.booking_key = booking_key
        self.crm_index_lag_seconds = crm_index_lag_seconds

    def hook_options(self) -> dict[str, Any]:
        # Every request of the batch's shared session is paced by the adapter's limiter; the hook's own
        # pause on a low X-HubSpot-RateLimit-Remaining would only leave part of the limit unused on top
        # of it (pacing.py explains why both mechanisms exist).
        return {"adapter": self._adapter, "pace_on_remaining": False}

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from hubspot_scheduler_provider.batch import BatchBooker
        from hubspot_scheduler_provider.batch_ledger import BatchLedger
        from hubspot_scheduler_provider.booking_flow import BookingFlow
        from hubspot_scheduler_provider.booking_input import build_booking
        from hubspot_scheduler_provider.ledger import TaskLedger, key_ledger, task_ledger, writer_of
        from hubspot_scheduler_provider.pacing import (
            FALLBACK_MAX_REQUESTS,
            FALLBACK_WINDOW_SECONDS,
            PacedAdapter,
            SlidingWindowLimiter,
        )
        from hubspot_scheduler_provider.reconcile import (
            CRM_INDEX_LAG_SECONDS,
            is_repeat_attempt,
            try_number_of,
        )
        from hubspot_scheduler_provider.redaction import redact

        items = _items(self.payloads)
        limiter = SlidingWindowLimiter(
            self.max_requests_per_window or FALLBACK_MAX_REQUESTS,
            self.window_seconds or FALLBACK_WINDOW_SECONDS,
        )
        self._adapter = PacedAdapter(limiter, pool_maxsize=self.max_workers)
        overrides = {keyword: getattr(self, keyword) for keyword in _SHARED_KEYWORDS}
        key_pattern = self.booking_key

        def build(item: Any) -> tuple[Any, str | None]:
            rest, key = _split_booking_key(item, key_pattern)
            return build_booking(rest, overrides), key

        repeat = is_repeat_attempt(context)
        ledger = task_ledger(context)
        batch_ledger = (
            BatchLedger(ledger, try_number=try_number_of(context)) if isinstance(ledger, TaskLedger) else None
        )
        lag = CRM_INDEX_LAG_SECONDS if self.crm_index_lag_seconds is None else self.crm_index_lag_seconds
        without_ledger = batch_ledger is None or not batch_ledger.durable
        if repeat and without_ledger:
            self.log.info(
                "Repeated attempt without a task state store: every item is looked up in HubSpot's CRM "
                "before booking (up to 2 reads per item), so nothing an earlier attempt booked is booked "
                "again"
            )
        with self.hook_closed_after() as hook:
            keys = key_ledger(context, _portal_id(hook)) if self._uses_keys(items) else None
            flow = BookingFlow(
                hook,
                log=self.log,
                ledger=batch_ledger,
                repeat=repeat,
                key_ledger=keys,
                index_lag_seconds=lag,
                index_settled=repeat and without_ledger,
                writer=writer_of(context),
                pace=limiter.reserved,
            )
            events = asset_events.BatchEvents()
            events.watch(flow)
            booker = BatchBooker(
                hook,
                build=build,
                flow=flow,
                ledger=batch_ledger,
                limiter=limiter,
                learn_limit=self.max_requests_per_window is None or self.window_seconds is None,
                max_workers=self.max_workers,
                allow_offline=self.allow_offline,
                progress_interval_seconds=self.progress_interval_seconds,
                log=self.log,
                index_wait_seconds=lag if repeat and without_ledger else 0.0,
                redact=redact,
            )
            report = booker.run(items)
        self._log_summary(report)
        asset_events.emit(context, self._booking_assets, events.extras(report.results))
        if report.failed and self.fail_on_item_failure:
            # Downstream tasks (trigger_rule="all_done") can still read what was booked and what failed.
            context["ti"].xcom_push(key=_XCOM_RETURN_KEY, value=report.results)
            raise _failure(report)
        return report.results

    def _uses_keys(self, items: Iterable[Any]) -> bool:
        """Whether any item has a booking key. A sequence (a list, a lazily read XCom sequence) is looked
        through once; a one-shot iterator is not consumed here: give ``booking_key`` to use keys there."""
        if self.booking_key is not None:
            return True
        if not isinstance(items, Sequence):
            return False
        return any(
            isinstance(item, Mapping) and ("booking_key" in item or "bookingKey" in item) for item in items
        )

    def _log_summary(self, report: BatchReport) -> None:
        total = len(report.results)
        rate = total / report.elapsed_seconds if report.elapsed_seconds > 0 else 0.0
        self.log.info(
            "Done: %d items in %.1f s (%.1f items/s): %d booked (%d of them found already booked), %d failed",
            total,
            report.elapsed_seconds,
            rate,
            report.booked,
            report.reconciled,
            report.failed,
        )


def _portal_id(hook: Any) -> str:
    """Booking keys are per portal: without its id, keys of different portals could collide."""
    from hubspot_scheduler_provider.errors import BookingInputError

    portal_id = hook.get_portal_id()
    if not portal_id:
        raise BookingInputError(
            "booking_key", "needs the HubSpot portal id: set the connection's portal_id extra"
        )
    return str(portal_id)


def _split_booking_key(item: Any, pattern: str | None) -> tuple[Any, str | None]:
    """``item`` without its ``booking_key``/``bookingKey``, and the item's key: its own, else
    ``pattern`` formatted with the item's fields (``"lead-{email}-{startTime}"``)."""
    from hubspot_scheduler_provider.errors import BookingInputError

    if not isinstance(item, Mapping):
        if pattern is not None:
            raise BookingInputError("booking_key", "a key pattern needs items that are dicts")
        return item, None
    own = item.get("booking_key", item.get("bookingKey"))
    rest = {k: v for k, v in item.items() if k not in ("booking_key", "bookingKey")}
    if own is None and pattern is not None:
        try:
            own = pattern.format(**{str(k): v for k, v in item.items()})
        except (KeyError, IndexError, ValueError) as error:
            raise BookingInputError(
                "booking_key", f"pattern {pattern!r} does not fit the item: {error}"
            ) from None
    if own is not None and (not isinstance(own, str) or not own.strip() or len(own) > 1000):
        raise BookingInputError("booking_key", "expected a non-empty text of at most 1000 characters")
    return rest, None if own is None else own.strip()


def _items(payloads: Any) -> Iterable[Any]:
    """The rendered ``payloads`` as an iterable of items (not copied: XCom sequences stay lazy)."""
    from hubspot_scheduler_provider.errors import BookingInputError
    from hubspot_scheduler_provider.fields import decode_text

    if isinstance(payloads, (str, bytes)):
        payloads = decode_text("payloads", payloads.decode() if isinstance(payloads, bytes) else payloads)
    if isinstance(payloads, Mapping):
        raise BookingInputError(
            "payloads",
            "expected a list of bookings, got one booking (a mapping); wrap it in a list, or use "
            "BookMeetingOperator",
        )
    if payloads is None or not isinstance(payloads, Iterable):
        raise BookingInputError(
            "payloads", f"expected a list of bookings (or an XComArg of one), got {type(payloads).__name__}"
        )
    return payloads


def _failure(report: BatchReport) -> AirflowException:
    listed = "; ".join(report.first_failures)
    more = report.failed - len(report.first_failures)
    message = (
        f"{report.failed} of {len(report.results)} bookings failed ({report.booked} booked): {listed}"
        + (f"; and {more} more" if more > 0 else "")
        + ". Every item's result is in XCom 'return_value'."
    )
    if report.aborted_by:
        message += f" Stopped early after {report.aborted_by}."
    if report.retryable_failures:
        return AirflowException(message + " A retry books only what is not booked yet.")
    # Bad input, slots HubSpot refuses, disconnected calendars: the same items would fail again.
    return AirflowFailException(message)
