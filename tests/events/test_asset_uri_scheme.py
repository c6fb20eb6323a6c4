"""The ``hubspot`` asset URI scheme: registered through ``get_provider_info`` and normalised."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from hubspot_scheduler_provider.asset_events import (
    booking_asset,
    crm_meeting_partitions_asset,
    crm_meetings_asset,
    sanitize_uri,
)


def test_airflow_registers_the_scheme_handler() -> None:
    try:  # what Asset() itself consults (task SDK, Airflow 3.2+)
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        handlers = ProvidersManagerTaskRuntime().asset_uri_handlers
    except ImportError:
        from airflow.providers_manager import ProvidersManager

        manager = ProvidersManager()
        handlers = manager.asset_uri_handlers if AIRFLOW_V_3_0_PLUS else manager.dataset_uri_handlers
    assert handlers["hubspot"] is sanitize_uri


def test_the_normaliser_keeps_a_booking_asset_and_rejects_other_shapes() -> None:
    uri = booking_asset("24681357", "sales-team/round-robin").uri
    assert sanitize_uri(urlsplit(uri)).geturl() == uri
    assert sanitize_uri(urlsplit(uri + "?x=1#y")).geturl() == uri
    watched = crm_meetings_asset("24681357", "alice-smith").uri
    assert watched == "hubspot://24681357/meeting-pages/alice-smith/crm-meetings"
    assert sanitize_uri(urlsplit(watched)).geturl() == watched
    by_id = crm_meeting_partitions_asset("24681357", "alice-smith")
    assert by_id.uri == "hubspot://24681357/meeting-pages/alice-smith/crm-meeting-partitions"
    assert sanitize_uri(urlsplit(by_id.uri)).geturl() == by_id.uri
    if AIRFLOW_V_3_0_PLUS:
        assert by_id.name == "hubspot-crm-meeting-partitions/24681357/alice-smith"
    with pytest.raises(ValueError, match="crm-meeting-partitions"):
        sanitize_uri(urlsplit(watched + "/more"))
    with pytest.raises(ValueError, match="numeric portal id"):
        sanitize_uri(urlsplit("hubspot://portal/meeting-pages/alice"))
    with pytest.raises(ValueError, match="/meeting-pages/<slug>"):
        sanitize_uri(urlsplit("hubspot://24681357/alice"))
