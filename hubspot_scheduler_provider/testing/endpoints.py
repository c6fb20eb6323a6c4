"""Handler table of the sandbox: operation handler name -> function. A test double, not HubSpot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from hubspot_scheduler_provider.testing import api_errors, calendar, scheduler
from hubspot_scheduler_provider.testing.crm import crm_timestamp
from hubspot_scheduler_provider.testing.pages import PORTAL_ID, PORTAL_TIMEZONE
from hubspot_scheduler_provider.testing.scheduler import Call
from hubspot_scheduler_provider.units import MS_PER_MINUTE


def account_details(call: Call) -> dict[str, Any]:
    offset = call.state.clock().astimezone(ZoneInfo(PORTAL_TIMEZONE)).utcoffset()
    offset_ms = int(offset.total_seconds() * 1000) if offset is not None else 0
    sign = "-" if offset_ms < 0 else "+"
    minutes = abs(offset_ms) // MS_PER_MINUTE
    return {
        "portalId": PORTAL_ID,
        "accountType": "SANDBOX",
        "timeZone": PORTAL_TIMEZONE,
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "utcOffset": f"{sign}{minutes // 60:02d}:{minutes % 60:02d}",
        "utcOffsetMilliseconds": offset_ms,
        "uiDomain": call.state.ui_domain,
        "dataHostingLocation": _hosting_location(call.state.ui_domain),
    }


def _hosting_location(ui_domain: str) -> str:
    """``app-eu1.hubspot.com`` is hosted in ``eu1``; ``app.hubspot.com`` in ``na1``."""
    host = ui_domain.split(".", 1)[0]
    return host.removeprefix("app-") if host.startswith("app-") else "na1"


def crm_meetings_search(call: Call) -> dict[str, Any]:
    with call.state.lock:
        return call.state.crm.search_meetings(call.body)


def crm_meeting_get(call: Call) -> dict[str, Any]:
    wanted = call.query.get("properties") or None
    with call.state.lock:
        meeting = call.state.crm.get_meeting(call.path["meetingId"])
        answer = meeting.to_json(wanted)
        if any(kind in _CONTACT_TYPES for kind in call.query.get("associations") or []):
            answer["associations"] = {
                "contacts": {
                    "results": [
                        {"id": contact_id, "type": "meeting_event_to_contact"}
                        for contact_id in meeting.associations.get("contacts", [])
                    ]
                }
            }
        return answer


def crm_meeting_update(call: Call) -> dict[str, Any]:
    """``PATCH /crm/v3/objects/meetings/{meetingId}`` (by id; ``idProperty`` is not modelled)."""
    if call.query.get("idProperty") not in (None, "", "hs_object_id"):
        raise api_errors.validation_error("idProperty: the sandbox updates meetings by id only")
    return call.state.update_meeting(call.path["meetingId"], dict(call.body["properties"]))


#: Names HubSpot accepts for the object types of a meeting -> contact association read.
_MEETING_TYPES = frozenset({"meetings", "meeting", "0-47"})
_CONTACT_TYPES = frozenset({"contacts", "contact", "0-1"})


def crm_associations_batch_read(call: Call) -> dict[str, Any]:
    """v4 ``POST /crm/v4/associations/{from}/{to}/batch/read``: meetings to contacts only."""
    if call.path["fromObjectType"] not in _MEETING_TYPES or call.path["toObjectType"] not in _CONTACT_TYPES:
        raise api_errors.validation_error(
            "The sandbox reads meeting -> contact associations only "
            f"(got {call.path['fromObjectType'][:40]!r} -> {call.path['toObjectType'][:40]!r})"
        )
    ids = [str(item["id"]) for item in call.body["inputs"]]
    if len(ids) > _MAX_BATCH_INPUTS:
        raise api_errors.validation_error(f"inputs: at most {_MAX_BATCH_INPUTS} ids per batch read")
    stamp = crm_timestamp(call.state.now_ms())
    with call.state.lock:
        results = call.state.crm.contact_associations(ids)
    return {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}


#: HubSpot's batch limit for association reads.
_MAX_BATCH_INPUTS = 1000


def contact_get(call: Call) -> dict[str, Any]:
    with call.state.lock:
        contact = call.state.crm.find_contact(call.path["contactId"], call.query.get("idProperty"))
        return contact.to_json()


Handler = Callable[[Call], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    "list_links": scheduler.list_links,
    "booking_info": scheduler.booking_info,
    "availability": scheduler.availability,
    "book": scheduler.book,
    "calendar": calendar.create,
    "update_link": scheduler.update_link,
    "crm_meetings_search": crm_meetings_search,
    "crm_meeting_get": crm_meeting_get,
    "crm_meeting_update": crm_meeting_update,
    "crm_associations_batch_read": crm_associations_batch_read,
    "contact_get": contact_get,
    "account_details": account_details,
}
