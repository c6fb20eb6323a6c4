"""Meeting pages (scheduling links) of the sandbox and the seeded set. A test double, not HubSpot.

Seeded pages (hours are Monday-Friday 09:00-17:00 in the page's time zone):

==========================  =====================  ================  ===========  =========  ======
slug                        type                   time zone         durations    increment  buffer
==========================  =====================  ================  ===========  =========  ======
``alice-smith``             PERSONAL_LINK          America/New_York  30, 60 min   15 min     0
``sales-team/round-robin``  ROUND_ROBIN_CALENDAR   Europe/Berlin     30, 60 min   30 min     15 min
``demo-with-form``          PERSONAL_LINK          America/New_York  15, 30 min   15 min     10 min
``offline-host``            PERSONAL_LINK          Europe/Berlin     30 min       30 min     0
==========================  =====================  ================  ===========  =========  ======

Link ids 3001-3004 in table order; hosts (user id / CRM owner id): Alice 1001/501, Bruno 1002/502,
Carla 1003/503, Dieter 1004/504.

``demo-with-form`` requires the custom form field ``company`` and the consent checkbox with
``communicationTypeId`` ``"4711"`` (``"4712"`` is optional). ``offline-host``'s calendar is disconnected:
booking it answers 200 with ``isOffline: true`` and an empty ``calendarEventId`` and books nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hubspot_scheduler_provider.units import MS_PER_MINUTE

INCREMENT_NAMES = {
    5: "FIVE",
    10: "TEN",
    15: "FIFTEEN",
    20: "TWENTY",
    30: "THIRTY",
    45: "FORTY_FIVE",
    60: "SIXTY",
    90: "NINETY",
    120: "ONE_HUNDRED_TWENTY",
}
WEEKDAY_NAMES = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
#: Monday-Friday 09:00-17:00, as minute offsets from local midnight (HubSpot's ExternalClosedRange).
WEEKDAY_HOURS: dict[int, tuple[int, int]] = {day: (9 * 60, 17 * 60) for day in range(5)}

PORTAL_ID = 24681357
PORTAL_TIMEZONE = "America/New_York"


@dataclass(frozen=True)
class Host:
    user_id: str
    meetings_user_id: str
    email: str
    first_name: str
    last_name: str
    timezone: str
    calendar_provider: str = "GOOGLE"
    #: The host's CRM owner id (``hubspot_owner_id`` of the meetings they get); HubSpot's owner ids
    #: differ from user ids. Empty: the user id.
    owner_id: str = ""

    @property
    def crm_owner_id(self) -> str:
        return self.owner_id or self.user_id

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    required: bool
    custom: bool
    field_type: str = "text"
    value_type: str = "string"


@dataclass(frozen=True)
class ConsentCheckbox:
    communication_type_id: str
    label: str
    required: bool


#: The three fields every HubSpot booking form has; they travel as top-level booking attributes.
STANDARD_FORM_FIELDS = (
    FormField("firstName", "First name", required=True, custom=False),
    FormField("lastName", "Last name", required=True, custom=False),
    FormField("email", "Email", required=True, custom=False),
)


@dataclass(frozen=True)
class MeetingPage:
    """One scheduling page. Add your own with ``HubSpotSandbox.add_page``."""

    slug: str
    link_id: str
    name: str
    link_type: str
    organizer: Host
    timezone: str
    durations_ms: tuple[int, ...]
    increment_minutes: int
    buffer_ms: int = 0
    members: tuple[Host, ...] = ()
    hours: dict[int, tuple[int, int]] = field(default_factory=lambda: dict(WEEKDAY_HOURS))
    form_fields: tuple[FormField, ...] = STANDARD_FORM_FIELDS
    consent_checkboxes: tuple[ConsentCheckbox, ...] = ()
    offline: bool = False
    weeks_to_advertise: int = 8
    #: Slots starting sooner than this after "now" are not offered (HubSpot's "minimum notice").
    minimum_notice_ms: int = 0
    location: str = "Video call"
    created_at: str = "2025-01-15T10:00:00Z"
    #: Set by the v3 meeting-link PATCH; None: no payment link.
    payment_link_id: str | None = None
    updated_at: str | None = None

    @property
    def hosts(self) -> tuple[Host, ...]:
        """Who can take a meeting: the members of a team page, else the organizer."""
        return self.members or (self.organizer,)

    @property
    def increment_ms(self) -> int:
        return self.increment_minutes * MS_PER_MINUTE

    @property
    def legal_consent_enabled(self) -> bool:
        return bool(self.consent_checkboxes)


ALICE = Host(
    "1001", "2001", "alice.smith@sandbox.example", "Alice", "Smith", "America/New_York", owner_id="501"
)
BRUNO = Host("1002", "2002", "bruno.weber@sandbox.example", "Bruno", "Weber", "Europe/Berlin", owner_id="502")
CARLA = Host(
    "1003", "2003", "carla.jones@sandbox.example", "Carla", "Jones", "America/New_York", "OFFICE365", "503"
)
DIETER = Host(
    "1004", "2004", "dieter.roth@sandbox.example", "Dieter", "Roth", "Europe/Berlin", owner_id="504"
)

REQUIRED_CONSENT_ID = "4711"
OPTIONAL_CONSENT_ID = "4712"


def seeded_pages() -> list[MeetingPage]:
    """A fresh copy of the seeded pages (see the module docstring)."""
    return [
        MeetingPage(
            slug="alice-smith",
            link_id="3001",
            name="Meet Alice",
            link_type="PERSONAL_LINK",
            organizer=ALICE,
            timezone="America/New_York",
            durations_ms=(30 * MS_PER_MINUTE, 60 * MS_PER_MINUTE),
            increment_minutes=15,
        ),
        MeetingPage(
            slug="sales-team/round-robin",
            link_id="3002",
            name="Sales team",
            link_type="ROUND_ROBIN_CALENDAR",
            organizer=BRUNO,
            members=(BRUNO, CARLA),
            timezone="Europe/Berlin",
            durations_ms=(30 * MS_PER_MINUTE, 60 * MS_PER_MINUTE),
            increment_minutes=30,
            buffer_ms=15 * MS_PER_MINUTE,
        ),
        MeetingPage(
            slug="demo-with-form",
            link_id="3003",
            name="Product demo",
            link_type="PERSONAL_LINK",
            organizer=CARLA,
            timezone="America/New_York",
            durations_ms=(15 * MS_PER_MINUTE, 30 * MS_PER_MINUTE),
            increment_minutes=15,
            buffer_ms=10 * MS_PER_MINUTE,
            form_fields=(
                *STANDARD_FORM_FIELDS,
                FormField("company", "Company", required=True, custom=True),
                FormField(
                    "team_size",
                    "Team size",
                    required=False,
                    custom=True,
                    field_type="number",
                    value_type="number",
                ),
            ),
            consent_checkboxes=(
                ConsentCheckbox(
                    REQUIRED_CONSENT_ID, "I agree to receive the meeting follow-up.", required=True
                ),
                ConsentCheckbox(OPTIONAL_CONSENT_ID, "Send me the product newsletter.", required=False),
            ),
        ),
        MeetingPage(
            slug="offline-host",
            link_id="3004",
            name="Dieter (calendar disconnected)",
            link_type="PERSONAL_LINK",
            organizer=DIETER,
            timezone="Europe/Berlin",
            durations_ms=(30 * MS_PER_MINUTE,),
            increment_minutes=30,
            offline=True,
        ),
    ]


#: Recurring busy times seeded per host: (user id, weekday, start minute, end minute), host-local.
SEEDED_BUSY_RULES: tuple[tuple[str, int, int, int], ...] = (
    (ALICE.user_id, 0, 12 * 60, 13 * 60),  # Alice: Monday lunch
    (ALICE.user_id, 3, 12 * 60, 13 * 60),  # Alice: Thursday lunch
    (BRUNO.user_id, 2, 14 * 60, 16 * 60),  # Bruno: Wednesday afternoon
    (CARLA.user_id, 4, 9 * 60, 11 * 60),  # Carla: Friday morning
)
