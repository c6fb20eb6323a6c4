"""``ListMeetingLinksOperator``: find meeting pages by name, type or organizer.

Module imports stay cheap (DAG files importing this are parsed often): the hook and pydantic models
load inside ``execute``.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from hubspot_scheduler_provider.operators._base import HubSpotHookMixin

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context


class ListMeetingLinksOperator(HubSpotHookMixin, BaseOperator):
    """List the account's meeting pages (scheduling links), following HubSpot's paging.

    Returns (to XCom) one dict per page with HubSpot's field names (``slug``, ``name``, ``type``,
    ``organizerUserId``, ``userIdsOfLinkMembers``, ``link``, ...), so a downstream task can pick a slug,
    e.g. ``[link["slug"] for link in links]`` for dynamic task mapping.

    :param name: Only pages whose name contains this (HubSpot's ``name`` filter). Templated.
    :param organizer_user_id: Only pages organized by this HubSpot user ID. Templated.
    :param link_type: Only pages of this type: ``PERSONAL_LINK``, ``ROUND_ROBIN_CALENDAR`` or
        ``GROUP_CALENDAR``. Templated.
    :param max_results: Stop after this many pages (None: all).
    :param hubspot_conn_id: Connection to HubSpot. Templated.
    :param api_version: HubSpot API version; default: the connection's.
    """

    template_fields: Sequence[str] = ("name", "organizer_user_id", "link_type", "hubspot_conn_id")
    ui_color = "#ff7a59"

    def __init__(
        self,
        *,
        name: str | None = None,
        organizer_user_id: str | int | None = None,
        link_type: str | None = None,
        max_results: int | None = None,
        hubspot_conn_id: str = "hubspot_default",
        api_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.organizer_user_id = organizer_user_id
        self.link_type = link_type
        self.max_results = max_results
        self.hubspot_conn_id = hubspot_conn_id
        self.api_version = api_version

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from hubspot_scheduler_provider._validation import require_whole_number
        from hubspot_scheduler_provider.errors import BookingInputError
        from hubspot_scheduler_provider.hooks.scheduler import check_link_type

        if self.link_type:
            check_link_type(self.link_type, field="link_type")
        if self.max_results is not None:
            require_whole_number("max_results", self.max_results, minimum=1, error=BookingInputError)
        organizer = self.organizer_user_id
        with self.hook_closed_after() as hook:
            links = hook.list_meeting_links(
                name=self.name or None,
                organizer_user_id=str(organizer) if organizer not in (None, "") else None,
                type=self.link_type or None,
            )
            found = [
                link.model_dump(mode="json", by_alias=True, exclude_none=True)
                for link in islice(links, self.max_results)
            ]
        self.log.info(
            "Found %d meeting page(s)%s: %s",
            len(found),
            self._filters(),
            ", ".join(repr(link["slug"]) for link in found) or "none",
        )
        return found

    def _filters(self) -> str:
        given = {
            "name": self.name,
            "organizer_user_id": self.organizer_user_id,
            "link_type": self.link_type,
        }
        shown = ", ".join(f"{key}={value!r}" for key, value in given.items() if value not in (None, ""))
        return f" matching {shown}" if shown else ""
