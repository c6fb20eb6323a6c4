"""The two CRM reads that tell whether a booking already happened: a contact by email, its meetings at a time.

HubSpot's Scheduler API has no idempotency key and no "get booking" endpoint, but every booking creates
(or updates) a CRM contact and associates a CRM meeting to it. So "is this booking already in HubSpot?"
is answered by ``GET /crm/v3/objects/contacts/{email}?idProperty=email`` followed by
``POST /crm/v3/objects/meetings/search`` (``crm-meetings-v3.json``) filtered on the contact and
``hs_meeting_start_time``. Both need the scope ``crm.objects.contacts.read``.

Both calls only read, so the transport may retry them like GETs (the search is a POST by HubSpot's design).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hubspot_scheduler_provider.errors import HubSpotNotFoundError, HubSpotResponseError
from hubspot_scheduler_provider.hooks._transport import correlation_id

if TYPE_CHECKING:
    from collections.abc import Mapping

    import requests

    from hubspot_scheduler_provider.hooks._transport import HubSpotTransport

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
)
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

    @property
    def duration_ms(self) -> int | None:
        return None if self.end is None else int((self.end - self.start).total_seconds() * 1000)


def parse_crm_time(value: Any) -> datetime | None:
    """A CRM datetime property (ISO 8601 like ``2026-12-02T14:00:00.000Z``, or epoch milliseconds)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class CrmLookup:
    """Read-only CRM queries over the scheduler hook's transport (same token, session, retries, pacing)."""

    def __init__(self, transport: HubSpotTransport) -> None:
        self.transport = transport

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
        meetings = self._meetings_of_contact(contact_id, [_start_filter("EQ", start_ms)])
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
        filters = [_start_filter(op, ms) for op, ms in (("GTE", low), ("LTE", high)) if ms is not None]
        meetings = self._meetings_of_contact(contact_id, filters)
        return [
            m
            for m in meetings
            if (low is None or epoch_ms(m.start) >= low) and (high is None or epoch_ms(m.start) <= high)
        ]

    def _meetings_of_contact(self, contact_id: str, start_filters: list[dict[str, str]]) -> list[CrmMeeting]:
        request: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "associations.contact", "operator": "EQ", "value": contact_id},
                        *start_filters,
                    ]
                }
            ],
            "properties": list(MEETING_PROPERTIES),
            "sorts": [],
            "limit": _SEARCH_PAGE_SIZE,
            "after": "0",
        }
        meetings: list[CrmMeeting] = []
        for _ in range(_MAX_SEARCH_PAGES):
            response = self.transport.request("POST", MEETING_SEARCH_PATH, idempotent=True, json_body=request)
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


def _start_filter(operator: str, start_ms: int) -> dict[str, str]:
    return {"propertyName": "hs_meeting_start_time", "operator": operator, "value": str(start_ms)}


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
