"""Handler table of the sandbox: operation handler name -> function. A test double, not HubSpot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from hubspot_scheduler_provider.testing import calendar, scheduler
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
        return call.state.crm.get_meeting(call.path["meetingId"]).to_json(wanted)


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
    "contact_get": contact_get,
    "account_details": account_details,
}
