"""Small argument checks shared by hooks, operators and the batch engine (one wording everywhere).

Each check takes the error to raise as ``error(name, problem)``, because callers differ on purpose:
bad task input is a ``BookingInputError`` (no retry), a bad hook or limiter setting a
``HubSpotConfigError`` or ``ValueError`` (a DAG-author bug, raised at parse time). Imports stay light:
operator modules use this at DAG-parse time.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import ValidationError

    ErrorFactory = Callable[[str, str], Exception]

#: Shown at most, of a pydantic error's problems; the rest are counted.
SUMMARY_PROBLEMS = 5


def value_error(name: str, problem: str) -> ValueError:
    return ValueError(f"{name}: {problem}")


def require_whole_number(name: str, value: Any, *, minimum: int, error: ErrorFactory = value_error) -> int:
    """``value`` if it is an ``int`` (not a bool) >= ``minimum``, else ``error(name, ...)``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise error(name, f"must be a whole number >= {minimum}, got {value!r}")
    return value


def require_positive_number(name: str, value: Any, *, error: ErrorFactory = value_error) -> float:
    """``value`` as a float if it is a finite int or float > 0 (not a bool), else ``error(name, ...)``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (value > 0 and math.isfinite(value))
    ):
        raise error(name, f"must be a positive number, got {value!r}")
    return float(value)


def require_choice(
    name: str, value: Any, choices: tuple[str, ...], *, error: ErrorFactory = value_error
) -> str:
    if value not in choices:
        raise error(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def validation_summary(error: ValidationError, *, detail: Literal["type", "msg"] = "type") -> str:
    """Where and what of a pydantic error, never the offending values (they may be personal data).

    ``detail="type"`` (``results.0.id: missing``) suits HubSpot answers that break the spec;
    ``detail="msg"`` (pydantic's sentence) suits a DAG author's input.
    """
    problems = [f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e[detail]}" for e in error.errors()]
    shown = "; ".join(problems[:SUMMARY_PROBLEMS])
    hidden = len(problems) - SUMMARY_PROBLEMS
    return shown + (f"; and {hidden} more" if hidden > 0 else "")
