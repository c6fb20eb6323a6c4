"""The "HubSpot contact" link opens the portal's own web app host: ``app-eu1.hubspot.com`` for EU portals.

The host comes from ``uiDomain`` of ``/account-info/v3/details``, read only when the portal id is looked
up there anyway; a ``portal_id`` in the connection means no lookup and HubSpot's default host.
"""

from __future__ import annotations

from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG

from hubspot_scheduler_provider.links import HubSpotContactLink
from hubspot_scheduler_provider.operators.book_meeting import BookMeetingOperator
from tests.operators.conftest import (
    BOOKER,
    SANDBOX_NOW,
    SANDBOX_PORTAL_ID,
    TOKEN,
    extra_links,
    run_dag,
    xcom_value,
)

EU_UI_DOMAIN = "app-eu1.hubspot.com"


def _book(dag_id: str) -> Any:
    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False) as dag:
        BookMeetingOperator(task_id="book", payload=BOOKER)
    dag_run = run_dag(dag)
    assert dag_run.state == "success"
    return dag, dag_run


@pytest.mark.parametrize("ui_domain", [EU_UI_DOMAIN, "app.hubspot.com"])
def test_contact_link_uses_the_portals_ui_domain(hubspot_sandbox_factory, airflow_db, ui_domain):
    sandbox = hubspot_sandbox_factory(token=TOKEN, now=SANDBOX_NOW, ui_domain=ui_domain)

    dag, dag_run = _book(f"book_link_domain_{ui_domain.replace('.', '_').replace('-', '_')}")

    contact_id = xcom_value(dag_run, "book")["contactId"]
    expected = f"https://{ui_domain}/contacts/{SANDBOX_PORTAL_ID}/record/0-1/{contact_id}"
    assert extra_links(dag_run, dag, "book")["HubSpot contact"] == expected
    assert xcom_value(dag_run, "book", key="hubspot_contact_url") == expected
    assert [r.path for r in sandbox.requests if r.method == "GET"] == ["/account-info/v3/details"]


def test_portal_id_from_the_connection_keeps_the_default_host(hubspot_sandbox_factory, airflow_db):
    sandbox = hubspot_sandbox_factory(
        token=TOKEN, now=SANDBOX_NOW, ui_domain=EU_UI_DOMAIN, conn_extra={"portal_id": "99"}
    )

    dag, dag_run = _book("book_link_domain_from_connection")

    contact_id = xcom_value(dag_run, "book")["contactId"]
    assert extra_links(dag_run, dag, "book")["HubSpot contact"] == (
        f"https://app.hubspot.com/contacts/99/record/0-1/{contact_id}"
    )
    assert [r.method for r in sandbox.requests] == ["POST"]  # no account-info lookup


@pytest.mark.parametrize(
    "ui_domain", [None, "", "evil.example.com", "app-eu1.hubspot.com.evil.example", "evilhubspot.com"]
)
def test_a_ui_domain_that_is_not_a_hubspot_host_is_not_linked(ui_domain):
    assert HubSpotContactLink.url(7, 42, ui_domain) == "https://app.hubspot.com/contacts/7/record/0-1/42"


def test_sandbox_account_details_answer_the_eu_domain(hubspot_sandbox_factory):
    from hubspot_scheduler_provider.hooks.scheduler import HubSpotSchedulerHook

    hubspot_sandbox_factory(token=TOKEN, ui_domain=EU_UI_DOMAIN)
    hook = HubSpotSchedulerHook()
    try:
        assert hook.ui_domain is None  # not asked yet
        assert hook.get_portal_id() == SANDBOX_PORTAL_ID
        assert hook.ui_domain == EU_UI_DOMAIN
    finally:
        hook.close()
