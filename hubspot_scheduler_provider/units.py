"""Units and wire forms of time that HubSpot uses, one home each (stdlib only: imported at parse time)."""

from __future__ import annotations

from datetime import datetime, timezone

#: HubSpot's Scheduler API counts durations and instants in milliseconds.
MS_PER_MINUTE = 60_000


def minutes_text(milliseconds: int) -> str:
    """``30 min (1800000 ms)``: how messages show a duration, in both units people compare."""
    return f"{milliseconds // MS_PER_MINUTE} min ({milliseconds} ms)"


def parse_iso_instant(text: str) -> datetime:
    """``datetime.fromisoformat`` that also reads HubSpot's ``Z`` suffix (Python 3.10 does not).

    Raises ``ValueError`` for anything else, like ``fromisoformat``.
    """
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)


def utc_text(epoch_seconds: float) -> str:
    """An epoch moment as ``2026-12-02T14:00:00Z``, how log lines show when something was sent."""
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration_not_offered(slug: str, duration_ms: int, offered_ms: list[int]) -> str:
    """The problem text when page ``slug`` does not offer ``duration_ms``, quoting what it offers."""
    offers = ", ".join(minutes_text(ms) for ms in sorted(offered_ms)) or "nothing"
    return f"{minutes_text(duration_ms)} is not offered by page {slug!r}; it offers {offers}"
