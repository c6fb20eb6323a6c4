"""Asset events for bookings: one event per meeting booked, on the assets a booking task declares as outlets.

Airflow emits ONE event per concrete outlet asset when a task succeeds, whatever the task did; a batch
that books 40 meetings needs 40 events, each with its own ``extra``, and a task that booked nothing new
needs none. The mechanism that gives this on Airflow 2.10+ and 3.x is the asset alias: each declared
``Asset`` (``Dataset`` on 2.x) in ``outlets`` is replaced, when the operator is built, by an
``AssetAlias`` named ``hubspot-bookings:<asset name>``; at the end of ``execute`` each booking adds one
event through it (``context["outlet_events"][alias].add(asset, extra=...)``). Consumers schedule on
the asset itself, as usual. Outlets that are not concrete assets (aliases, refs) are left as they are.

Which bookings emit:

* booked by this try (HubSpot answered): yes;
* an earlier try's booking, found in this task instance's ledger or in the CRM (``"reconciled":
  true``): yes: after a failed try, its event never went out. After a SUCCESSFUL try that is cleared
  and run again, the ledger returns the same booking and it emits again: events are at least once, so
  consumers dedupe on ``calendarEventId`` (or ``crmMeetingId``);
* a cross-run ``booking_key`` repeat (another run's booking returned): no: that run emitted it. On
  Airflow < 3.3 such a repeat is found through the CRM and cannot be told from an earlier try's
  booking, so it emits again (at least once, never lost).

``extra`` is built from an allow-list (:data:`EXTRA_FIELDS`; a booking found in the CRM has
``crmMeetingId`` and no ``calendarEventId``): never the booker's email, names, form
answers or anything from the connection. Each text value is cut to :data:`MAX_EXTRA_VALUE_CHARS`
(ending in ``…``): the values come from HubSpot's answer, and a hostile one must not put megabytes into
the metadata database with every event.

Naming convention: one asset per HubSpot portal and meeting page, :func:`booking_asset` (name
``hubspot-meetings/<portal id>/<slug>``, URI ``hubspot://<portal id>/meeting-pages/<slug>``, the
slug's ``/`` percent-encoded so a team page stays one path segment) for what this provider books, and
:func:`crm_meetings_asset` (``.../crm-meetings``) for every booking of the page, which an asset watcher
with ``triggers.new_bookings.NewBookingsTrigger`` reports, and :func:`crm_meeting_partitions_asset`
(``.../crm-meeting-partitions``): the same bookings relayed as one partition per CRM meeting id
(``operators.one_run_per_booking``, Airflow 3.3+). The provider registers the
``hubspot`` URI scheme (``asset-uris``/``dataset-uris`` in ``get_provider_info``) with
:func:`sanitize_uri` as its normaliser.

Module imports stay cheap: operators import this at module level.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from urllib.parse import SplitResult

    from hubspot_scheduler_provider.booking_flow import BookingFlow, BookingOutcome

#: The URI scheme of booking assets.
URI_SCHEME = "hubspot"
#: The last path segment of :func:`crm_meetings_asset` URIs.
CRM_MEETINGS = "crm-meetings"
#: The last path segment of :func:`crm_meeting_partitions_asset` URIs.
CRM_MEETING_PARTITIONS = "crm-meeting-partitions"
#: Prefix of the alias that carries a declared asset's booking events.
ALIAS_PREFIX = "hubspot-bookings:"
#: The keys of an event's ``extra``, in HubSpot's spelling (``duration`` in milliseconds).
EXTRA_FIELDS = ("slug", "start", "duration", "calendarEventId", "contactId", "crmMeetingId", "reconciled")
#: Booking answers from these sources emit; ``"booking_key"`` (another run's booking) does not.
EMITTING_SOURCES = frozenset({"hubspot", "ledger", "crm"})
#: Longest text value of an event's ``extra`` (a Google Calendar event id has at most 1,024 characters).
MAX_EXTRA_VALUE_CHARS = 1024


def booking_asset(portal_id: str | int, slug: str, **kwargs: Any) -> Any:
    """The asset of bookings this provider's operators make on page ``slug`` of portal ``portal_id``.

    An ``Asset`` on Airflow 3 (``name`` ``hubspot-meetings/<portal>/<slug>``), a ``Dataset`` (URI only)
    on Airflow 2. ``kwargs`` go to the class.
    """
    return _page_asset("hubspot-meetings", portal_id, slug, "", **kwargs)


def crm_meetings_asset(portal_id: str | int, slug: str, **kwargs: Any) -> Any:
    """The asset of EVERY meeting booked on page ``slug`` (whoever booked it), as HubSpot's CRM shows
    them: the one to watch with ``NewBookingsTrigger`` (``watchers=[AssetWatcher(...)]`` in ``kwargs``).
    Name ``hubspot-crm-meetings/<portal>/<slug>``, URI ``.../meeting-pages/<slug>/crm-meetings``. Kept
    apart from :func:`booking_asset` so a booking by this provider does not count twice."""
    return _page_asset("hubspot-crm-meetings", portal_id, slug, f"/{CRM_MEETINGS}", **kwargs)


def crm_meeting_partitions_asset(portal_id: str | int, slug: str, **kwargs: Any) -> Any:
    """The asset that carries :func:`crm_meetings_asset`'s bookings as one partition per CRM meeting id
    (Airflow 3.3+): the outlet of ``NewBookingsToPartitionsOperator``, and what a DAG scheduled with
    ``PartitionedAssetTimetable(assets=...)`` listens to, to run once per meeting. Name
    ``hubspot-crm-meeting-partitions/<portal>/<slug>``, URI
    ``.../meeting-pages/<slug>/crm-meeting-partitions``."""
    return _page_asset(
        "hubspot-crm-meeting-partitions", portal_id, slug, f"/{CRM_MEETING_PARTITIONS}", **kwargs
    )


def _page_asset(prefix: str, portal_id: str | int, slug: str, suffix: str, **kwargs: Any) -> Any:
    from airflow.providers.common.compat.assets import Asset
    from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

    portal = str(portal_id).strip()
    if not portal.isdigit():
        raise ValueError(f"portal_id: expected HubSpot's numeric portal id, got {portal_id!r}")
    page = slug.strip("/ ") if isinstance(slug, str) else ""
    if not page:
        raise ValueError(f"slug: expected a meeting page slug, got {slug!r}")
    uri = f"{URI_SCHEME}://{portal}/meeting-pages/{quote(page, safe='')}{suffix}"
    if AIRFLOW_V_3_0_PLUS:
        return Asset(name=f"{prefix}/{portal}/{page}", uri=uri, **kwargs)
    return Asset(uri, **kwargs)


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's normaliser for ``hubspot://`` URIs: ``hubspot://<portal id>/meeting-pages/<slug>``,
    optionally followed by ``/crm-meetings`` or ``/crm-meeting-partitions``."""
    parts = [part for part in uri.path.split("/") if part]
    if not uri.netloc.isdigit():
        raise ValueError(f"hubspot:// asset URI needs the numeric portal id as its host, got {uri.netloc!r}")
    if (
        len(parts) not in (2, 3)
        or parts[0] != "meeting-pages"
        or not unquote(parts[1]).strip()
        or parts[2:] not in ([], [CRM_MEETINGS], [CRM_MEETING_PARTITIONS])
    ):
        raise ValueError(
            "hubspot:// asset URI path must be /meeting-pages/<slug>[/crm-meetings|/crm-meeting-partitions] "
            "(a team slug's '/' "
            f"encoded as %2F), got {uri.path!r}"
        )
    path = f"/meeting-pages/{quote(unquote(parts[1]), safe='')}" + "".join(f"/{p}" for p in parts[2:])
    return uri._replace(path=path, query="", fragment="")


