"""The bounds every DAG input is held to, in one place (the field parsers read them from here).

Each bound is far above any real booking and far below what could hurt: a value past one is refused
with ``BookingInputError`` naming the field, before any request, so a bad row neither reaches HubSpot
nor fills logs, XCom and error messages with megabytes. Stdlib only: operator modules import the field
parsers at DAG-parse time.
"""

from __future__ import annotations

from datetime import datetime, timezone

#: RFC 5321's limit on a forward path (256) less its angle brackets; email-validator enforces it too
#: (and 64 for the local part), this cap only spares it megabyte inputs.
MAX_EMAIL_LENGTH = 254
#: RFC 5321 section 4.5.3.1.1: the part before the ``@``.
MAX_EMAIL_LOCAL_LENGTH = 64
#: First and last names. HubSpot stores up to 65,536 characters per property, but nobody's name is
#: longer than this, and HubSpot quotes names in the invitation emails it sends.
MAX_NAME_LENGTH = 256
#: Meeting page slugs (``team/page``); HubSpot's own are a few dozen characters.
MAX_SLUG_LENGTH = 256
#: Other single-line texts (meeting titles, outcomes, form question names).
MAX_TEXT_LENGTH = 1_024
#: BCP 47 tags: RFC 5646 section 4.4.1 asks implementations to support 35 characters, which covers
#: every tag in use (``en-us``, ``zh-hant-tw``).
MAX_LOCALE_LENGTH = 35
#: The longest IANA zone name is 32 characters (``America/Argentina/ComodRivadavia``). A long name
#: must never reach the zone database, whose file lookup fails with the install path in the message.
MAX_TIMEZONE_LENGTH = 64
#: HubSpot user, owner, contact and consent type IDs are 64-bit integers (at most 19 digits).
MAX_ID_LENGTH = 20
MAX_ID_VALUE = 2**63 - 1
#: IDs in one list (``likely_available_user_ids``, ``contact_ids``): a round robin has dozens of hosts.
MAX_IDS = 100
#: Form answers in one booking: a meeting page's form has a handful of questions.
MAX_FORM_FIELDS = 100
#: One form answer (multi-line text allowed): HubSpot's limit for a property value.
MAX_FORM_VALUE_LENGTH = 65_536
#: Consent answers in one booking: a page has one checkbox per communication type.
MAX_CONSENTS = 50
#: A ``payload`` or structured field rendered to text (JSON or a Python literal). A booking with a
#: hundred ordinary form answers is far below this; reading Python-literal text costs about 5 s per MB,
#: so more would let one bad row stall a worker. Large answers can be passed as objects instead
#: (``render_template_as_native_obj=True``), which are not parsed from text.
MAX_STRUCTURED_TEXT_LENGTH = 200_000
#: Containers within containers in a payload (``{"formFields": [{"name": ...}]}`` is 3). Deeper input
#: is refused before anything walks it, so nesting can never raise ``RecursionError``.
MAX_NESTING_DEPTH = 8
#: Start and end times: from March 1973 (epoch milliseconds below that are almost certainly epoch
#: seconds) to 2200 (far enough for any schedule, far enough from ``datetime.max`` that adding a
#: duration or converting between zones cannot overflow).
EARLIEST_INSTANT = datetime(1973, 3, 3, 9, 46, 40, tzinfo=timezone.utc)
LATEST_INSTANT = datetime(2200, 1, 1, tzinfo=timezone.utc)
#: Longest duration: a week (no meeting page offers more; multi-day calendar events fit).
MAX_DURATION_MS = 7 * 24 * 60 * 60 * 1000
#: Characters of an offending value quoted in a message; the rest is counted, not shown.
QUOTE_LENGTH = 60
#: A start time or duration written as text (``2026-12-01T14:00:00.000+01:00``, ``PT30M``, epoch ms).
MAX_TIME_TEXT_LENGTH = 64
