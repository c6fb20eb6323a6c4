"""Extra links on a booking task in the Airflow UI: the booked contact in HubSpot, and the video call.

Persisted the Airflow 3 way: the operator pushes each URL to XCom under the link's ``xcom_key`` while it
runs, ``get_link`` reads it back. Airflow 3's API server reads that XCom directly (it never imports this
module); Airflow 2's webserver calls ``get_link``. So the URL is computed once, with the connection at
hand, and never at page-render time.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseOperator, Context, TaskInstanceKey

#: Attribute of a running operator holding the URLs persisted so far (absent where the DAG was only parsed).
RUN_LINKS_ATTRIBUTE = "_hubspot_link_urls"
#: HubSpot's URL of a contact record (object type 0-1) in a portal.
CONTACT_URL = "https://{ui_domain}/contacts/{portal_id}/record/0-1/{contact_id}"
#: The web app host of portals hosted in North America; others (``app-eu1.hubspot.com``) are told by
#: the account details' ``uiDomain``.
DEFAULT_UI_DOMAIN = "app.hubspot.com"
#: A ``uiDomain`` used in a link must be a HubSpot host: a link never leads elsewhere.
_HUBSPOT_HOST = re.compile(r"(?:[a-z0-9-]+\.)*hubspot\.com")


class _XComUrlLink(BaseOperatorLink):
    """A link whose URL the task stored in XCom."""

    name: ClassVar[str]
    key: ClassVar[str]

    @property
    def xcom_key(self) -> str:
        # Airflow 3 re-pushes get_link()'s result under xcom_key after the task; same key, same value.
        return self.key

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        # Airflow 3 asks every link right after the task, in the task's process: answer from the operator
        # that just ran, since asking the XCom API for a link never pushed logs "XCom not found" as ERROR.
        known = getattr(operator, RUN_LINKS_ATTRIBUTE, None)
        url: Any = (
            known.get(self.key) if isinstance(known, dict) else XCom.get_value(ti_key=ti_key, key=self.key)
        )
        return url if isinstance(url, str) else ""

    @classmethod
    def persist(cls, context: Context, operator: BaseOperator, url: str) -> None:
        context["ti"].xcom_push(key=cls.key, value=url)
        getattr(operator, RUN_LINKS_ATTRIBUTE)[cls.key] = url


def start_run_links(operator: BaseOperator) -> None:
    """Mark ``operator`` as running here: its links are known in memory (none yet)."""
    setattr(operator, RUN_LINKS_ATTRIBUTE, {})


class HubSpotContactLink(_XComUrlLink):
    """The contact HubSpot created or updated for the booking."""

    name = "HubSpot contact"
    key = "hubspot_contact_url"

    @staticmethod
    def url(portal_id: str | int, contact_id: str | int, ui_domain: str | None = None) -> str:
        """The contact's record; on ``ui_domain`` (HubSpot's ``uiDomain``) when it is a HubSpot host."""
        host = (ui_domain or "").strip().lower()
        if not _HUBSPOT_HOST.fullmatch(host):
            host = DEFAULT_UI_DOMAIN
        return CONTACT_URL.format(ui_domain=host, portal_id=portal_id, contact_id=contact_id)


class HubSpotWebConferenceLink(_XComUrlLink):
    """The booked meeting's video call (``webConferenceUrl``), when the page adds one."""

    name = "Web conference"
    key = "hubspot_web_conference_url"