def alias_for(asset: Any) -> Any:
    """The alias that carries ``asset``'s booking events."""
    from airflow.providers.common.compat.assets import AssetAlias

    return AssetAlias(f"{ALIAS_PREFIX}{_name_of(asset)}")


def route_outlets(outlets: Any) -> tuple[Any, list[Any]]:
    """``outlets`` with each concrete asset replaced by its alias, and the assets replaced (for
    :func:`emit`). Called in the operator's ``__init__``; ``None`` stays ``None``."""
    if outlets is None:
        return None, []
    from airflow.providers.common.compat.assets import Asset

    listed = list(outlets) if isinstance(outlets, (list, tuple)) else [outlets]
    assets = [outlet for outlet in listed if isinstance(outlet, Asset)]
    routed = [outlet for outlet in listed if not isinstance(outlet, Asset)]
    routed.extend(alias_for(asset) for asset in assets)
    return routed, assets


def booking_extra(answer: Mapping[str, Any], *, slug: str) -> dict[str, Any]:
    """An event's ``extra`` from a booking answer: only :data:`EXTRA_FIELDS`, as JSON scalars, text cut
    to :data:`MAX_EXTRA_VALUE_CHARS`."""
    extra: dict[str, Any] = {"slug": bounded(slug)}
    for key in EXTRA_FIELDS[1:]:
        value = answer.get(key)
        if key == "reconciled":
            extra[key] = bool(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            extra[key] = value  # answer_json refuses numbers of more than 40 digits
        elif value is not None:
            extra[key] = bounded(value if isinstance(value, str) else str(value))
    return extra


def bounded(text: str) -> str:
    """``text`` cut to :data:`MAX_EXTRA_VALUE_CHARS`, ending in ``…`` when cut (no real id has one)."""
    if len(text) <= MAX_EXTRA_VALUE_CHARS:
        return text
    return text[: MAX_EXTRA_VALUE_CHARS - 1] + "…"


def emit(context: Any, assets: Iterable[Any], extras: Iterable[Mapping[str, Any]]) -> int:
    """Add one event per ``extras`` item on each asset of ``assets``; the number of events added."""
    listed = list(assets)
    if not listed:
        return 0
    outlet_events = context["outlet_events"]
    added = 0
    for extra in extras:
        for asset in listed:
            outlet_events[alias_for(asset)].add(asset, extra=dict(extra))
            added += 1
    return added


def emits(outcome: BookingOutcome) -> bool:
    """Whether a booking's event goes out from this task (see the module docstring)."""
    return outcome.source in EMITTING_SOURCES


class BatchEvents:
    """Collects the events of a batch as its items are booked (from several threads): each booked
    answer's ``extra`` (with the item's slug, which HubSpot's answer lacks) and whether it emits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._extras: dict[tuple[Any, ...], dict[str, Any] | None] = {}

    def watch(self, flow: BookingFlow) -> None:
        """Wrap ``flow.book`` (this instance only) to note each outcome."""
        book = flow.book

        def tracked(booking: Any, *args: Any, **kwargs: Any) -> BookingOutcome:
            outcome = book(booking, *args, **kwargs)
            extra = booking_extra(outcome.raw, slug=booking.slug) if emits(outcome) else None
            with self._lock:
                self._extras[_identity(outcome.raw)] = extra
            return outcome

        setattr(flow, "book", tracked)  # noqa: B010 - an instance attribute shadows the method

    def extras(self, results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The extras of the booked results (in result order) whose events go out; failed items and
        another run's bookings have none."""
        chosen = []
        for result in results:
            if "error" in result:
                continue
            extra = self._extras.get(_identity(result))
            if extra is not None:
                chosen.append(extra)
        return chosen


def _identity(answer: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        answer.get("calendarEventId") or answer.get("crmMeetingId"),
        answer.get("start"),
        answer.get("contactId"),
    )


def _name_of(asset: Any) -> str:
    return str(getattr(asset, "name", None) or asset.uri)
