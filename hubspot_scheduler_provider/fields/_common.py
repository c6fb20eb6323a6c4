"""Helpers every field parser shares: quoting values in messages, characters, size and nesting bounds."""

from __future__ import annotations

import ast
import difflib
import json
import reprlib
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.input_limits import (
    MAX_NESTING_DEPTH,
    MAX_STRUCTURED_TEXT_LENGTH,
    QUOTE_LENGTH,
)

#: Unicode categories no input may contain: controls (NUL, escape, C1), format characters (zero-width
#: spaces and joiners, bidi overrides that reorder what a reader sees, the BOM), lone surrogates, and
#: line/paragraph separators. Multi-line values (form answers) may still hold tab, CR and LF.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_MULTILINE_ALLOWED = frozenset("\t\r\n")
_TOO_DEEP = f"nested deeper than {MAX_NESTING_DEPTH} levels; a booking is at most 3 deep"


#: Bounded ``repr``: a few levels and items of a container, so a huge or deep value prints in no time.
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = QUOTE_LENGTH


def quote(text: str) -> str:
    """``repr`` of ``text``, cut to a readable length (a bad value can be megabytes long)."""
    if len(text) <= QUOTE_LENGTH:
        return repr(text)
    return f"{text[:QUOTE_LENGTH]!r}... ({len(text)} characters)"


def kind(value: Any) -> str:
    """``int 42``: the type and a short repr, for "expected ..., got ..." messages."""
    if value is None:
        return "nothing (None)"
    try:
        shown = _SHORT_REPR.repr(value)
    except Exception:  # a hostile __repr__ (or an int too long to print) must not replace the message
        shown = "<unprintable>"
    if len(shown) > QUOTE_LENGTH:
        shown = shown[: QUOTE_LENGTH - 3] + "..."
    return f"{type(value).__name__} {shown}"


def check_characters(field: str, text: str, *, multiline: bool = False) -> str:
    """``text`` unless it holds a control, format (zero-width, bidi) or separator character."""
    for position, char in enumerate(text):
        if unicodedata.category(char) in _REFUSED_CATEGORIES and not (
            multiline and char in _MULTILINE_ALLOWED
        ):
            name = unicodedata.name(char, "a control character")
            raise BookingInputError(
                field,
                f"contains U+{ord(char):04X} ({name}) at position {position}: control, zero-width and "
                "direction-changing characters are refused (they hide or reorder what people read)",
            )
    return text


def check_length(field: str, text: str, limit: int, what: str = "characters") -> str:
    if len(text) > limit:
        raise BookingInputError(field, f"{len(text)} {what} long, more than the {limit} allowed")
    return text


def check_nesting(field: str, value: Any) -> Any:
    """``value`` unless containers nest deeper than ``MAX_NESTING_DEPTH`` (walked without recursion)."""
    if not _is_container(value):
        return value
    pending: list[tuple[Any, int]] = [(value, 1)]
    seen: set[int] = set()
    while pending:
        item, depth = pending.pop()
        if id(item) in seen:
            continue  # shared or cyclic: its depth was checked where it was first met
        if depth > MAX_NESTING_DEPTH:
            raise BookingInputError(field, _TOO_DEEP)
        seen.add(id(item))
        children = item.values() if isinstance(item, Mapping) else item
        pending.extend((child, depth + 1) for child in children if _is_container(child))
    return value


def _is_container(value: Any) -> bool:
    if type(value) in _SCALARS:  # the common case, without the slower ABC check
        return False
    return isinstance(value, (Mapping, list, tuple, set, frozenset))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def decode_text(field: str, text: str) -> Any:
    """Decode a structure that Jinja rendered to text: JSON, or Python literal syntax (``str(dict)``)."""
    stripped = text.strip()
    if stripped in ("", "None", "null"):
        raise BookingInputError(
            field,
            f"rendered to {quote(text)}: nothing to book. The template probably pulls an empty XCom "
            "(wrong task_ids or key?)",
        )
    check_length(field, stripped, MAX_STRUCTURED_TEXT_LENGTH)
    try:
        decoded = json.loads(stripped)
    except RecursionError:
        decoded = _too_deep(field)
    except ValueError as json_error:
        try:
            # Without render_template_as_native_obj, Jinja renders a dict as its Python repr.
            decoded = ast.literal_eval(stripped)
        except RecursionError:
            decoded = _too_deep(field)
        except (ValueError, SyntaxError, TypeError, MemoryError):
            raise BookingInputError(field, f"not valid JSON ({quote(str(json_error))})") from None
    return check_nesting(field, decoded)


def _too_deep(field: str) -> Any:
    raise BookingInputError(field, _TOO_DEEP)


def decoded(field: str, value: Any) -> Any:
    """Structured inputs may arrive as text when a whole Jinja expression renders them."""
    if isinstance(value, str):
        return decode_text(field, value)
    return check_nesting(field, value)


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def check_count(field: str, items: Any, limit: int, what: str) -> None:
    if len(items) > limit:
        raise BookingInputError(field, f"{len(items)} {what}, more than the {limit} allowed")


def close_match(key: Any, known: Any) -> str | None:
    """The known name ``key`` is probably a typo of, if any."""
    close = difflib.get_close_matches(str(key)[:QUOTE_LENGTH], known, n=1, cutoff=0.6)
    return close[0] if close else None


def reject_unknown_keys(where: str, item: Mapping[Any, Any], known: Sequence[str]) -> None:
    for key in item:
        if key not in known:
            close = close_match(key, known)
            hint = f"did you mean {close!r}?" if close else f"known keys: {', '.join(known)}"
            shown = quote(key) if isinstance(key, str) else kind(key)
            raise BookingInputError(where, f"unknown key {shown} ({hint})")
