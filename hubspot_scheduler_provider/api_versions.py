"""HubSpot Scheduler API versions and what differs between them.

The request and response shapes are identical across versions; only the path prefix and, per the
official specs, the unit of the booking ``duration`` differ. HubSpot's 2026-03 spec documents
``duration`` in *minutes* while v3 and 2026-09 document milliseconds. That may be a documentation
slip HubSpot corrects later, so the unit is kept here, in one place, and everything else
(models, operator, sandbox) converts through :func:`duration_to_wire` / :func:`duration_from_wire`.
Users always speak milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hubspot_scheduler_provider.units import MS_PER_MINUTE

DurationUnit = Literal["milliseconds", "minutes"]


@dataclass(frozen=True)
class ApiVersion:
    name: str
    duration_unit: DurationUnit
    #: Last month HubSpot supports this version, if announced.
    sunset: str | None = None

    @property
    def scheduler_prefix(self) -> str:
        return f"/scheduler/{self.name}/meetings"


API_VERSIONS: dict[str, ApiVersion] = {
    "v3": ApiVersion("v3", "milliseconds", sunset="2027-09"),
    "2026-03": ApiVersion("2026-03", "minutes"),
    "2026-09": ApiVersion("2026-09", "milliseconds"),
}
#: The newest stable date version; v3 support ends in September 2027.
DEFAULT_API_VERSION = "2026-09"


def get_api_version(name: str | None) -> ApiVersion:
    """Return the version called ``name`` (default: newest stable), or raise naming the choices."""
    key = (name or DEFAULT_API_VERSION).strip()
    try:
        return API_VERSIONS[key]
    except KeyError:
        choices = ", ".join(API_VERSIONS)
        raise ValueError(
            f"api_version: unknown HubSpot Scheduler API version {key!r}; use one of {choices}"
        ) from None


def duration_to_wire(duration_ms: int, version: ApiVersion) -> int:
    """Convert a duration in milliseconds to the unit ``version`` expects on the wire."""
    if version.duration_unit == "minutes":
        if duration_ms % MS_PER_MINUTE:
            raise ValueError(
                f"duration: {duration_ms} ms is not a whole number of minutes, which API version "
                f"{version.name} requires"
            )
        return duration_ms // MS_PER_MINUTE
    return duration_ms


def duration_from_wire(value: int, version: ApiVersion) -> int:
    """Convert a wire duration of ``version`` back to milliseconds."""
    return value * MS_PER_MINUTE if version.duration_unit == "minutes" else value
