"""The next actions a page offers (reviews.actions): the transitions the user may take now, one button a page."""

from django.urls import reverse

from reviews.actions import ACTIONS, case_actions
from reviews.models import Case
from tests.factories import UserFactory
from tests.test_transitions import case_at

S = Case.Status

# Transitions no page offers as a button, and why. A new transition gets a row in ACTIONS, or a line here.
NO_BUTTON = {
    "issue": "the letter task takes it when the letter is ready",
    "release": "declining is offered on the attestation page, which accept links to",
    "change_dispute": "the case page links the dispute page from the disputed items' heading",
}


def _offered(case, user) -> list[tuple[str, str]]:
    return [(a.label, a.url) for a in case_actions(case, user)]


def _url(name, case):
    return reverse(f"reviews:{name}", args=[case.case_number])


def test_every_transition_has_a_button_or_a_reason_for_none():
    declared = {t.name for t in Case._meta.get_field("status").get_all_transitions(Case)}
    in_table = {key if isinstance(key, str) else key[0] for key in ACTIONS}
    assert declared == in_table | set(NO_BUTTON)
    assert not in_table & set(NO_BUTTON)


def test_a_ready_case_offers_the_coordinator_the_assignment_and_the_reviewer_nothing(who, queued):
    case = case_at(S.READY_FOR_ASSIGNMENT, who)
    assert _offered(case, who.coordinator) == [("Assign a reviewer", _url("case_assign", case))]
    assert _offered(case, who.reviewer.user) == []


def test_an_assigned_case_offers_its_reviewer_the_attestation_and_the_coordinator_reassignment(who, queued):
    case = case_at(S.ASSIGNED, who)
    assert _offered(case, who.reviewer.user) == [("Check conflicts and accept", _url("case_attest", case))]
    assert _offered(case, who.coordinator) == [("Reassign…", _url("case_assign", case))]
    assert _offered(case, who.other_reviewer.user) == []
    assert _offered(case, UserFactory(username="mallory")) == []


def test_quality_review_takes_two_transitions_on_one_page_and_shows_one_button(who, queued):
    case = case_at(S.SUBMITTED, who)
    assert _offered(case, who.coordinator) == [("Quality review", _url("case_qa", case))]
    assert [a.transition for a in case_actions(case, who.coordinator)] in (["approve"], ["return_to_reviewer"])


def test_a_returned_case_asks_its_reviewer_to_address_the_comments(who, queued):
    case = case_at(S.RETURNED, who)
    assert _offered(case, who.reviewer.user) == [("Address comments", _url("case_workspace", case))]


def test_the_case_page_shows_the_inline_form_of_its_action(client, who, queued):
    case = case_at(S.ELIGIBLE, who)
    client.force_login(who.coordinator)
    body = client.get(_url("case_detail", case)).content.decode()
    assert f'action="{_url("case_request_records", case)}"' in body
    assert 'name="sent_on"' in body
    assert _url("case_assign", case) not in body
