"""The sandbox's small CRM: contacts created by bookings and the meetings associated to them.

A test double, not HubSpot. It serves what exactly-once reconciliation needs: read a contact by email
(``idProperty=email``) and search meetings by ``hs_meeting_start_time`` and ``associations.contact``.
Like HubSpot's, its search can lag: with ``index_lag_seconds`` a new meeting stays out of search results
for that long (reads by id see it at once). Not thread-safe on its own: ``SandboxState`` holds its lock
around every call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hubspot_scheduler_provider.testing.api_errors import not_found, validation_error
from hubspot_scheduler_provider.testing.availability import from_ms, to_ms
from hubspot_scheduler_provider.units import parse_iso_instant

#: Properties every CRM object answer carries, requested or not.
_ALWAYS = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
_MAX_SEARCH_LIMIT = 200


def crm_timestamp(millis: int) -> str:
    """CRM style ISO 8601 with milliseconds, e.g. ``2026-12-01T14:00:00.000Z``."""
    return from_ms(millis).strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


@dataclass
class CrmObject:
    id: str
    properties: dict[str, str]
    created_ms: int
    associations: dict[str, list[str]] = field(default_factory=dict)
    #: ``time.monotonic()`` at creation: search shows the object once the index lag has passed.
    created_monotonic: float = field(default_factory=time.monotonic)

    def to_json(self, wanted: list[str] | None = None) -> dict[str, Any]:
        if wanted:
            properties = {
                name: self.properties[name] for name in (*wanted, *_ALWAYS) if name in self.properties
            }
        else:
            properties = dict(self.properties)
        stamp = crm_timestamp(self.created_ms)
        return {
            "id": self.id,
            "properties": properties,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }


def _parse_time_value(raw: str) -> int:
    """A filter value for a datetime property: epoch ms or ISO 8601 (HubSpot accepts both)."""
    if raw.lstrip("-").isdigit():
        return int(raw)
    try:
        return to_ms(parse_iso_instant(raw))
    except ValueError:
        raise validation_error(
            f"{raw!r} is not a valid datetime value (use epoch milliseconds or ISO 8601)"
        ) from None


_COMPARATORS = {
    "EQ": lambda have, want: have == want,
    "NEQ": lambda have, want: have != want,
    "GT": lambda have, want: have > want,
    "GTE": lambda have, want: have >= want,
    "LT": lambda have, want: have < want,
    "LTE": lambda have, want: have <= want,
}
_TIME_PROPERTIES = frozenset(
    {"hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp", "hs_createdate"}
)


class CrmStore:
    def __init__(self, index_lag_seconds: float = 0.0) -> None:
        #: Seconds (real time) a new meeting stays invisible to search, as HubSpot's search index lags.
        self.index_lag_seconds = index_lag_seconds
        self.contacts: dict[str, CrmObject] = {}
        self._contact_ids_by_email: dict[str, str] = {}
        self.meetings: dict[str, CrmObject] = {}
        self._next_contact = 5001
        self._next_meeting = 9001

    def upsert_contact(self, email: str, first_name: str, last_name: str, now_ms: int) -> CrmObject:
        """The contact with ``email`` (case-insensitive), created on first sight: same email, same id."""
        key = email.strip().lower()
        existing = self._contact_ids_by_email.get(key)
        if existing is not None:
            return self.contacts[existing]
        contact_id = str(self._next_contact)
        self._next_contact += 1
        stamp = crm_timestamp(now_ms)
        contact = CrmObject(
            contact_id,
            {
                "email": key,
                "firstname": first_name,
                "lastname": last_name,
                "createdate": stamp,
                "lastmodifieddate": stamp,
                "hs_object_id": contact_id,
            },
            now_ms,
        )
        self.contacts[contact_id] = contact
        self._contact_ids_by_email[key] = contact_id
        return contact

    def find_contact(self, id_value: str, id_property: str | None) -> CrmObject:
        if id_property in (None, "", "hs_object_id"):
            contact = self.contacts.get(id_value)
        elif id_property == "email":
            contact_id = self._contact_ids_by_email.get(id_value.strip().lower())
            contact = self.contacts.get(contact_id) if contact_id else None
        else:
            raise validation_error(
                f"idProperty {id_property!r} is not a unique identifier property for contacts"
            )
        if contact is None:
            raise not_found(f"Object not found.  objectId are usually numeric. (contact {id_value!r})")
        return contact

    def add_meeting(
        self,
        *,
        contact_id: str,
        start_ms: int,
        end_ms: int,
        title: str,
        owner_id: str,
        external_url: str,
        now_ms: int,
    ) -> CrmObject:
        meeting_id = str(self._next_meeting)
        self._next_meeting += 1
        stamp = crm_timestamp(now_ms)
        meeting = CrmObject(
            meeting_id,
            {
                "hs_meeting_start_time": crm_timestamp(start_ms),
                "hs_meeting_end_time": crm_timestamp(end_ms),
                "hs_timestamp": crm_timestamp(start_ms),
                "hs_meeting_title": title,
                "hs_meeting_outcome": "SCHEDULED",
                "hs_meeting_external_url": external_url,
                "hubspot_owner_id": owner_id,
                "hs_createdate": stamp,
                "hs_lastmodifieddate": stamp,
                "hs_object_id": meeting_id,
            },
            now_ms,
            {"contacts": [contact_id]},
        )
        self.meetings[meeting_id] = meeting
        return meeting

    def get_meeting(self, meeting_id: str) -> CrmObject:
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            raise not_found(f"Object not found.  objectId are usually numeric. (meeting {meeting_id!r})")
        return meeting

    def set_meeting_outcome(self, meeting_id: str, outcome: str, now_ms: int) -> CrmObject:
        """Set ``hs_meeting_outcome`` (``CANCELED``, ``NO_SHOW``, ...), as a user or HubSpot would."""
        meeting = self.get_meeting(meeting_id)
        meeting.properties["hs_meeting_outcome"] = outcome
        meeting.properties["hs_lastmodifieddate"] = crm_timestamp(now_ms)
        return meeting

    def search_meetings(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /crm/v3/objects/meetings/search``: OR of filter groups, AND of filters, start time order."""
        groups = request.get("filterGroups") or []
        indexed_before = time.monotonic() - self.index_lag_seconds
        hits = [
            m
            for m in self.meetings.values()
            if m.created_monotonic <= indexed_before
            and (not groups or any(self._matches(m, g) for g in groups))
        ]
        hits.sort(key=lambda m: (m.properties["hs_meeting_start_time"], int(m.id)))
        limit = min(max(int(request.get("limit") or 10), 1), _MAX_SEARCH_LIMIT)
        after = request.get("after") or "0"
        offset = int(after) if after.isdigit() else 0
        page = hits[offset : offset + limit]
        wanted = list(request.get("properties") or [])
        body: dict[str, Any] = {"total": len(hits), "results": [m.to_json(wanted or None) for m in page]}
        if offset + limit < len(hits):
            body["paging"] = {"next": {"after": str(offset + limit)}}
        return body

    def _matches(self, meeting: CrmObject, group: dict[str, Any]) -> bool:
        return all(self._filter_matches(meeting, flt) for flt in group.get("filters", []))

    def _filter_matches(self, meeting: CrmObject, flt: dict[str, Any]) -> bool:
        name, operator = flt["propertyName"], flt["operator"]
        value = flt.get("value")
        if name == "associations.contact":
            if operator != "EQ" or value is None:
                raise validation_error("associations.contact supports only operator EQ with a value")
            return str(value) in meeting.associations.get("contacts", [])
        have_raw = meeting.properties.get(name)
        if operator == "HAS_PROPERTY":
            return have_raw is not None
        if operator == "NOT_HAS_PROPERTY":
            return have_raw is None
        if have_raw is None:
            return False
        if operator in ("IN", "NOT_IN"):
            values = [str(item) for item in flt.get("values") or []]
            return (have_raw in values) == (operator == "IN")
        if operator == "BETWEEN":
            if name not in _TIME_PROPERTIES:
                raise validation_error(
                    f"BETWEEN is supported by the sandbox only on datetime properties, not {name}"
                )
            moment = _parse_time_value(have_raw)
            return _parse_time_value(str(value)) <= moment <= _parse_time_value(str(flt.get("highValue")))
        comparator = _COMPARATORS.get(operator)
        if comparator is None or value is None:
            raise validation_error(f"Filter {name} {operator} is not supported by the sandbox")
        if name in _TIME_PROPERTIES:
            return bool(comparator(_parse_time_value(have_raw), _parse_time_value(str(value))))
        return bool(comparator(have_raw, str(value)))
