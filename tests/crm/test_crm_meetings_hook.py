"""``hooks.crm_meetings`` against the sandbox: listing booked meetings (paging, ties, the 10,000 cap,
filters, contacts in one read per page), reading one, setting its outcome, finding a booking's."""

from __future__ import annotations

from datetime import timedelta
from itertools import islice

import pytest

from hubspot_scheduler_provider.errors import BookingInputError, HubSpotNotFoundError
from hubspot_scheduler_provider.hooks.crm import MEETING_OUTCOMES
from tests.crm.conftest import (
    ASSOCIATIONS_PATH,
    SEARCH_PATH,
    book_visitors,
    free_starts,
    meeting_ids,
    requests_to,
)
from tests.operators.conftest import SANDBOX_NOW

EARLIER = SANDBOX_NOW - timedelta(days=1)


def listed_ids(hook, *args, **kwargs) -> list[str]:
    """Ids listed, bounded: a listing that repeats itself forever fails instead of hanging."""
    return [m.id for m in islice(hook.iter_booked_meetings(*args, **kwargs), 100)]


def test_lists_every_booked_meeting_once_in_creation_order_with_its_contact(sandbox, hook):
    answers = book_visitors(sandbox, 5)
    listed = list(hook.iter_booked_meetings(EARLIER, page_size=2))
    assert [m.id for m in listed] == meeting_ids(sandbox)
    assert [m.contact_id for m in listed] == [answer["contactId"] for answer in answers]
    assert [m.created_at for m in listed] == [SANDBOX_NOW + timedelta(milliseconds=i) for i in range(5)]
    assert {m.source_id for m in listed} == {sandbox.pages["alice-smith"].link_id}
    assert {m.owner_id for m in listed} == {"501"}
    # Three pages of two: three searches, one association read per page, no read per meeting.
    assert len(requests_to(sandbox, "POST", SEARCH_PATH)) == 3
    reads = requests_to(sandbox, "POST", ASSOCIATIONS_PATH)
    assert [len(r.body["inputs"]) for r in reads] == [2, 2, 1]
    assert requests_to(sandbox, "GET", "/crm/v3/objects/meetings/") == []
    searches = requests_to(sandbox, "POST", SEARCH_PATH)
    assert {tuple(r.body["sorts"]) for r in searches} == {("hs_createdate",)}


def test_equal_creation_times_across_page_boundaries_and_the_cap_come_once(sandbox, hook):
    """Six meetings, four created in the same millisecond; pages of two and a result cap of three
    per query, so the tie straddles a page boundary AND a query restart."""
    tie = SANDBOX_NOW + timedelta(seconds=1)
    created = [SANDBOX_NOW, tie, tie, tie, tie, tie + timedelta(milliseconds=1)]
    book_visitors(sandbox, 6, created_at=created)
    sandbox.crm_search_result_cap = 3
    listed = listed_ids(hook, EARLIER, page_size=2)
    assert listed == meeting_ids(sandbox)  # each once, in (hs_createdate, id) order
    # The restart asked again from the last creation time given, not past it.
    later_queries = [r.body for r in requests_to(sandbox, "POST", SEARCH_PATH)][1:]
    assert any(
        {"propertyName": "hs_createdate", "operator": "GTE", "value": str(int(tie.timestamp() * 1000))}
        in body["filterGroups"][0]["filters"]
        for body in later_queries
    )


def test_more_meetings_than_the_cap_in_one_millisecond_still_come_once(sandbox, hook):
    book_visitors(sandbox, 5, created_at=[SANDBOX_NOW] * 3 + [SANDBOX_NOW + timedelta(seconds=1)] * 2)
    sandbox.crm_search_result_cap = 3
    assert listed_ids(hook, EARLIER, page_size=2) == meeting_ids(sandbox)


def test_more_results_than_the_cap_are_all_listed(sandbox, hook):
    book_visitors(sandbox, 23)
    sandbox.crm_search_result_cap = 5
    listed = listed_ids(hook, EARLIER, page_size=2)
    assert listed == meeting_ids(sandbox)
    assert all(r.status == 200 for r in sandbox.requests)  # never paged past the cap (a 400)


def test_the_window_is_half_open_and_filters_narrow_it(sandbox, hook):
    book_visitors(sandbox, 3, created_at=[SANDBOX_NOW + timedelta(seconds=s) for s in (0, 1, 2)])
    ids = meeting_ids(sandbox)
    one = SANDBOX_NOW + timedelta(seconds=1)
    assert [m.id for m in hook.iter_booked_meetings(one)] == ids[1:]
    assert [m.id for m in hook.iter_booked_meetings(SANDBOX_NOW, one)] == ids[:1]
    assert [m.id for m in hook.iter_booked_meetings(EARLIER, owner_ids=["501"])] == ids
    assert list(hook.iter_booked_meetings(EARLIER, owner_ids=["999"])) == []
    assert list(hook.iter_booked_meetings(EARLIER, link_ids=["3002"])) == []
    assert [m.id for m in hook.iter_booked_meetings(EARLIER, link_ids=["3001", "3002"])] == ids


def test_meetings_not_booked_through_a_page_are_not_listed(sandbox, hook):
    book_visitors(sandbox, 1)
    with sandbox.state.lock:  # a meeting logged by hand: no engagement source
        sandbox.state.crm.add_meeting(
            {"hs_meeting_start_time": "2026-12-03T14:00:00.000Z", "hubspot_owner_id": "501"}, ["1"], 0
        )
    assert [m.id for m in hook.iter_booked_meetings(EARLIER)] == meeting_ids(sandbox)


