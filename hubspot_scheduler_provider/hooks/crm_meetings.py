"""Managing booked meetings through the CRM: list them by creation time, read one, set its outcome.

HubSpot's Scheduler API ends at the booking: it has no "list bookings", cancel or reschedule. What a
booking leaves behind is a CRM meeting (``crm-meetings-v3.json``) recording how it was made:

* ``hs_engagement_source`` ``MEETINGS`` and ``hs_engagement_source_id`` the meeting page's ``linkId``;
* ``hubspot_owner_id``: the owner id of the host who got it;
* ``hs_unique_id``: the calendar event's id, i.e. the booking answer's ``calendarEventId`` (the
  scheduler spec's meeting properties: "The unique ID of the created calendar event");
* ``hs_createdate``: when it was booked; ``hs_meeting_outcome``: what became of it.

So new bookings are a CRM search on ``hs_createdate`` (:meth:`CrmMeetings.iter_booked_meetings`), and
cancelling or marking a no-show is a ``PATCH`` of ``hs_meeting_outcome``
(:meth:`CrmMeetings.set_meeting_outcome`), which is what integrations such as Cal.com's do.

HubSpot's search answers at most 200 results a page and at most 10,000 per query (paging past it is a
400). Listing goes in ``(hs_createdate, id)`` order and, at the cap, starts a new query from the last
creation time seen, leaving out (``hs_object_id NOT_IN``) and skipping the ids already given at that
time: a result set of any size is listed once, without a miss or a repeat, even when many meetings
share one millisecond. Search results carry
no associations, so the contact of every meeting of a page comes from ONE batch read of associations
(``POST /crm/v4/associations/meetings/contacts/batch/read``). Searches go through the transport's
shared CRM search limiter (``hooks.crm.search_limiter_for``); reads and the PATCH count against the
general limit only. All of it needs ``crm.objects.contacts.read``; the PATCH ``crm.objects.contacts.write``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.errors import BookingInputError, HubSpotResponseError
from hubspot_scheduler_provider.fields import parse_email, parse_identifier, parse_start_time
from hubspot_scheduler_provider.fields.text import parse_text
from hubspot_scheduler_provider.hooks._transport import correlation_id
from hubspot_scheduler_provider.hooks.crm import (
    MEETING_PROPERTIES,
    MEETING_SEARCH_PATH,
    CrmLookup,
    CrmMeeting,
    check_outcome,
    epoch_ms,
    meeting_from_result,
    property_filter,
    shape_error,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from datetime import datetime

    import requests

    from hubspot_scheduler_provider.hooks._transport import HubSpotTransport
    from hubspot_scheduler_provider.pacing import SlidingWindowLimiter

#: What HubSpot records as ``hs_engagement_source`` on a meeting booked through a meeting page.
BOOKED_THROUGH_PAGES = "MEETINGS"
MEETING_PATH = "/crm/v3/objects/meetings/{meeting_id}"
ASSOCIATIONS_READ_PATH = "/crm/v4/associations/meetings/contacts/batch/read"
#: HubSpot's search limits: results per page, and results one query can page through.
MAX_PAGE_SIZE = 200
SEARCH_RESULT_CAP = 10_000
#: Values one ``IN`` filter may carry (HubSpot's documented limit).
MAX_FILTER_VALUES = 100
#: The sort the listing relies on, as the spec spells sorts (strings; ascending by default).
_CREATED_ASCENDING = "hs_createdate"


class CrmMeetings:
    """Booked meetings over the scheduler hook's transport (same token, session, retries, pacing).

    :param search_limiter: paces the searches; default: the one shared by all users of ``transport``.
    """

    def __init__(
        self, transport: HubSpotTransport, search_limiter: SlidingWindowLimiter | None = None
    ) -> None:
        self.transport = transport
        self.lookup = CrmLookup(transport, search_limiter)

    # ------------------------------------------------------------------ listing
    def iter_booked_meetings(
        self,
        created_after: datetime,
        created_before: datetime | None = None,
        *,
        link_ids: Sequence[str] = (),
        owner_ids: Sequence[str] = (),
        page_size: int = 100,
    ) -> Iterator[CrmMeeting]:
        """Meetings booked through meeting pages created in ``[created_after, created_before)``
        (``None``: no upper bound), of the pages ``link_ids`` and owners ``owner_ids`` (empty: any),
        in ``(hs_createdate, id)`` order, each with its ``contact_ids``. Lazy: one search (and one
        association read) per page of ``page_size`` (1 to 200), as the caller consumes them.

        A meeting the CRM index has not caught up with yet is not listed: callers that keep a
        watermark must stay behind "now" by the index lag.
        """
        low = epoch_ms(parse_start_time("created_after", created_after, "UTC"))
        high = (
            None
            if created_before is None
            else epoch_ms(parse_start_time("created_before", created_before, "UTC"))
        )
        if high is not None and high <= low:
            raise BookingInputError("created_before", "must be later than created_after")
        if (
            isinstance(page_size, bool)
            or not isinstance(page_size, int)
            or not 1 <= page_size <= MAX_PAGE_SIZE
        ):
            raise BookingInputError("page_size", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
        fixed: list[dict[str, Any]] = [property_filter("EQ", BOOKED_THROUGH_PAGES, "hs_engagement_source")]
        fixed += _in_filter("link_ids", link_ids, "hs_engagement_source_id")
        fixed += _in_filter("owner_ids", owner_ids, "hubspot_owner_id")
        if high is not None:
            fixed.append(property_filter("LT", high, "hs_createdate"))
        # The last creation time given, and the ids given at it: what a new query must skip.
        last_ms, given_at_last = low, set[str]()
        after_last = False  # True: every meeting created at last_ms was given; the next query skips it
        while True:
            query: list[dict[str, Any]] = [
                *fixed,
                property_filter("GT" if after_last else "GTE", last_ms, "hs_createdate"),
            ]
            if given_at_last and not after_last and len(given_at_last) <= MAX_FILTER_VALUES:
                # Leave out what was given at last_ms, so a tie larger than the cap still moves on.
                query.append(
                    {"propertyName": "hs_object_id", "operator": "NOT_IN", "values": sorted(given_at_last)}
                )
            fresh = 0
            for meeting, created, capped in self._query(query, page_size, last_ms, high):
                if capped:
                    break
                if created == last_ms and meeting.id in given_at_last:
                    continue
                if created > last_ms:
                    last_ms, given_at_last, after_last = created, set(), False
                given_at_last.add(meeting.id)
                fresh += 1
                yield meeting
            else:
                return  # the query ended below the cap: everything was listed
            if fresh == 0:
                # The whole cap is meetings created at last_ms, all given already: go past that
                # millisecond only if it holds no more than those.
                if after_last or self._count([*fixed, property_filter("EQ", last_ms, "hs_createdate")]) > len(
                    given_at_last
                ):
                    raise HubSpotResponseError(
                        f"More meetings share the creation time {last_ms} (epoch ms) than HubSpot's search "
                        "can page through in one query"
                    )
                after_last = True

    def _count(self, filters: list[dict[str, Any]]) -> int:
        """How many meetings match ``filters`` (the search's ``total``)."""
        request = {
            "filterGroups": [{"filters": filters}],
            "properties": [],
            "sorts": [],
            "limit": 1,
            "after": "0",
        }
        body, response = self._search(request)
        total = body.get("total")
        if not isinstance(total, int) or isinstance(total, bool):
            raise shape_error(response, "meeting search", "no 'total' count")
        return total

    def _query(
        self, filters: list[dict[str, Any]], page_size: int, low: int, high: int | None
    ) -> Iterator[tuple[CrmMeeting, int, bool]]:
        """``(meeting, created_ms, False)`` for every result of one query in order, then one
        ``(_, _, True)`` when the query stopped at the result cap with more results left."""
        request: dict[str, Any] = {
            "filterGroups": [{"filters": filters}],
            "properties": list(MEETING_PROPERTIES),
            "sorts": [_CREATED_ASCENDING],
            "limit": page_size,
            "after": "0",
        }
        received, previous = 0, low
        while True:
            if received + page_size > SEARCH_RESULT_CAP:
                yield _CAPPED
                return
            body, response = self._search(request)
            results = body.get("results")
            if not isinstance(results, list):
                raise shape_error(response, "meeting search", "no 'results' list")
            page = self.with_contacts([meeting_from_result(item, response) for item in results])
            for meeting in page:
                created = _created_ms(meeting, response)
                if created < previous or (high is not None and created >= high):
                    raise shape_error(
                        response,
                        "meeting search",
                        "results not in ascending hs_createdate order within the filter",
                    )
                previous = created
                if meeting.properties.get("hs_engagement_source") in (None, BOOKED_THROUGH_PAGES):
                    yield meeting, created, False
            received += len(results)
            after = _next_after(body)
            if after is None or not results or after == request["after"]:
                total = body.get("total")
                if isinstance(total, int) and not isinstance(total, bool) and received < total:
                    yield _CAPPED  # the server stopped paging early: its result cap
                return
            request = {**request, "after": after}

    def _search(self, request: dict[str, Any]) -> tuple[dict[str, Any], requests.Response]:
        with self.lookup.search_limiter.slot():
            response = self.transport.request("POST", MEETING_SEARCH_PATH, idempotent=True, json_body=request)
        return self.transport.json_object(response), response

    def with_contacts(self, meetings: list[CrmMeeting]) -> list[CrmMeeting]:
        """``meetings`` with their ``contact_ids``, from one batch read of their associations."""
        if not meetings:
            return meetings
        response = self.transport.request(
            "POST",
            ASSOCIATIONS_READ_PATH,
            idempotent=True,  # a read, a POST by HubSpot's design
            json_body={"inputs": [{"id": meeting.id} for meeting in meetings]},
        )
        body = self.transport.json_object(response)
        contacts: dict[str, tuple[str, ...]] = {}
        for item in body.get("results") or []:
            source = item.get("from") if isinstance(item, dict) else None
            targets = item.get("to") if isinstance(item, dict) else None
            if not isinstance(source, dict) or not isinstance(targets, list):
                raise shape_error(response, "association read", "a result without 'from' or 'to'")
            contacts[str(source.get("id"))] = tuple(
                str(target["toObjectId"])
                for target in targets
                if isinstance(target, dict) and target.get("toObjectId") not in (None, "")
            )
        return [dataclasses.replace(m, contact_ids=contacts.get(m.id, ())) for m in meetings]

    # ------------------------------------------------------------------ one meeting
    def get_meeting(self, meeting_id: str) -> CrmMeeting:
        """The CRM meeting ``meeting_id`` with its contacts; ``HubSpotNotFoundError`` if none."""
        meeting_id = parse_identifier("meeting_id", meeting_id)
        response = self.transport.request(
            "GET",
            MEETING_PATH.format(meeting_id=meeting_id),
            idempotent=True,
            params={"properties": ",".join(MEETING_PROPERTIES), "associations": "contacts"},
        )
        body = self.transport.json_object(response)
        meeting = meeting_from_result(body, response)
        linked = (body.get("associations") or {}).get("contacts") or {}
        ids = tuple(
            str(item["id"])
            for item in linked.get("results") or []
            if isinstance(item, dict) and item.get("id") not in (None, "")
        )
        return dataclasses.replace(meeting, contact_ids=ids)

    def set_meeting_outcome(self, meeting_id: str, outcome: str) -> tuple[CrmMeeting, bool]:
        """Set ``hs_meeting_outcome``; returns the meeting after it and whether it changed. Setting the
        current outcome again sends no PATCH. Both arguments are checked before any request."""
        outcome = check_outcome(outcome)
        meeting_id = parse_identifier("meeting_id", meeting_id)
        current = self.get_meeting(meeting_id)
        if current.outcome == outcome:
            return current, False
        response = self.transport.request(
            "PATCH",
            MEETING_PATH.format(meeting_id=meeting_id),
            idempotent=True,  # sets a value: repeating it changes nothing
            json_body={"properties": {"hs_meeting_outcome": outcome}},
        )
        body = self.transport.json_object(response)
        answered = body.get("properties")
        if not isinstance(answered, dict) or answered.get("hs_meeting_outcome") not in (None, outcome):
            raise HubSpotResponseError(
                "HubSpot answered the outcome update, but not with the outcome it was asked to set",
                status=response.status_code,
                correlation_id=correlation_id(response),
                outcome_unknown=True,
            )
        # HubSpot's PATCH answer may carry only some properties: what it sent wins over the read.
        properties = {**current.properties, **answered, "hs_meeting_outcome": outcome}
        return dataclasses.replace(current, properties=properties), True

    # ------------------------------------------------------------------ finding a booking's meeting
    def find_meetings(
        self,
        *,
        calendar_event_id: str | None = None,
        contact_email: str | None = None,
        start: datetime | str | None = None,
    ) -> list[CrmMeeting]:
        """The CRM meetings of a booking, standing ones first: by its ``calendarEventId`` (the CRM
        records it as ``hs_unique_id``), or by its contact's email and start time. Empty when the CRM
        has none (yet: its search index lags new meetings by seconds)."""
        if calendar_event_id is not None:
            if contact_email is not None or start is not None:
                raise BookingInputError(
                    "calendar_event_id", "give it alone, or give contact_email and start instead"
                )
            event_id = parse_text("calendar_event_id", calendar_event_id)
            found = self.lookup.search_meetings([property_filter("EQ", event_id, "hs_unique_id")])
            found = [m for m in found if m.properties.get("hs_unique_id") == event_id]
            found = self.with_contacts(found)
        else:
            if contact_email is None or start is None:
                raise BookingInputError(
                    "contact_email" if contact_email is None else "start",
                    "give calendar_event_id, or contact_email and start together",
                )
            email = parse_email("contact_email", contact_email)
            moment = parse_start_time("start", start, "UTC")
            contact_id = self.lookup.contact_id_by_email(email)
            if contact_id is None:
                return []
            found = [
                dataclasses.replace(m, contact_ids=(contact_id,))
                for m in self.lookup.meetings_of_contact_at(contact_id, moment)
            ]
        return sorted(found, key=lambda m: not m.stands)


_CAPPED: tuple[Any, int, bool] = (None, 0, True)


def _in_filter(field: str, values: Sequence[str], property_name: str) -> list[dict[str, Any]]:
    if isinstance(values, str):
        raise BookingInputError(field, "expected a list of ids, got a single string")
    ids = [parse_identifier(f"{field}[{index}]", value) for index, value in enumerate(values)]
    if len(ids) > MAX_FILTER_VALUES:
        raise BookingInputError(field, f"at most {MAX_FILTER_VALUES} ids (HubSpot's limit for one filter)")
    if not ids:
        return []
    return [{"propertyName": property_name, "operator": "IN", "values": list(dict.fromkeys(ids))}]


def _created_ms(meeting: CrmMeeting, response: requests.Response) -> int:
    created = meeting.created_at
    if created is None:
        raise shape_error(response, "meeting search", "a result without hs_createdate")
    return epoch_ms(created)


def _next_after(body: dict[str, Any]) -> str | None:
    paging = body.get("paging")
    after = paging.get("next", {}).get("after") if isinstance(paging, dict) else None
    return after if isinstance(after, str) and after else None


class CrmMeetingMethods:
    """The CRM meeting methods of :class:`~hubspot_scheduler_provider.hooks.scheduler.HubSpotSchedulerHook`
    (a mixin): each a thin call into :class:`CrmMeetings` over the hook's transport."""

    @property
    def transport(self) -> HubSpotTransport:
        raise NotImplementedError

    @property
    def crm_meetings(self) -> CrmMeetings:
        """The hook's CRM meeting queries and updates (same token, session, retries and pacing)."""
        return CrmMeetings(self.transport)

    def iter_booked_meetings(
        self,
        created_after: datetime,
        created_before: datetime | None = None,
        *,
        link_ids: Sequence[str] = (),
        owner_ids: Sequence[str] = (),
        page_size: int = 100,
    ) -> Iterator[CrmMeeting]:
        """See :meth:`CrmMeetings.iter_booked_meetings`."""
        return self.crm_meetings.iter_booked_meetings(
            created_after, created_before, link_ids=link_ids, owner_ids=owner_ids, page_size=page_size
        )

    def get_crm_meeting(self, meeting_id: str) -> CrmMeeting:
        """See :meth:`CrmMeetings.get_meeting`."""
        return self.crm_meetings.get_meeting(meeting_id)

    def set_meeting_outcome(self, meeting_id: str, outcome: str) -> tuple[CrmMeeting, bool]:
        """See :meth:`CrmMeetings.set_meeting_outcome` (``True``: changed; the same outcome again
        sends nothing)."""
        return self.crm_meetings.set_meeting_outcome(meeting_id, outcome)

    def find_crm_meetings(
        self,
        *,
        calendar_event_id: str | None = None,
        contact_email: str | None = None,
        start: datetime | str | None = None,
    ) -> list[CrmMeeting]:
        """See :meth:`CrmMeetings.find_meetings`."""
        return self.crm_meetings.find_meetings(
            calendar_event_id=calendar_event_id, contact_email=contact_email, start=start
        )
