"""Structured fields: form answers, consent answers and ID lists (lists or mappings, or their text)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.fields._common import (
    check_characters,
    check_count,
    check_length,
    decoded,
    is_list,
    kind,
    reject_unknown_keys,
)
from hubspot_scheduler_provider.fields.text import parse_identifier, parse_text
from hubspot_scheduler_provider.input_limits import (
    MAX_CONSENTS,
    MAX_FORM_FIELDS,
    MAX_FORM_VALUE_LENGTH,
    MAX_ID_VALUE,
    MAX_IDS,
    QUOTE_LENGTH,
)


def parse_form_fields(field: str, value: Any) -> list[dict[str, str]]:
    """``[{"name": ..., "value": ...}]`` from that list or a plain ``{name: value}`` mapping."""
    value = decoded(field, value)
    if isinstance(value, Mapping):
        check_count(field, value, MAX_FORM_FIELDS, "answers")
        items: Iterator[tuple[str, Any, Any]] = (
            (_answer_label(field, index, name), name, answer)
            for index, (name, answer) in enumerate(value.items())
        )
    elif is_list(value):
        check_count(field, value, MAX_FORM_FIELDS, "answers")
        items = (_form_field_item(f"{field}[{index}]", item) for index, item in enumerate(value))
    else:
        raise BookingInputError(
            field, f"expected a list of {{name, value}} or a {{name: value}} mapping, got {kind(value)}"
        )
    answers: dict[str, str] = {}
    for where, name, answer in items:
        name = parse_text(f"{where}.name", name)
        if name in answers:
            raise BookingInputError(where, f"question {name!r} is answered twice")
        answers[name] = _form_value(f"{where}.value", answer)
    return [{"name": name, "value": answer} for name, answer in answers.items()]


def _answer_label(field: str, index: int, name: Any) -> str:
    """``form_fields['company']``, or by position when the name is not short text."""
    if isinstance(name, str) and len(name) <= QUOTE_LENGTH:
        return f"{field}[{name!r}]"
    return f"{field}[{index}]"


def _form_field_item(where: str, item: Any) -> tuple[str, Any, Any]:
    if not isinstance(item, Mapping):
        raise BookingInputError(where, f"expected {{'name': ..., 'value': ...}}, got {kind(item)}")
    reject_unknown_keys(where, item, ("name", "value"))
    for key in ("name", "value"):
        if item.get(key) is None:
            raise BookingInputError(f"{where}.{key}", "required but not given")
    return where, item["name"], item["value"]


def _form_value(where: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) > MAX_ID_VALUE:
            raise BookingInputError(where, "number too large for a form answer; give it as text")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BookingInputError(where, f"{value!r} is not a number a form can hold")
        return str(value)
    if isinstance(value, str):
        check_length(where, value, MAX_FORM_VALUE_LENGTH)
        return check_characters(where, value, multiline=True)
    if value is None:
        raise BookingInputError(where, "required but not given")
    raise BookingInputError(where, f"expected text, a number or a boolean, got {kind(value)}")


_CONSENT_KEYS = {
    "communicationTypeId": "communication_type_id",
    "communication_type_id": "communication_type_id",
    "consented": "consented",
}


def parse_legal_consent_responses(field: str, value: Any) -> list[dict[str, Any]]:
    """``[{"communicationTypeId": ..., "consented": bool}]``; snake_case keys accepted."""
    value = decoded(field, value)
    if not is_list(value):
        raise BookingInputError(
            field, f"expected a list of {{communicationTypeId, consented}}, got {kind(value)}"
        )
    check_count(field, value, MAX_CONSENTS, "consent answers")
    responses: dict[str, bool] = {}
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping):
            raise BookingInputError(
                where, f"expected {{'communicationTypeId': ..., 'consented': ...}}, got {kind(item)}"
            )
        reject_unknown_keys(where, item, tuple(_CONSENT_KEYS))
        normalised = {_CONSENT_KEYS[key]: answer for key, answer in item.items() if answer is not None}
        if "communication_type_id" not in normalised:
            raise BookingInputError(f"{where}.communicationTypeId", "required but not given")
        type_id = parse_identifier(f"{where}.communicationTypeId", normalised["communication_type_id"])
        consented = normalised.get("consented")
        if not isinstance(consented, bool):
            got = "nothing" if consented is None else kind(consented)
            raise BookingInputError(f"{where}.consented", f"expected true or false, got {got}")
        if type_id in responses:
            raise BookingInputError(where, f"communication type {type_id!r} is answered twice")
        responses[type_id] = consented
    return [{"communication_type_id": type_id, "consented": given} for type_id, given in responses.items()]


def parse_user_ids(field: str, value: Any) -> list[str]:
    """HubSpot user IDs (numbers or strings of digits) as strings."""
    value = decoded(field, value)
    if not is_list(value):
        raise BookingInputError(field, f"expected a list of HubSpot user IDs, got {kind(value)}")
    check_count(field, value, MAX_IDS, "IDs")
    return [parse_identifier(f"{field}[{index}]", item) for index, item in enumerate(value)]