def test_meetings_the_index_does_not_show_yet_are_not_listed(sandbox, hook):
    sandbox.crm_index_lag_seconds = 60
    book_visitors(sandbox, 2)
    assert list(hook.iter_booked_meetings(EARLIER)) == []
    sandbox.crm_index_lag_seconds = 0
    assert len(list(hook.iter_booked_meetings(EARLIER))) == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": SANDBOX_NOW - timedelta(days=2)}, "created_before"),
        ({"page_size": 201}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"owner_ids": "501"}, "owner_ids"),
        ({"link_ids": ["3001", "x"]}, "link_ids[1]"),
        ({"owner_ids": [str(n) for n in range(1, 102)]}, "owner_ids"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(sandbox, hook, kwargs, field):
    arguments = {"created_after": EARLIER, **kwargs}
    with pytest.raises(BookingInputError) as refused:
        list(hook.iter_booked_meetings(arguments.pop("created_after"), **arguments))
    assert refused.value.field == field
    assert sandbox.requests == []


def test_get_meeting_reads_it_with_its_contact(sandbox, hook):
    answer = book_visitors(sandbox, 1)[0]
    meeting = hook.get_crm_meeting(meeting_ids(sandbox)[0])
    assert meeting.contact_ids == (answer["contactId"],)
    assert meeting.properties["hs_unique_id"] == answer["calendarEventId"]
    assert meeting.outcome == "SCHEDULED"
    with pytest.raises(HubSpotNotFoundError):
        hook.get_crm_meeting("424242")


def test_setting_the_current_outcome_again_sends_no_patch(sandbox, hook):
    book_visitors(sandbox, 1)
    meeting_id = meeting_ids(sandbox)[0]
    meeting, changed = hook.set_meeting_outcome(meeting_id, " no_show ")
    assert changed and meeting.outcome == "NO_SHOW" and meeting.start is not None
    assert len(requests_to(sandbox, "PATCH", meeting_id)) == 1
    again, changed_again = hook.set_meeting_outcome(meeting_id, "NO_SHOW")
    assert not changed_again and again.outcome == "NO_SHOW"
    assert len(requests_to(sandbox, "PATCH", meeting_id)) == 1  # still the one PATCH


@pytest.mark.parametrize(
    ("meeting_id", "outcome", "field"),
    [
        ("9001", "CANCELLED", "outcome"),
        ("9001", "", "outcome"),
        ("9001", None, "outcome"),
        ("abc", "NO_SHOW", "meeting_id"),
    ],
)
def test_a_bad_outcome_or_id_is_refused_before_any_request(sandbox, hook, meeting_id, outcome, field):
    with pytest.raises(BookingInputError) as refused:
        hook.set_meeting_outcome(meeting_id, outcome)
    assert refused.value.field == field
    if field == "outcome":
        assert all(name in str(refused.value) for name in MEETING_OUTCOMES)
    assert sandbox.requests == []


def test_a_booking_is_found_by_calendar_event_or_by_contact_and_start(sandbox, hook):
    answers = book_visitors(sandbox, 2)
    ids = meeting_ids(sandbox)
    by_event = hook.find_crm_meetings(calendar_event_id=answers[1]["calendarEventId"])
    assert [m.id for m in by_event] == [ids[1]]
    assert by_event[0].contact_id == answers[1]["contactId"]
    by_contact = hook.find_crm_meetings(contact_email="LEAD0@example.com", start=answers[0]["start"])
    assert [m.id for m in by_contact] == [ids[0]]
    assert hook.find_crm_meetings(calendar_event_id="sandbox-event-404") == []
    assert hook.find_crm_meetings(contact_email="nobody@example.com", start=answers[0]["start"]) == []


def test_a_cancelled_meeting_comes_after_a_standing_one_at_the_same_start(sandbox, hook):
    start = free_starts(sandbox, 1)[0]
    sandbox.book_as_visitor("alice-smith", start, email="again@example.com")
    first = meeting_ids(sandbox)[0]
    hook.set_meeting_outcome(first, "CANCELED")  # frees the slot
    sandbox.book_as_visitor("alice-smith", start, email="again@example.com")
    found = hook.find_crm_meetings(contact_email="again@example.com", start=start)
    assert [m.id for m in found] == [meeting_ids(sandbox)[1], first]
    assert [m.stands for m in found] == [True, False]


def test_a_server_that_ignores_the_sort_is_refused_not_trusted(sandbox, hook, monkeypatch):
    """Continuing past the cap relies on creation order: a server that answers in another order fails
    loudly instead of silently missing meetings."""
    from hubspot_scheduler_provider.errors import HubSpotResponseError
    from hubspot_scheduler_provider.testing import crm

    # Created in the reverse order of their start times; a server ignoring sorts answers by start.
    book_visitors(sandbox, 3, created_at=[SANDBOX_NOW + timedelta(seconds=s) for s in (2, 1, 0)])
    by_start = crm._sort
    monkeypatch.setattr(crm, "_sort", lambda hits, sorts: by_start(hits, []))
    with pytest.raises(HubSpotResponseError, match="ascending hs_createdate"):
        listed_ids(hook, EARLIER)
