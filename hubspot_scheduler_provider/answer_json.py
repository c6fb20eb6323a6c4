"""Parse an answer's JSON so that no body, however hostile, raises anything but :class:`UnreadableJson`.

``json.loads`` alone lets through, or raises outside ``ValueError``: deep nesting (``RecursionError``, and
later ``repr``/pydantic recursion on what it returned), ``NaN``/``Infinity`` (not JSON, but Python reads
them), numbers too long for ``int`` (``ValueError`` only since Python 3.11's digit limit) or too large
for ``float`` (silently ``inf``), invalid UTF-8 and lone surrogates. Each is refused here, with a short
reason the caller puts into a ``HubSpotResponseError`` (with the correlation id).

Standard library only: ``errors`` imports this at DAG-parse time.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Deeper than any HubSpot answer (their error bodies nest 4 levels, booking pages about 8).
MAX_DEPTH = 64
#: Digits in one number; HubSpot's ids and epoch milliseconds have at most 20.
MAX_NUMBER_DIGITS = 40


_SURROGATE = re.compile("[\ud800-\udfff]")


class UnreadableJson(ValueError):
    """The body is not JSON this provider accepts; ``str()`` is a short reason, never the body."""


def _number(text: str) -> int | float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise UnreadableJson(f"a number with {len(text)} digits")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise UnreadableJson(f"a number out of range ({text[:20]})")
    return value


def _constant(name: str) -> Any:
    raise UnreadableJson(f"{name} is not JSON")


def _check_structure(value: Any) -> None:
    """Iterative (never recursion): containers deeper than :data:`MAX_DEPTH` are refused, and strings
    holding a lone surrogate (``"\\ud800"`` parses, but cannot be encoded again: logging it would raise)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise UnreadableJson("a string with an invalid \\u escape (lone surrogate)")
            continue
        if isinstance(item, dict):
            children: list[Any] = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise UnreadableJson(f"nested deeper than {MAX_DEPTH} levels")
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list, str)))


def loads_answer(body: bytes | str) -> Any:
    """The JSON value of ``body`` (UTF-8), or :class:`UnreadableJson` saying briefly why not."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UnreadableJson(f"not UTF-8 (byte {error.start})") from None
    else:
        text = body
    try:
        value = json.loads(
            text,
            parse_int=_number,
            parse_float=_number,
            parse_constant=_constant,
        )
    except UnreadableJson:
        raise
    except RecursionError:
        raise UnreadableJson(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else type(error).__name__
        raise UnreadableJson(f"not JSON ({reason})") from None
    _check_structure(value)
    return value
