"""Every sandbox answer, success or error, validates against HubSpot's spec, for every API version."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from hubspot_scheduler_provider.testing import HubSpotSandbox

from .conftest import (
    MARCH_NOW,
    SCHEDULER_SPEC,
    VERSIONS,
    assert_conforms,
    booking_body,
    calendar_request,
    ms_to_iso,
    scheduler_url,
    slots,
)

SLUGS = ("alice-smith", "sales-team/round-robin", "demo-with-form", "offline-host")


@pytest.mark.parametrize("version", VERSIONS)
def test_list_meeting_links_pages_and_filters(api, sandbox, version):
    spec = SCHEDULER_SPEC[version]
    url = scheduler_url(sandbox, version, "/meeting-links")
    first = api.get(url, params={"limit": 3})
    assert first.status_code == 200
    assert_conforms(spec, "CollectionResponseWithTotalExternalLinkMetadata", first.json())
    assert first.json()["total"] == 4
    second = api.get(url, params={"limit": 3, "after": first.json()["paging"]["next"]["after"]}).json()
    assert_conforms(spec, "CollectionResponseWithTotalExternalLinkMetadata", second)
    assert "paging" not in second
    assert {link["slug"] for link in first.json()["results"] + second["results"]} == set(SLUGS)

    team = api.get(url, params={"type": "ROUND_ROBIN_CALENDAR"}).json()
    assert [link["slug"] for link in team["results"]] == ["sales-team/round-robin"]
    assert team["results"][0]["userIdsOfLinkMembers"] == ["1002", "1003"]
    by_organizer = api.get(url, params={"organizerUserId": "1003"}).json()
    assert [link["slug"] for link in by_organizer["results"]] == ["demo-with-form"]
    by_name = api.get(url, params={"name": "alice"}).json()
    assert [link["slug"] for link in by_name["results"]] == ["alice-smith"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("slug", SLUGS)
def test_booking_info_and_availability_conform(api, sandbox, version, slug):
    spec = SCHEDULER_SPEC[version]
    encoded = quote(slug, safe="")
    info = api.get(
        scheduler_url(sandbox, version, f"/meeting-links/book/{encoded}"), params={"timezone": "UTC"}
    )
    assert info.status_code == 200, info.text
    assert_conforms(spec, "ExternalBookingInfo", info.json())
    page = api.get(
        scheduler_url(sandbox, version, f"/meeting-links/book/availability-page/{encoded}"),
        params={"timezone": "Europe/Berlin", "monthOffset": 1},
    )
    assert page.status_code == 200, page.text
    assert_conforms(spec, "ExternalLinkAvailabilityAndBusyTimes", page.json())


@pytest.mark.parametrize("version", VERSIONS)
def test_booking_answer_conforms_and_speaks_the_versions_duration_unit(api, sandbox, version):
    start = slots(api, sandbox, "alice-smith", version=version)[0]
    wire_duration = 1_800_000  # milliseconds in every version, 2026-03 included
    answer = api.post(
        scheduler_url(sandbox, version, "/meeting-links/book"),
        json=booking_body("alice-smith", start, wire_duration),
    )
    assert answer.status_code == 200, answer.text
    assert_conforms(SCHEDULER_SPEC[version], "ExternalMeetingBookingResponse", answer.json())
    assert answer.json()["duration"] == wire_duration
    assert answer.json()["start"] == ms_to_iso(start)
    assert answer.json()["end"] == ms_to_iso(start + 1_800_000)
    assert sandbox.bookings[0]["apiVersion"] == version


@pytest.mark.parametrize("version", VERSIONS)
def test_calendar_meeting_create_conforms(api, sandbox, version):
    request = calendar_request()
    answer = api.post(
        scheduler_url(sandbox, version, "/calendar"), params={"organizerUserId": "1001"}, json=request
    )
    assert answer.status_code == 200, answer.text
    assert_conforms(SCHEDULER_SPEC[version], "ExternalCalenderMeetingEventResponse", answer.json())
    assert sandbox.state.calendar_meetings[0]["organizerUserId"] == "1001"


def _assert_error(answer, status, category, spec="scheduler-meetings-2026-09.json", sub_category=None):
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert_conforms(spec, "Error", body)
    assert body["status"] == "error"
    assert body["category"] == category
    assert body["correlationId"] == answer.headers["X-HubSpot-Correlation-Id"]
    if sub_category is not None:
        assert body["subCategory"] == sub_category
    return body


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_slug_is_404_object_not_found(api, sandbox, version):
    answer = api.get(
        scheduler_url(sandbox, version, "/meeting-links/book/nobody"), params={"timezone": "UTC"}
    )
    _assert_error(answer, 404, "OBJECT_NOT_FOUND", SCHEDULER_SPEC[version])
    booking = api.post(
        scheduler_url(sandbox, version, "/meeting-links/book"),
        json=booking_body("nobody", 1_773_000_000_000, 30),
    )
    _assert_error(booking, 404, "OBJECT_NOT_FOUND", SCHEDULER_SPEC[version])


def test_missing_and_bad_tokens_are_401(sandbox):
    import requests

    url = scheduler_url(sandbox, "2026-09", "/meeting-links")
    _assert_error(requests.get(url), 401, "INVALID_AUTHENTICATION")
    _assert_error(requests.get(url, headers={"Authorization": "Bearer wrong"}), 401, "INVALID_AUTHENTICATION")
    _assert_error(requests.get(url, headers={"Authorization": "Basic abc"}), 401, "INVALID_AUTHENTICATION")


def test_missing_scope_is_403_with_missing_scopes_context():
    import requests

    with HubSpotSandbox(now=MARCH_NOW, scopes={"scheduler.meetings.meeting-link.read"}) as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.token}"}
        assert (
            requests.get(scheduler_url(sandbox, "v3", "/meeting-links"), headers=headers).status_code == 200
        )
        answer = requests.post(
            scheduler_url(sandbox, "v3", "/meeting-links/book"),
            headers=headers,
            json=booking_body("alice-smith", 1_773_000_000_000, 1_800_000),
        )
        body = _assert_error(answer, 403, "MISSING_SCOPES", SCHEDULER_SPEC["v3"])
        assert "crm.objects.contacts.write" in body["context"]["missingScopes"]
        assert sandbox.bookings == []
        contact = requests.get(f"{sandbox.url}/crm/v3/objects/contacts/1", headers=headers)
        body = _assert_error(contact, 403, "MISSING_SCOPES", "crm-meetings-v3.json")
        assert body["context"]["missingScopes"] == ["crm.objects.contacts.read"]
        assert sandbox.spec_violations == []


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda body: body.pop("likelyAvailableUserIds"), "likelyAvailableUserIds"),
        (lambda body: body.pop("formFields"), "formFields"),
        (lambda body: body.update(duration="thirty"), "duration"),
        (lambda body: body.update(formFields=[{"name": "company"}]), "formFields.0.value"),
        (
            lambda body: body.update(legalConsentResponses=[{"consented": True}]),
            "legalConsentResponses.0.communicationTypeId",
        ),
    ],
)
def test_booking_request_breaking_the_schema_is_400_naming_the_field(api, sandbox, mutate, field):
    body = booking_body("alice-smith", slots(api, sandbox, "alice-smith")[0], 1_800_000)
    mutate(body)
    answer = api.post(scheduler_url(sandbox, "2026-09", "/meeting-links/book"), json=body)
    error = _assert_error(answer, 400, "VALIDATION_ERROR")
    assert field in [detail["in"] for detail in error["errors"]]
    assert sandbox.bookings == []


def test_unparsable_json_and_bad_query_parameters_are_400(api, sandbox):
    url = scheduler_url(sandbox, "2026-09", "/meeting-links/book")
    broken = api.post(url, data=b'{"slug": ', headers={"Content-Type": "application/json"})
    assert "Invalid input JSON" in _assert_error(broken, 400, "VALIDATION_ERROR")["message"]
    no_timezone = api.get(scheduler_url(sandbox, "2026-09", "/meeting-links/book/alice-smith"))
    assert _assert_error(no_timezone, 400, "VALIDATION_ERROR")["errors"][0]["in"] == "timezone"
    bad_type = api.get(scheduler_url(sandbox, "2026-09", "/meeting-links"), params={"type": "TEAM"})
    _assert_error(bad_type, 400, "VALIDATION_ERROR")
    bad_offset = api.get(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book/availability-page/alice-smith"),
        params={"timezone": "UTC", "monthOffset": "next"},
    )
    _assert_error(bad_offset, 400, "VALIDATION_ERROR")
    bad_zone = api.get(
        scheduler_url(sandbox, "2026-09", "/meeting-links/book/alice-smith"),
        params={"timezone": "Mars/Olympus"},
    )
    _assert_error(bad_zone, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("version", VERSIONS)
def test_start_time_and_duration_errors_use_hubspot_subcategories(api, sandbox, version):
    url = scheduler_url(sandbox, version, "/meeting-links/book")
    start = slots(api, sandbox, "alice-smith", version=version)[0]
    wire_30, wire_45 = 1_800_000, 2_700_000
    spec = SCHEDULER_SPEC[version]
    _assert_error(
        api.post(url, json=booking_body("alice-smith", start, wire_45)),
        400,
        "VALIDATION_ERROR",
        spec,
        "MeetingsBookingSchedulingError.MEETING_DURATION_NOT_VALID",
    )
    off_grid = start + 7 * 60_000
    _assert_error(
        api.post(url, json=booking_body("alice-smith", off_grid, wire_30)),
        400,
        "VALIDATION_ERROR",
        spec,
        "MeetingsBookingSchedulingError.MEETING_START_TIME_NOT_VALID",
    )
    # Not a date-time at all: the request breaks the spec's format, refused before any scheduling check.
    not_a_date = booking_body("alice-smith", start, wire_30, startTime="next tuesday")
    body = _assert_error(api.post(url, json=not_a_date), 400, "VALIDATION_ERROR", spec)
    assert [error["in"] for error in body["errors"]] == ["startTime"]


def test_form_field_consent_and_email_errors(api, sandbox):
    url = scheduler_url(sandbox, "2026-09", "/meeting-links/book")
    start = slots(api, sandbox, "demo-with-form")[0]
    consent = [{"communicationTypeId": "4711", "consented": True}]
    company = [{"name": "company", "value": "Analytical Engines Ltd"}]
    no_company = booking_body("demo-with-form", start, 1_800_000, legalConsentResponses=consent)
    body = _assert_error(
        api.post(url, json=no_company),
        400,
        "VALIDATION_ERROR",
        sub_category="MeetingsBookingSchedulingError.MISSING_REQUIRED_FORM_FIELD",
    )
    assert body["errors"][0]["in"] == "company"
    no_consent = booking_body("demo-with-form", start, 1_800_000, formFields=company)
    _assert_error(
        api.post(url, json=no_consent),
        400,
        "VALIDATION_ERROR",
        sub_category="MeetingsBookingSchedulingError.MISSING_REQUIRED_LEGAL_CONSENT",
    )
    declined = booking_body(
        "demo-with-form",
        start,
        1_800_000,
        formFields=company,
        legalConsentResponses=[{"communicationTypeId": "4711", "consented": False}],
    )
    _assert_error(api.post(url, json=declined), 400, "VALIDATION_ERROR")
    bad_email = booking_body(
        "demo-with-form",
        start,
        1_800_000,
        formFields=company,
        legalConsentResponses=consent,
        email="ada-at-example.com",
    )
    _assert_error(
        api.post(url, json=bad_email),
        400,
        "VALIDATION_ERROR",
        sub_category="MeetingsBookingSchedulingError.INVALID_EMAIL",
    )
    assert sandbox.bookings == []
    good = booking_body("demo-with-form", start, 1_800_000, formFields=company, legalConsentResponses=consent)
    answer = api.post(url, json=good)
    assert answer.status_code == 200, answer.text
    assert {"name": "company", "value": "Analytical Engines Ltd"}.items() <= next(
        field for field in answer.json()["formFields"] if field["name"] == "company"
    ).items()


def test_account_details_conform(api, sandbox):
    answer = api.get(f"{sandbox.url}/account-info/v3/details")
    assert answer.status_code == 200
    assert_conforms("account-info-v3.json", "PortalInformationResponse", answer.json())
    assert answer.json()["utcOffset"] == "-05:00"  # New York in March before the DST change


def test_unknown_route_is_404_and_wrong_method_405(api, sandbox):
    assert api.get(f"{sandbox.url}/scheduler/v4/meetings/meeting-links").status_code == 404
    assert api.delete(scheduler_url(sandbox, "v3", "/meeting-links")).status_code == 405
