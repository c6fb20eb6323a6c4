"""Parsers for what DAG authors write: one function per kind of field, each ``(field, value) -> parsed``.

Every parser raises :class:`~hubspot_scheduler_provider.errors.BookingInputError` naming ``field`` for a
value it refuses, never another exception, before anything is sent. Bounds live in
:mod:`hubspot_scheduler_provider.input_limits`. Pure and light (no pydantic, no HTTP): the hook, the
operators, the sensor, availability and :mod:`~hubspot_scheduler_provider.booking_input` use them.
"""

from __future__ import annotations

from hubspot_scheduler_provider._validation import (
    require_choice,
    require_positive_number,
    require_whole_number,
    validation_summary,
)
from hubspot_scheduler_provider.fields._common import check_nesting, decode_text, kind, quote
from hubspot_scheduler_provider.fields.structured import (
    parse_form_fields,
    parse_legal_consent_responses,
    parse_user_ids,
)
from hubspot_scheduler_provider.fields.text import (
    parse_email,
    parse_identifier,
    parse_locale,
    parse_name,
    parse_slug,
    parse_switch,
    parse_text,
)
from hubspot_scheduler_provider.fields.times import (
    format_in_zone,
    parse_duration,
    parse_start_time,
    parse_timezone,
)

__all__ = [
    "check_nesting",
    "decode_text",
    "format_in_zone",
    "kind",
    "parse_duration",
    "parse_email",
    "parse_form_fields",
    "parse_identifier",
    "parse_legal_consent_responses",
    "parse_locale",
    "parse_name",
    "parse_slug",
    "parse_start_time",
    "parse_switch",
    "parse_text",
    "parse_timezone",
    "parse_user_ids",
    "quote",
    "require_choice",
    "require_positive_number",
    "require_whole_number",
    "validation_summary",
]
