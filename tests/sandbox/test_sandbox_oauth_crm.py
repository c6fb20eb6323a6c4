"""OAuth refresh and expiry, and the CRM emulation used for exactly-once reconciliation."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone

import pytest
import requests

from hubspot_scheduler_provider.testing import HubSpotSandbox

from .conftest import MARCH_NOW, assert_conforms, booking_body, scheduler_url

CLIENT = {
    "oauth_client_id": "client-1",
    "oauth_client_secret": "s3cret-value",
    "oauth_refresh_token": "rt-value",
}
HALF_HOUR = 1_800_000


def _refresh(sandbox: HubSpotSandbox, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": "client-1",
        "client_secret": "s3cret-value",
        "refresh_token": "rt-value",
        **overrides,
    }
    return requests.post(f"{sandbox.url}/oauth/v1/token", data=form)


def _links(sandbox: HubSpotSandbox, token: str) -> requests.Response:
    return requests.get(
        scheduler_url(sandbox, "2026-09", "/meeting-links"), headers={"Authorization": f"Bearer {token}"}
    )


@pytest.fixture
def oauth_sandbox():
    with HubSpotSandbox(token=None, now=MARCH_NOW, **CLIENT) as running:
        yield running
        assert running.spec_violations == []


def test_refresh_grant_issues_a_thirty_minute_token(oauth_sandbox):
    answer = _refresh(oauth_sandbox)
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert_conforms("oauth-v1.json", "AccessTokenResponse", token)
    assert (token["expires_in"], token["token_type"], token["refresh_token"]) == (1800, "bearer", "rt-value")
    assert _links(oauth_sandbox, token["access_token"]).status_code == 200


def test_access_token_expires_after_its_lifetime(oauth_sandbox):
    token = _refresh(oauth_sandbox).json()["access_token"]
    oauth_sandbox.advance(timedelta(seconds=1799))
    assert _links(oauth_sandbox, token).status_code == 200
    oauth_sandbox.advance(timedelta(seconds=61))
    expired = _links(oauth_sandbox, token)
    assert expired.status_code == 401
    assert expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert "expired 60 second(s) ago" in expired.json()["message"]
    assert_conforms("scheduler-meetings-2026-09.json", "Error", expired.json())
    fresh = _refresh(oauth_sandbox).json()["access_token"]
    assert _links(oauth_sandbox, fresh).status_code == 200


def test_expire_access_tokens_early(oauth_sandbox):
    token = _refresh(oauth_sandbox).json()["access_token"]
    oauth_sandbox.expire_access_tokens()
    assert _links(oauth_sandbox, token).json()["category"] == "EXPIRED_AUTHENTICATION"
    assert (
        _links(oauth_sandbox, "sandbox-token").json()["category"] == "INVALID_AUTHENTICATION"
    )  # no static token


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"client_secret": "nope"}, "BAD_CLIENT_SECRET"),
        ({"client_id": "nope"}, "BAD_CLIENT_ID"),
        ({"refresh_token": "nope"}, "BAD_REFRESH_TOKEN"),
        ({"grant_type": "client_credentials"}, "UNSUPPORTED_GRANT_TYPE"),
    ],
)
def test_bad_token_requests_are_400(oauth_sandbox, override, code):
    answer = _refresh(oauth_sandbox, **override)
    assert answer.status_code == 400
    assert answer.json()["status"] == code
    assert_conforms("oauth-v1.json", "Error", answer.json())


def test_token_requests_are_logged_without_secrets(oauth_sandbox):
    token = _refresh(oauth_sandbox).json()["access_token"]
    _links(oauth_sandbox, token)
    logged = repr(oauth_sandbox.requests)
    for secret in ("s3cret-value", "rt-value", token):
        assert secret not in logged
    assert oauth_sandbox.requests[0].body["client_id"] == "client-1"


def test_oauth_connection_puts_client_credentials_in_extras(oauth_sandbox):
    conn = json.loads(oauth_sandbox.connection_json(api_version="v3"))
    assert "password" not in conn
    assert conn["extra"] == {
        "client_id": "client-1",
        "client_secret": "s3cret-value",
        "refresh_token": "rt-value",
        "api_version": "v3",
    }
    assert conn["host"] == oauth_sandbox.url


def test_oauth_client_settings_go_together():
    with pytest.raises(ValueError, match="go together"):
        HubSpotSandbox(oauth_client_id="only-this")


def _book(api, sandbox, start_iso: str, email: str) -> dict:
    start = int(datetime.fromisoformat(start_iso).timestamp() * 1000)
    answer = api.post(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book"),
        json=booking_body("alice-smith", start, HALF_HOUR, email=email),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _search(api, sandbox, filters: list[dict], **extra) -> requests.Response:
    body = {
        "filterGroups": [{"filters": filters}],
        "properties": ["hs_meeting_start_time", "hs_meeting_title"],
        "sorts": [],
        "limit": 10,
        "after": "0",
        **extra,
    }
    return api.post(f"{sandbox.url}/crm/v3/objects/meetings/search", json=body)


def test_contact_by_email_and_meeting_search_find_a_booking(api, sandbox):
    booked = _book(api, sandbox, "2026-03-03T15:00:00+00:00", "Ada@Example.com")
    _book(api, sandbox, "2026-03-03T17:00:00+00:00", "grace@example.com")
    contact = api.get(
        f"{sandbox.url}/crm/v3/objects/contacts/ada@example.com", params={"idProperty": "email"}
    )
    assert contact.status_code == 200
    assert_conforms("crm-meetings-v3.json", "SimplePublicObjectWithAssociations", contact.json())
    assert contact.json()["id"] == booked["contactId"]
    assert contact.json()["properties"]["email"] == "ada@example.com"
    by_id = api.get(f"{sandbox.url}/crm/v3/objects/contacts/{booked['contactId']}")
    assert by_id.json()["id"] == booked["contactId"]

    start_ms = str(int(datetime(2026, 3, 3, 15, tzinfo=timezone.utc).timestamp() * 1000))
    found = _search(
        api,
        sandbox,
        [
            {"propertyName": "hs_meeting_start_time", "operator": "EQ", "value": start_ms},
            {"propertyName": "associations.contact", "operator": "EQ", "value": booked["contactId"]},
        ],
    )
    assert found.status_code == 200, found.text
    assert_conforms("crm-meetings-v3.json", "CollectionResponseWithTotalSimplePublicObject", found.json())
    assert found.json()["total"] == 1
    meeting = found.json()["results"][0]
    assert meeting["id"] == sandbox.bookings[0]["crmMeetingId"]
    assert meeting["properties"]["hs_meeting_start_time"] == "2026-03-03T15:00:00.000Z"
    assert "hs_meeting_end_time" not in meeting["properties"]  # only what was asked for

    iso_window = _search(
        api,
        sandbox,
        [
            {"propertyName": "hs_meeting_start_time", "operator": "GTE", "value": "2026-03-03T14:00:00Z"},
            {"propertyName": "hs_meeting_start_time", "operator": "LTE", "value": "2026-03-03T18:00:00Z"},
        ],
    )
    assert iso_window.json()["total"] == 2
    other_contact = _search(
        api, sandbox, [{"propertyName": "associations.contact", "operator": "EQ", "value": "999"}]
    )
    assert other_contact.json() == {"total": 0, "results": []}


def test_meeting_search_pages(api, sandbox):
    for hour in (14, 15, 16):
        _book(api, sandbox, f"2026-03-04T{hour}:00:00+00:00", "ada@example.com")
    first = _search(api, sandbox, [], limit=2).json()
    assert first["total"] == 3 and len(first["results"]) == 2
    rest = _search(api, sandbox, [], limit=2, after=first["paging"]["next"]["after"]).json()
    assert len(rest["results"]) == 1 and "paging" not in rest
    meeting_id = rest["results"][0]["id"]
    single = api.get(f"{sandbox.url}/crm/v3/objects/meetings/{meeting_id}")
    assert_conforms("crm-meetings-v3.json", "SimplePublicObjectWithAssociations", single.json())


def test_meeting_search_request_must_match_the_spec(api, sandbox):
    answer = api.post(f"{sandbox.url}/crm/v3/objects/meetings/search", json={"filterGroups": []})
    assert answer.status_code == 400
    assert {"after", "limit", "properties", "sorts"} <= {detail["in"] for detail in answer.json()["errors"]}


def test_unknown_contact_is_404(api, sandbox):
    answer = api.get(
        f"{sandbox.url}/crm/v3/objects/contacts/nobody@example.com", params={"idProperty": "email"}
    )
    assert answer.status_code == 404
    assert answer.json()["category"] == "OBJECT_NOT_FOUND"
    assert_conforms("crm-meetings-v3.json", "Error", answer.json())


def test_offline_booking_creates_no_crm_meeting(api, sandbox):
    start = int(
        datetime.combine(date(2026, 3, 3), datetime.min.time(), tzinfo=timezone.utc).timestamp() * 1000
    )
    start += 9 * 3_600_000  # 10:00 Berlin
    answer = api.post(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book"),
        json=booking_body("offline-host", start, HALF_HOUR),
    )
    assert answer.json()["isOffline"] is True
    assert _search(api, sandbox, []).json()["total"] == 0


def test_search_index_lag_hides_new_meetings_from_search_only(api):
    with HubSpotSandbox(now=MARCH_NOW, crm_index_lag_seconds=0.3) as lagging:
        api.headers["Authorization"] = f"Bearer {lagging.token}"
        booked = _book(api, lagging, "2026-03-03T15:00:00+00:00", "ada@example.com")
        meeting_id = lagging.bookings[0]["crmMeetingId"]

        at_once = _search(api, lagging, []).json()
        by_id = api.get(f"{lagging.url}/crm/v3/objects/meetings/{meeting_id}")
        contact = api.get(f"{lagging.url}/crm/v3/objects/contacts/ada@example.com?idProperty=email")
        deadline = time.monotonic() + 5
        while _search(api, lagging, []).json()["total"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        later = _search(api, lagging, []).json()
        lagging.crm_index_lag_seconds = 60
        lagging.reset()
        setting_kept = lagging.crm_index_lag_seconds

        assert at_once == {"total": 0, "results": []}
        assert (by_id.status_code, contact.json()["id"]) == (200, booked["contactId"])
        assert [m["id"] for m in later["results"]] == [meeting_id]
        assert setting_kept == 60
        assert lagging.spec_violations == []
    with pytest.raises(ValueError, match="crm_index_lag_seconds"):
        HubSpotSandbox(crm_index_lag_seconds=-1)


def test_cancelling_a_meeting_sets_its_outcome_and_frees_the_slot(api, sandbox):
    _book(api, sandbox, "2026-03-03T15:00:00+00:00", "ada@example.com")
    meeting_id = sandbox.bookings[0]["crmMeetingId"]
    start = int(datetime(2026, 3, 3, 15, tzinfo=timezone.utc).timestamp() * 1000)
    taken = api.post(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book"),
        json=booking_body("alice-smith", start, HALF_HOUR, email="grace@example.com"),
    )

    sandbox.set_meeting_outcome(meeting_id)  # CANCELED

    outcome = api.get(
        f"{sandbox.url}/crm/v3/objects/meetings/{meeting_id}", params={"properties": "hs_meeting_outcome"}
    )
    assert taken.status_code == 400
    assert outcome.json()["properties"]["hs_meeting_outcome"] == "CANCELED"
    _book(api, sandbox, "2026-03-03T15:00:00+00:00", "grace@example.com")  # the slot is free again
    sandbox.set_meeting_outcome(sandbox.bookings[1]["crmMeetingId"], "NO_SHOW")
    no_show = api.post(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book"),
        json=booking_body("alice-smith", start, HALF_HOUR, email="alan@example.com"),
    )
    assert no_show.status_code == 400  # a no-show keeps its slot
