"""The CRM reads that tell whether a booking or calendar meeting already happened.

HubSpot's Scheduler API has no idempotency key and no "get booking" endpoint, but every booking creates
(or updates) a CRM contact and associates a CRM meeting to it. So "is this booking already in HubSpot?"
is answered by ``GET /crm/v3/objects/contacts/{email}?idProperty=email`` followed by
``POST /crm/v3/objects/meetings/search`` (``crm-meetings-v3.json``) filtered on the contact and
``hs_meeting_start_time``. A calendar meeting (no contact needed) is found by owner, start and title with
the same search. All need the scope ``crm.objects.contacts.read``.

Both calls only read, so the transport may retry them like GETs (the search is a POST by HubSpot's design).

HubSpot limits the CRM search endpoints separately from (and far below) the general per-10-second limit:
a few requests per second per account, answered with a 429 beyond it. Reconciling a retried batch runs
searches from many threads at once, so every search of one hook's transport goes through ONE shared
:class:`~hubspot_scheduler_provider.pacing.SlidingWindowLimiter`, the transport's own
(:func:`search_limiter_for`; ``pacing.new_search_limiter`` makes it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hubspot_scheduler_provider._validation import require_choice
from hubspot_scheduler_provider.errors import BookingInputError, HubSpotNotFoundError, HubSpotResponseError
from hubspot_scheduler_provider.hooks._transport import correlation_id

# HubSpot's CRM search limit lives in ``pacing``; re-exported here for callers that read it from the CRM.
from hubspot_scheduler_provider.pacing import SEARCH_MAX_REQUESTS as SEARCH_MAX_REQUESTS
from hubspot_scheduler_provider.pacing import SEARCH_WINDOW_SECONDS as SEARCH_WINDOW_SECONDS
from hubspot_scheduler_provider.units import parse_iso_instant

if TYPE_CHECKING:
    from collections.abc import Mapping

    import requests

    from hubspot_scheduler_provider.hooks._transport import HubSpotTransport
    from hubspot_scheduler_provider.pacing import SlidingWindowLimiter

#: The scope both reads need (HubSpot files CRM meetings under the contacts scopes).
CRM_READ_SCOPE = "crm.objects.contacts.read"
CONTACT_PATH = "/crm/v3/objects/contacts/{email}"
MEETING_SEARCH_PATH = "/crm/v3/objects/meetings/search"
#: Meeting properties worth reading back; HubSpot adds ``hs_object_id`` and the create/modify dates.
MEETING_PROPERTIES = (
    "hs_meeting_start_time",
    "hs_meeting_end_time",
    "hs_meeting_title",
    "hs_meeting_location",
    "hs_meeting_external_url",
    "hs_meeting_outcome",
    "hubspot_owner_id",
    # Which meeting page booked it: HubSpot records the page's linkId for meetings booked through one.
    "hs_engagement_source",
    "hs_engagement_source_id",
    # The booking's calendarEventId (the scheduler spec: "The unique ID of the created calendar event").
    "hs_unique_id",
    "hs_createdate",
)
#: ``hs_meeting_outcome`` values of a meeting that no longer takes place at its time, so a booking for
#: that time does not stand. A ``NO_SHOW`` or ``COMPLETED`` meeting was booked and held its slot: it
#: counts (booking again would be a duplicate). HubSpot spells it ``CANCELED``; both spellings accepted.
VOID_OUTCOMES = frozenset({"CANCELED", "CANCELLED", "RESCHEDULED"})
#: The options of HubSpot's ``hs_meeting_outcome`` property: what a meeting's outcome can be SET to.
MEETING_OUTCOMES = ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")
_SEARCH_PAGE_SIZE = 100
#: A contact with more meetings than this at ONE start time is not a booking history; stop paging.
_MAX_SEARCH_PAGES = 5


@dataclass(frozen=True)
class CrmMeeting:
    """A CRM meeting as far as reconciliation needs it; ``properties`` holds everything HubSpot sent."""

    id: str
    start: datetime
    end: datetime | None
    title: str | None
    properties: Mapping[str, Any]
    #: Ids of the contacts associated with it, when the read asked for associations (searches do not).
    contact_ids: tuple[str, ...] = field(default=())

    @property
    def contact_id(self) -> str | None:
        """The first associated contact (a booking associates exactly one), if known."""
        return self.contact_ids[0] if self.contact_ids else None

    @property
    def created_at(self) -> datetime | None:
        """``hs_createdate``: when the meeting was created (booked) in HubSpot."""
        return parse_crm_time(self.properties.get("hs_createdate"))

    @property
    def owner_id(self) -> str | None:
        value = self.properties.get("hubspot_owner_id")
        return None if value is None or str(value).strip() == "" else str(value).strip()

    @property
    def duration_ms(self) -> int | None:
        return None if self.end is None else int((self.end - self.start).total_seconds() * 1000)

    @property
    def outcome(self) -> str | None:
        value = self.properties.get("hs_meeting_outcome")
        return value.strip().upper() if isinstance(value, str) and value.strip() else None

    @property
    def source_id(self) -> str | None:
        """The id of the meeting page it was booked on (``hs_engagement_source_id``), if recorded."""
        value = self.properties.get("hs_engagement_source_id")
        return None if value is None or str(value).strip() == "" else str(value).strip()

    @property
    def stands(self) -> bool:
        """False when the meeting was cancelled or rescheduled away (see :data:`VOID_OUTCOMES`)."""
        return self.outcome not in VOID_OUTCOMES


def check_outcome(value: Any, field: str = "outcome") -> str:
    """One of :data:`MEETING_OUTCOMES` (case and surrounding blanks ignored), else
    ``BookingInputError`` naming ``field``: before any request."""
    text = value.strip().upper() if isinstance(value, str) else value
    return require_choice(field, text, MEETING_OUTCOMES, error=BookingInputError)


def parse_crm_time(value: Any) -> datetime | None:
    """A CRM datetime property (ISO 8601 like ``2026-12-02T14:00:00.000Z``, or epoch milliseconds)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    try:
        moment = parse_iso_instant(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def search_limiter_for(transport: HubSpotTransport) -> SlidingWindowLimiter:
    """The search pacer shared by every thread using ``transport`` (one per hook), at HubSpot's search
    limit; ``.configure(max_requests, window_seconds)`` changes it for all of them."""
    return transport.search_limiter


class CrmLookup:
    """Read-only CRM queries over the scheduler hook's transport (same token, session, retries, pacing).

    :param search_limiter: paces the meeting searches; default: the one shared by all users of
        ``transport`` (:func:`search_limiter_for`).
    """

    def __init__(
        self, transport: HubSpotTransport, search_limiter: SlidingWindowLimiter | None = None
    ) -> None:
        self.transport = transport
        self.search_limiter = search_limiter_for(transport) if search_limiter is None else search_limiter

    def contact_id_by_email(self, email: str) -> str | None:
        """The id of the contact with ``email``, or None when HubSpot has no such contact."""
        path = CONTACT_PATH.format(email=quote(email.strip(), safe=""))
        try:
            response = self.transport.request("GET", path, idempotent=True, params={"idProperty": "email"})
        except HubSpotNotFoundError:
            return None
        body = self.transport.json_object(response)
        contact_id = body.get("id")
        if not isinstance(contact_id, (str, int)) or isinstance(contact_id, bool) or contact_id == "":
            raise _shape_error(response, "contact", "no object id")
        return str(contact_id)

    def meetings_of_contact_at(self, contact_id: str, start: datetime) -> list[CrmMeeting]:
        """Meetings associated to ``contact_id`` starting exactly at ``start`` (millisecond precision)."""
        start_ms = epoch_ms(start)
        meetings = self.search_meetings([_contact_filter(contact_id), property_filter("EQ", start_ms)])
        # HubSpot's filter already matched; compare again so a lenient server cannot fake a match.
        return [m for m in meetings if epoch_ms(m.start) == start_ms]

    def meetings_of_contact_between(
        self, contact_id: str, earliest: datetime | None, latest: datetime | None
    ) -> list[CrmMeeting]:
        """Meetings associated to ``contact_id`` starting in ``[earliest, latest]`` (``None``: open side).

        For bookings whose start time is chosen at run time (the first free slot in a window).
        """
        low = None if earliest is None else epoch_ms(earliest)
        high = None if latest is None else epoch_ms(latest)
        filters = [property_filter(op, ms) for op, ms in (("GTE", low), ("LTE", high)) if ms is not None]
        meetings = self.search_meetings([_contact_filter(contact_id), *filters])
        return [
            m
            for m in meetings
            if (low is None or epoch_ms(m.start) >= low) and (high is None or epoch_ms(m.start) <= high)
        ]

    def meetings_of_owner_at(self, owner_id: str, start: datetime, title: str) -> list[CrmMeeting]:
        """Meetings of owner ``owner_id`` titled ``title`` starting exactly at ``start``: how a calendar
        meeting created earlier (no contact required) is recognised."""
        start_ms = epoch_ms(start)
        meetings = self.search_meetings(
            [
                property_filter("EQ", owner_id, "hubspot_owner_id"),
                property_filter("EQ", start_ms),
                property_filter("EQ", title, "hs_meeting_title"),
            ]
        )
        return [
            m
            for m in meetings
            if epoch_ms(m.start) == start_ms
            and m.title == title
            and str(m.properties.get("hubspot_owner_id")) == owner_id
        ]

    def search_meetings(self, filters: list[dict[str, str]]) -> list[CrmMeeting]:
        """Meetings matching ALL ``filters`` (see :func:`property_filter`), every page up to a bound."""
        request: dict[str, Any] = {
            "filterGroups": [{"filters": filters}],
            "properties": list(MEETING_PROPERTIES),
            "sorts": [],
            "limit": _SEARCH_PAGE_SIZE,
            "after": "0",
        }
        meetings: list[CrmMeeting] = []
        for _ in range(_MAX_SEARCH_PAGES):
            with self.search_limiter.slot():
                response = self.transport.request(
                    "POST", MEETING_SEARCH_PATH, idempotent=True, json_body=request
                )
            body = self.transport.json_object(response)
            results = body.get("results")
            if not isinstance(results, list):
                raise _shape_error(response, "meeting search", "no 'results' list")
            meetings += [_meeting(item, response) for item in results]
            paging = body.get("paging")
            after = paging.get("next", {}).get("after") if isinstance(paging, dict) else None
            if not after or not isinstance(after, str) or after == request["after"]:
                break
            request = {**request, "after": after}
        return meetings


def property_filter(
    operator: str, value: str | int, property_name: str = "hs_meeting_start_time"
) -> dict[str, str]:
    """One CRM search filter; times go as epoch milliseconds."""
    return {"propertyName": property_name, "operator": operator, "value": str(value)}


def _contact_filter(contact_id: str) -> dict[str, str]:
    return property_filter("EQ", contact_id, "associations.contact")


def meeting_from_result(item: Any, response: requests.Response) -> CrmMeeting:
    """A :class:`CrmMeeting` from one CRM object of ``response`` (a search result, a read by id)."""
    return _meeting(item, response)


def shape_error(response: requests.Response, what: str, problem: str) -> HubSpotResponseError:
    """The error for an answer to the CRM ``what`` that is not the documented shape."""
    return _shape_error(response, what, problem)


def _meeting(item: Any, response: requests.Response) -> CrmMeeting:
    if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
        raise _shape_error(response, "meeting search", "a result without 'properties'")
    properties: dict[str, Any] = item["properties"]
    meeting_id = item.get("id") or properties.get("hs_object_id")
    start = parse_crm_time(properties.get("hs_meeting_start_time"))
    if not meeting_id or start is None:
        raise _shape_error(response, "meeting search", "a result without id or hs_meeting_start_time")
    title = properties.get("hs_meeting_title")
    return CrmMeeting(
        id=str(meeting_id),
        start=start,
        end=parse_crm_time(properties.get("hs_meeting_end_time")),
        title=title if isinstance(title, str) else None,
        properties=properties,
    )


def _shape_error(response: requests.Response, what: str, problem: str) -> HubSpotResponseError:
    return HubSpotResponseError(
        f"HubSpot's answer to the CRM {what} is not the documented shape: {problem}",
        status=response.status_code,
        correlation_id=correlation_id(response),
    )
