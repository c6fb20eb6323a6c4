"""The sandbox's small CRM: contacts created by bookings and the meetings associated to them.

A test double, not HubSpot. It serves what exactly-once reconciliation needs: read a contact by email
(``idProperty=email``) and search meetings by ``hs_meeting_start_time``, ``associations.contact`` and
any string property (``EQ``, ``NEQ``, ``IN``, ``NOT_IN``, ...), e.g. what HubSpot records on a meeting
a booking created: ``hs_engagement_source`` ``"MEETINGS"``, ``hs_engagement_source_id`` (the page's
``linkId``) and ``hubspot_owner_id`` (the owner id of the host who got the meeting).

The portal starts with contacts ``1`` to ``SEEDED_CONTACTS`` (``contact<N>@sandbox.example``), so
calendar meetings can be associated with existing contacts as in a real portal; contacts created by
bookings get ids from 5001.
Like HubSpot's, its search can lag: with ``index_lag_seconds`` a new meeting stays out of search results
for that long (reads by id see it at once). Not thread-safe on its own: ``SandboxState`` holds its lock
around every call.

Search emulates HubSpot's documented limits: ``limit`` at most 200 (more: 400), and at most
``result_cap`` (HubSpot: 10,000) results reachable through paging one query; paging past it is a 400,
as on HubSpot. ``sorts`` are the spec's strings (``crm-meetings-v3.json``: ``sorts`` is an array of
strings): a property name sorts ascending, ``-name`` descending; ties (e.g. equal ``hs_createdate``) go
by object id. Without ``sorts`` results come by ``hs_meeting_start_time`` then id.

Meetings can be updated (``PATCH /crm/v3/objects/meetings/{meetingId}``, properties of
:data:`WRITABLE_MEETING_PROPERTIES`; ``hs_meeting_outcome`` must be one of HubSpot's outcome options) and
their contact associations read in batches (``POST /crm/v4/associations/meetings/contacts/batch/read``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hubspot_scheduler_provider.hooks.crm import MEETING_OUTCOMES
from hubspot_scheduler_provider.testing.api_errors import not_found, validation_error
from hubspot_scheduler_provider.testing.availability import from_ms
from hubspot_scheduler_provider.testing.formats import parse_instant

#: Properties every CRM object answer carries, requested or not.
_ALWAYS = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
_MAX_SEARCH_LIMIT = 200
#: Results one search query can page through (HubSpot's documented cap; paging past it is a 400).
SEARCH_RESULT_CAP = 10_000
#: HubSpot's association type id of the default meeting -> contact association.
MEETING_TO_CONTACT_TYPE_ID = 200
#: Properties a PATCH may set (HubSpot refuses read-only ones such as ``hs_createdate``).
WRITABLE_MEETING_PROPERTIES = frozenset(
    {
        "hs_meeting_outcome",
        "hs_meeting_title",
        "hs_meeting_body",
        "hs_internal_meeting_notes",
        "hs_meeting_location",
        "hs_meeting_start_time",
        "hs_meeting_end_time",
        "hs_timestamp",
        "hubspot_owner_id",
        "hs_activity_type",
    }
)
SEEDED_CONTACTS = 100
#: What HubSpot records as the source of a meeting created by a booking or by the calendar endpoint.
ENGAGEMENT_SOURCE = "MEETINGS"


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
            "updatedAt": self.properties.get("hs_lastmodifieddate") or stamp,
            "archived": False,
        }


def _parse_time_value(raw: str) -> int:
    """A filter value for a datetime property: epoch ms or an ISO 8601 date-time (HubSpot accepts both)."""
    if raw.lstrip("-").isdigit() and len(raw) <= 19:
        return int(raw)
    millis = parse_instant(raw)
    if millis is None:
        raise validation_error(
            f"{raw[:60]!r} is not a valid datetime value (use epoch milliseconds or ISO 8601)"
        )
    return millis


_COMPARATORS = {
    "EQ": lambda have, want: have == want,
    "NEQ": lambda have, want: have != want,
    "GT": lambda have, want: have > want,
    "GTE": lambda have, want: have >= want,
    "LT": lambda have, want: have < want,
    "LTE": lambda have, want: have <= want,
}
_TIME_PROPERTIES = frozenset(
    {"hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp", "hs_createdate", "hs_lastmodifieddate"}
)


class CrmStore:
    def __init__(self, index_lag_seconds: float = 0.0) -> None:
        #: Seconds (real time) a new meeting stays invisible to search, as HubSpot's search index lags.
        self.index_lag_seconds = index_lag_seconds
        #: Results one search query can page through (HubSpot: 10,000); tests lower it to run fast.
        self.search_result_cap = SEARCH_RESULT_CAP
        self.contacts: dict[str, CrmObject] = {}
        self._contact_ids_by_email: dict[str, str] = {}
        self.meetings: dict[str, CrmObject] = {}
        self._next_contact = 5001
        self._next_meeting = 9001

    def seed_contacts(self, now_ms: int) -> None:
        """The portal's existing contacts ``1`` .. ``SEEDED_CONTACTS``."""
        for number in range(1, SEEDED_CONTACTS + 1):
            self._add_contact(str(number), f"contact{number}@sandbox.example", "Contact", str(number), now_ms)

    def upsert_contact(self, email: str, first_name: str, last_name: str, now_ms: int) -> CrmObject:
        """The contact with ``email`` (case-insensitive), created on first sight: same email, same id."""
        key = email.strip().lower()
        existing = self._contact_ids_by_email.get(key)
        if existing is not None:
            return self.contacts[existing]
        contact_id = str(self._next_contact)
        self._next_contact += 1
        return self._add_contact(contact_id, key, first_name, last_name, now_ms)

    def _add_contact(
        self, contact_id: str, key: str, first_name: str, last_name: str, now_ms: int
    ) -> CrmObject:
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

    @property
    def next_meeting_id(self) -> str:
        return str(self._next_meeting)

    def has_contact(self, contact_id: str) -> bool:
        return contact_id in self.contacts

    def add_booked_meeting(
        self,
        *,
        contact_id: str,
        start_ms: int,
        end_ms: int,
        title: str,
        owner_id: str,
        link_id: str,
        external_url: str,
        calendar_event_id: str,
        now_ms: int,
    ) -> CrmObject:
        """The CRM meeting a booking creates, with what HubSpot records about its page and host, and the
        calendar event's id as ``hs_unique_id`` (the scheduler spec's meeting properties: "The unique ID
        of the created calendar event")."""
        return self.add_meeting(
            {
                "hs_meeting_start_time": crm_timestamp(start_ms),
                "hs_meeting_end_time": crm_timestamp(end_ms),
                "hs_timestamp": crm_timestamp(start_ms),
                "hs_meeting_title": title,
                "hs_meeting_outcome": "SCHEDULED",
                "hs_meeting_external_url": external_url,
                "hs_engagement_source": ENGAGEMENT_SOURCE,
                "hs_engagement_source_id": link_id,
                "hubspot_owner_id": owner_id,
                "hs_unique_id": calendar_event_id,
            },
            [contact_id],
            now_ms,
        )

    def add_meeting(self, properties: dict[str, str], contact_ids: list[str], now_ms: int) -> CrmObject:
        """A new meeting with ``properties`` (CRM strings) associated with ``contact_ids``."""
        meeting_id = str(self._next_meeting)
        self._next_meeting += 1
        stamp = crm_timestamp(now_ms)
        meeting = CrmObject(
            meeting_id,
            {**properties, "hs_createdate": stamp, "hs_lastmodifieddate": stamp, "hs_object_id": meeting_id},
            now_ms,
            {"contacts": list(contact_ids)},
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

    def update_meeting(self, meeting_id: str, properties: dict[str, str], now_ms: int) -> CrmObject:
        """``PATCH /crm/v3/objects/meetings/{meetingId}``: set ``properties`` (all checked first)."""
        meeting = self.get_meeting(meeting_id)
        for name, value in properties.items():
            if name not in WRITABLE_MEETING_PROPERTIES:
                raise validation_error(
                    f"Property {name[:60]!r} does not exist or is read-only on meetings",
                    errors=[{"message": "read-only or unknown property", "in": name[:60], "code": "INVALID"}],
                )
            if name == "hs_meeting_outcome" and value not in MEETING_OUTCOMES:
                raise validation_error(
                    f"{value[:40]!r} was not one of the allowed options: {', '.join(MEETING_OUTCOMES)}",
                    errors=[{"message": "invalid option", "in": name, "code": "INVALID_OPTION"}],
                )
            if name in _TIME_PROPERTIES:
                _parse_time_value(value)
        meeting.properties.update(properties)
        meeting.properties["hs_lastmodifieddate"] = crm_timestamp(now_ms)
        return meeting

    def contact_associations(self, meeting_ids: list[str]) -> list[dict[str, Any]]:
        """v4 batch read of meeting -> contact associations; unknown ids are left out (HubSpot answers
        207 with an error per unknown id; the sandbox answers 200 without them)."""
        return [
            {
                "from": {"id": meeting_id},
                "to": [
                    {
                        "toObjectId": contact_id,
                        "associationTypes": [
                            {"category": "HUBSPOT_DEFINED", "typeId": MEETING_TO_CONTACT_TYPE_ID}
                        ],
                    }
                    for contact_id in self.meetings[meeting_id].associations.get("contacts", [])
                ],
            }
            for meeting_id in dict.fromkeys(meeting_ids)
            if meeting_id in self.meetings
        ]

    def search_meetings(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /crm/v3/objects/meetings/search``: OR of filter groups, AND of filters, sorted."""
        groups = request.get("filterGroups") or []
        limit = int(request.get("limit") or 10)
        if not 1 <= limit <= _MAX_SEARCH_LIMIT:
            raise validation_error(
                f"limit: must be between 1 and {_MAX_SEARCH_LIMIT}, got {limit}",
                errors=[{"message": "out of range", "in": "limit", "code": "OUT_OF_RANGE"}],
            )
        after = request.get("after") or "0"
        offset = int(after) if after.isdigit() else 0
        cap = self.search_result_cap
        if offset >= cap:
            raise validation_error(
                f"after: a search can page through at most {cap} results; narrow the query instead",
                errors=[{"message": "paging past the result cap", "in": "after", "code": "OUT_OF_RANGE"}],
            )
        indexed_before = time.monotonic() - self.index_lag_seconds
        hits = [
            m
            for m in self.meetings.values()
            if m.created_monotonic <= indexed_before
            and (not groups or any(self._matches(m, g) for g in groups))
        ]
        _sort(hits, request.get("sorts") or [])
        reachable = min(len(hits), cap)
        page = hits[offset : min(offset + limit, reachable)]
        wanted = list(request.get("properties") or [])
        body: dict[str, Any] = {"total": len(hits), "results": [m.to_json(wanted or None) for m in page]}
        if offset + limit < reachable:
            body["paging"] = {"next": {"after": str(offset + limit)}}
        return body

    def _matches(self, meeting: CrmObject, group: dict[str, Any]) -> bool:
        return all(self._filter_matches(meeting, flt) for flt in group.get("filters", []))

    def _filter_matches(self, meeting: CrmObject, flt: dict[str, Any]) -> bool:
        name, operator = flt["propertyName"], flt["operator"]
        value = flt.get("value")
        if name == "associations.contact":
            contacts = meeting.associations.get("contacts", [])
            if operator == "EQ" and value is not None:
                return str(value) in contacts
            if operator == "IN" and flt.get("values"):
                return any(str(item) in contacts for item in flt["values"])
            raise validation_error("associations.contact supports only EQ with a value or IN with values")
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


def _sort(hits: list[CrmObject], sorts: list[str]) -> None:
    """Sort ``hits`` in place by the spec's sort strings (``name`` ascending, ``-name`` descending),
    ties by id; without sorts by start time then id. A meeting without the property sorts last."""
    hits.sort(key=lambda m: int(m.id))
    if not sorts:
        hits.sort(key=lambda m: m.properties.get("hs_meeting_start_time", ""))
        return
    for raw in reversed(sorts):
        text = raw.strip()
        descending = text.startswith("-")
        name = text.lstrip("-+").strip()
        if not name:
            raise validation_error(f"sorts: {raw[:60]!r} names no property")
        present = [m for m in hits if m.properties.get(name) not in (None, "")]
        missing = [m for m in hits if m.properties.get(name) in (None, "")]
        if name in _TIME_PROPERTIES:
            present.sort(key=lambda m: _parse_time_value(m.properties[name]), reverse=descending)
        else:
            present.sort(key=lambda m: m.properties[name], reverse=descending)
        hits[:] = present + missing
