"""``BookMeetingsOperator``: book a list of meetings in one task, concurrently, paced to HubSpot's limit.

Module imports stay cheap (DAG files importing this are parsed often): the hook, the batch engine,
pydantic models and input parsing load inside ``execute``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator

from hubspot_scheduler_provider._validation import require_positive_number, require_whole_number
from hubspot_scheduler_provider.operators.book_meeting import _BOOKING_KEYWORDS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from hubspot_scheduler_provider.batch import BatchReport
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

#: Booking fields that differ per person; every other booking keyword may be set once for all items.
_PER_PERSON_KEYWORDS = ("contact_email", "first_name", "last_name", "start_time")
_SHARED_KEYWORDS = tuple(keyword for keyword in _BOOKING_KEYWORDS if keyword not in _PER_PERSON_KEYWORDS)
_XCOM_RETURN_KEY = "return_value"


class BookMeetingsOperator(BaseOperator):
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

    On a retry (or a cleared task), every item is first looked up in HubSpot's CRM, so what an earlier
    attempt booked is reported, not booked again. That costs up to two CRM reads per item (contact by
    email, meeting search), paced like the bookings, and needs the scope ``crm.objects.contacts.read``.

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
    :param max_workers: Concurrent requests (threads sharing one keep-alive connection pool).
    :param max_requests_per_window: Requests allowed per ``window_seconds``; default: HubSpot's
        ``X-HubSpot-RateLimit-Max`` of the first answer (until then one item at a time), else 100. Lower it
        when other jobs use the same HubSpot app at the same time.
    :param window_seconds: The rate-limit window; default: ``X-HubSpot-RateLimit-Interval-Milliseconds``
        of the first answer, else 10.
    :param fail_on_item_failure: Fail the task at the end when any item failed (default).
    :param allow_offline: Accept HubSpot's ``isOffline`` answer (host calendar disconnected) as booked.
    :param progress_interval_seconds: How often progress (count, rate, ETA) is logged.
    """

    template_fields: Sequence[str] = ("payloads", *_SHARED_KEYWORDS, "hubspot_conn_id")
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
        max_workers: int = 8,
        max_requests_per_window: int | None = None,
        window_seconds: float | None = None,
        fail_on_item_failure: bool = True,
        allow_offline: bool = False,
        progress_interval_seconds: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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
        self.max_workers = max_workers
        self.max_requests_per_window = max_requests_per_window
        self.window_seconds = window_seconds
        self.fail_on_item_failure = fail_on_item_failure
        self.allow_offline = allow_offline
        self.progress_interval_seconds = progress_interval_seconds

    def get_hook(self, **kwargs: Any) -> HubSpotSchedulerHook:
        from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

        return HubSpotSchedulerHook(hubspot_conn_id=self.hubspot_conn_id, **kwargs)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from hubspot_scheduler_provider.batch import BatchBooker
        from hubspot_scheduler_provider.booking_input import build_booking
        from hubspot_scheduler_provider.exactly_once import is_repeat_attempt
        from hubspot_scheduler_provider.pacing import (
            FALLBACK_MAX_REQUESTS,
            FALLBACK_WINDOW_SECONDS,
            PacedAdapter,
            SlidingWindowLimiter,
        )

        items = _items(self.payloads)
        limiter = SlidingWindowLimiter(
            self.max_requests_per_window or FALLBACK_MAX_REQUESTS,
            self.window_seconds or FALLBACK_WINDOW_SECONDS,
        )
        # The limiter paces every request of the session; the hook's own pause on a low
        # X-HubSpot-RateLimit-Remaining would only leave part of the limit unused on top of it
        # (pacing.py explains why both mechanisms exist).
        hook = self.get_hook(
            adapter=PacedAdapter(limiter, pool_maxsize=self.max_workers), pace_on_remaining=False
        )
        overrides = {keyword: getattr(self, keyword) for keyword in _SHARED_KEYWORDS}
        repeat = is_repeat_attempt(context)
        if repeat:
            self.log.info(
                "Repeated attempt: every item is looked up in HubSpot's CRM before booking (up to 2 reads "
                "per item), so nothing an earlier attempt booked is booked again"
            )
        booker = BatchBooker(
            hook,
            build=lambda item: build_booking(item, overrides),
            limiter=limiter,
            learn_limit=self.max_requests_per_window is None or self.window_seconds is None,
            max_workers=self.max_workers,
            attempt_is_repeat=repeat,
            allow_offline=self.allow_offline,
            progress_interval_seconds=self.progress_interval_seconds,
            log=self.log,
        )
        try:
            report = booker.run(items)
        finally:
            hook.close()
        self._log_summary(report)
        if report.failed and self.fail_on_item_failure:
            # Downstream tasks (trigger_rule="all_done") can still read what was booked and what failed.
            context["ti"].xcom_push(key=_XCOM_RETURN_KEY, value=report.results)
            raise _failure(report)
        return report.results

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


def _items(payloads: Any) -> Iterable[Any]:
    """The rendered ``payloads`` as an iterable of items (not copied: XCom sequences stay lazy)."""
    from hubspot_scheduler_provider.booking_input import decode_text
    from hubspot_scheduler_provider.errors import BookingInputError

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
