"""The steps beside the main path: withdrawal, termination, expedited conversion, remand and reopening."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from reviews import services, tasks
from reviews.assignment import rank_reviewers
from reviews.letters import letter_queryset, render_letter
from reviews.models import ITEM_FIELDS, Case, CaseDocument, CaseEvent, CaseExclusion, Citation, DisputedItem, Letter
from reviews.services.errors import Refused
from tests.factories import (
    CaseFactory,
    CitationFactory,
    DiagnosisFactory,
    DisputedItemFactory,
    GuidelineFactory,
)

S = Case.Status
TODAY = timezone.localdate()


def snapshot(case: Case) -> tuple:
    """What a refused step must leave untouched: the case row, its items and its timeline."""
    return (
        Case.objects.values().get(pk=case.pk),
        list(DisputedItem.objects.filter(case=case).values().order_by("pk")),
        CaseEvent.objects.filter(case=case).count(),
    )


def last_event(case: Case) -> tuple:
    event = case.events.order_by("-id").first()
    return event.from_status, event.to_status, event.actor, event.note


@pytest.fixture
def in_review(ready_case, coordinator, reviewer):
    """ready_case with bob reviewing it, and a second item besides the first (both PM&R)."""
    first = ready_case.items.get()
    DisputedItemFactory(
        case=ready_case, position=2, category=first.category, request_text="Lumbar MRI without contrast"
    )
    case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    case = services.case_accept(case=case, by=reviewer.user, attested=True)
    services.case_summary_save(case=case, by=reviewer.user, version=0, text="Chronic low back pain.")
    return Case.objects.get(pk=case.pk)


def _decide(case: Case, item: DisputedItem, reviewer) -> None:
    services.item_review_save(
        item=item,
        by=reviewer.user,
        version=item.version,
        decision="upheld",
        ca_cited_no_evidence=True,
        ca_citations=[],
        review_citations=[services.CitationInput(GuidelineFactory())],
        review_cited_no_evidence=False,
        internal_note="",
        rationale=f"Rationale of item {item.position}.",
    )


# Withdrawal.


def test_withdrawing_closes_the_case_and_records_who_asked_and_when(in_review, coordinator, reviewer):
    case = services.case_withdraw(
        case=in_review,
        by=coordinator,
        requested_by="Maria Lopez",
        requester=Case.Requester.EMPLOYEE,
        requested_on=TODAY - dt.timedelta(days=1),
    )
    case.refresh_from_db()
    assert case.status == S.WITHDRAWN
    assert (case.withdrawal_requested_by, case.withdrawal_requester, case.withdrawal_requested_on) == (
        "Maria Lopez",
        "employee",
        TODAY - dt.timedelta(days=1),
    )
    assert case.closed_from == S.IN_REVIEW
    from_status, to_status, actor, note = last_event(case)
    assert (from_status, to_status, actor) == (S.IN_REVIEW, S.WITHDRAWN, coordinator)
    assert "Maria Lopez (employee)" in note
    assert not Case.objects.for_reviewer_queue(reviewer).exists()  # off the reviewer's queue and load


def test_a_withdrawal_after_the_decision_is_refused_and_changes_nothing(submitted_case, coordinator):
    Case.objects.filter(pk=submitted_case.pk).update(status=S.APPROVED, decision_date=TODAY)
    before = snapshot(submitted_case)
    with pytest.raises(Refused) as refused:
        services.case_withdraw(
            case=submitted_case, by=coordinator, requested_by="Maria Lopez", requester="employee", requested_on=TODAY
        )
    assert refused.value.code == "not_allowed"
    assert snapshot(submitted_case) == before


def test_a_withdrawal_without_who_asked_or_dated_in_the_future_is_refused_in_place(in_review, coordinator):
    before = snapshot(in_review)
    with pytest.raises(Refused) as refused:
        services.case_withdraw(
            case=in_review, by=coordinator, requested_by=" ", requester="", requested_on=TODAY + dt.timedelta(days=1)
        )
    assert [p.where for p in refused.value.problems] == ["requested_by", "requester", "requested_on"]
    assert snapshot(in_review) == before


# Termination.


def test_authorising_one_item_of_two_closes_it_and_the_review_goes_on(in_review, coordinator, reviewer):
    first, second = in_review.items.order_by("position")
    case = services.case_terminate(
        case=in_review, by=coordinator, items=[first], authorized_on=TODAY, reported_by="Dana Adjuster, Acme Claims"
    )
    assert case.status == S.IN_REVIEW
    first.refresh_from_db()
    assert (first.authorized_on, first.authorization_reported_by) == (TODAY, "Dana Adjuster, Acme Claims")
    from_status, to_status, actor, note = last_event(case)
    assert (from_status, to_status, actor) == (S.IN_REVIEW, S.IN_REVIEW, coordinator)
    assert "item 1" in note and "Dana Adjuster" in note
    assert first.termination_event == case.events.order_by("-id").first()

    # The reviewer may no longer decide it; the rest is all the submission asks for.
    with pytest.raises(Refused) as refused:
        _decide(case, first, reviewer)
    assert refused.value.code == "item_terminated"
    _decide(case, second, reviewer)
    problems = services.submission_problems(case)
    assert not [p for p in problems if p.message.startswith("Item 1")]
    assert not [p for p in problems if p.message.startswith("Item 2")]
    letter = render_letter(case=letter_queryset().get(pk=case.pk), fmt="text")
    assert "Lumbar MRI without contrast" in letter
    assert "Physical therapy" not in letter
    row = Case.objects.for_reviewer_queue(reviewer).get()
    assert (row.item_count, row.terminated_count) == (1, 1)


def test_authorising_every_item_left_terminates_the_case(in_review, coordinator):
    first, second = in_review.items.order_by("position")
    services.case_terminate(case=in_review, by=coordinator, items=[first], authorized_on=TODAY, reported_by="Dana")
    case = services.case_terminate(
        case=in_review, by=coordinator, items=[second], authorized_on=TODAY, reported_by="Lee"
    )
    case.refresh_from_db()
    assert (case.status, case.closed_from) == (S.TERMINATED, S.IN_REVIEW)
    assert "item 2" in case.closed_reason and "item 1" not in case.closed_reason


def test_authorising_an_item_already_closed_is_refused_and_changes_nothing(in_review, coordinator):
    first = in_review.items.get(position=1)
    services.case_terminate(case=in_review, by=coordinator, items=[first], authorized_on=TODAY, reported_by="Dana")
    before = snapshot(in_review)
    with pytest.raises(Refused) as refused:
        services.case_terminate(case=in_review, by=coordinator, items=[first], authorized_on=TODAY, reported_by="Dana")
    assert refused.value.problems[0].where == "items"
    assert snapshot(in_review) == before


# Conversion to expedited.


def test_expediting_recomputes_the_decision_clock_from_the_certification_and_tells_the_reviewer(
    in_review, coordinator, reviewer, mailoutbox, run_relayed, django_capture_on_commit_callbacks
):
    certified = TODAY
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_expedite(
            case=in_review, by=coordinator, certified_on=certified, certification="Dr. Ruiz's letter of today, p. 2"
        )
    case.refresh_from_db()
    assert case.priority == Case.Priority.EXPEDITED
    assert case.decision_due_date == certified + dt.timedelta(days=3)  # records were complete before
    assert (case.expedited_certified_on, case.expedited_certification) == (
        certified,
        "Dr. Ruiz's letter of today, p. 2",
    )
    assert last_event(case)[:3] == (S.IN_REVIEW, S.IN_REVIEW, coordinator)
    assert run_relayed == [tasks.notify_reviewer_expedited.name.rsplit(".", 1)[-1]]
    (email,) = mailoutbox
    assert email.to == [reviewer.user.email]
    assert "expedited" in email.subject and f"{case.decision_due_date:%m/%d/%Y}" in email.body
    assert case.employee_name not in email.body  # no medical or personal details


def test_expediting_a_case_awaiting_records_makes_them_due_the_next_day(coordinator):
    case = services.case_confirm_eligibility(case=CaseFactory(), by=coordinator, eligible=True)
    case = services.case_request_records(case=case, by=coordinator, sent_on=TODAY - dt.timedelta(days=2))
    case = services.case_expedite(case=case, by=coordinator, certified_on=TODAY, certification="On file")
    assert (case.records_due_date, case.decision_due_date) == (TODAY + dt.timedelta(days=1), None)


def test_expediting_twice_or_without_the_certification_is_refused_and_changes_nothing(in_review, coordinator):
    before = snapshot(in_review)
    with pytest.raises(Refused) as refused:
        services.case_expedite(case=in_review, by=coordinator, certified_on=TODAY, certification="")
    assert refused.value.problems[0].where == "certification"
    assert snapshot(in_review) == before
    services.case_expedite(case=in_review, by=coordinator, certified_on=TODAY, certification="On file")
    before = snapshot(in_review)
    with pytest.raises(Refused) as refused:
        services.case_expedite(case=in_review, by=coordinator, certified_on=TODAY, certification="On file")
    assert refused.value.code == "already_expedited"
    assert snapshot(in_review) == before


# Remand.


@pytest.fixture
def issued(submitted_case, settings, tmp_path):
    """submitted_case issued with its served letter's PDF (the rendering is the letter tests' business)."""
    settings.MEDIA_ROOT = tmp_path
    case = submitted_case
    DiagnosisFactory(case=case, position=1)
    CitationFactory(item=case.items.get(), role=Citation.Role.CLAIMS_ADMINISTRATOR)
    Case.objects.filter(pk=case.pk).update(status=S.ISSUED, decision_date=TODAY - dt.timedelta(days=20))
    letter = Letter(case=case, status=Letter.Status.READY, sha256="0" * 64, rendered_at=timezone.now())
    letter.pdf.save("final.pdf", ContentFile(b"%PDF-1.7 the served letter"), save=False)
    letter.save()
    return Case.objects.get(pk=case.pk)


def test_a_remand_opens_a_linked_case_with_the_dispute_the_records_and_the_earlier_letter(
    issued, coordinator, reviewer, other_reviewer
):
    new = services.case_remand(case=issued, by=coordinator, received_on=TODAY, order="WCAB order of 11/20/2026")
    new.refresh_from_db()
    assert new.remand_of == issued and new.case_number != issued.case_number
    assert new.status == S.READY_FOR_ASSIGNMENT and new.reviewer is None
    assert (new.records_complete_date, new.decision_due_date) == (TODAY, TODAY + dt.timedelta(days=30))
    for field in ("employee_name", "claim_number", "employer_id", "claims_administrator_id", "requesting_provider_id"):
        assert getattr(new, field) == getattr(issued, field)
    assert list(new.diagnoses.values_list("icd10_code", flat=True)) == ["M51.26"]
    (item,) = new.items.all()
    old_item = issued.items.get()
    assert (item.decision, item.rationale) == ("", "")
    assert {f: getattr(item, f) for f in ITEM_FIELDS} == {f: getattr(old_item, f) for f in ITEM_FIELDS}
    assert [c.role for c in item.citations.all()] == [Citation.Role.CLAIMS_ADMINISTRATOR]
    documents = list(new.documents.order_by("pk"))
    assert documents[0].file.name == issued.documents.get().file.name and documents[0].first_opened_at is None
    prior = documents[-1]
    assert (prior.kind, prior.submitted_by) == (CaseDocument.Kind.PRIOR_DETERMINATION, "iro")
    assert prior.file.read() == b"%PDF-1.7 the served letter"
    # The earlier reviewer is excluded; another reviewer may take it.
    eligible, excluded = rank_reviewers(new)
    assert [c.reviewer for c in eligible] == [other_reviewer]
    assert any("reviewed the remanded" in p for c in excluded if c.reviewer == reviewer for p in c.problems)
    # The determination stays issued, with the remand on its timeline; it is remanded once.
    issued.refresh_from_db()
    assert issued.status == S.ISSUED
    assert last_event(issued)[:3] == (S.ISSUED, S.ISSUED, coordinator)
    assert new.case_number in last_event(issued)[3]
    with pytest.raises(Refused) as refused:
        services.case_remand(case=issued, by=coordinator, received_on=TODAY, order="again")
    assert refused.value.code == "remanded_already"


def test_the_reviewers_excluded_from_the_earlier_case_stay_excluded_from_its_remand(
    issued, coordinator, other_reviewer
):
    CaseExclusion.objects.create(
        case=issued, reviewer=other_reviewer, reason="declined: conflict", created_by=coordinator
    )
    new = services.case_remand(case=issued, by=coordinator, received_on=TODAY, order="WCAB order")
    eligible, excluded = rank_reviewers(new)
    assert eligible == []
    (charlie,) = [c for c in excluded if c.reviewer == other_reviewer]
    assert "excluded from this case earlier" in charlie.problems
    assert new.exclusions.get().reason == f"excluded from {issued}: declined: conflict"


def test_a_case_not_issued_cannot_be_remanded(in_review, coordinator):
    count = Case.objects.count()
    with pytest.raises(Refused):
        services.case_remand(case=in_review, by=coordinator, received_on=TODAY, order="WCAB order")
    assert Case.objects.count() == count


# Reopening.


def test_a_withdrawn_case_reopens_where_it_stood_with_its_reviewer(in_review, coordinator, reviewer):
    services.case_withdraw(
        case=in_review, by=coordinator, requested_by="Maria Lopez", requester="employee", requested_on=TODAY
    )
    case = services.case_reopen(case=in_review, by=coordinator, reason="Withdrawal recorded on the wrong case")
    case.refresh_from_db()
    assert (case.status, case.reviewer, case.closed_from, case.withdrawal_requested_on) == (
        S.IN_REVIEW,
        reviewer,
        "",
        None,
    )
    assert last_event(case) == (
        S.WITHDRAWN,
        S.IN_REVIEW,
        coordinator,
        "reopened: Withdrawal recorded on the wrong case",
    )


def test_reopening_a_terminated_case_restores_the_items_of_its_closing_step_only(in_review, coordinator):
    first, second = in_review.items.order_by("position")
    services.case_terminate(case=in_review, by=coordinator, items=[first], authorized_on=TODAY, reported_by="Dana")
    services.case_terminate(case=in_review, by=coordinator, items=[second], authorized_on=TODAY, reported_by="Lee")
    case = services.case_reopen(case=in_review, by=coordinator, reason="The authorisation of item 2 was rescinded")
    assert case.status == S.IN_REVIEW
    assert list(case.items.in_review().values_list("position", flat=True)) == [2]


def test_reopening_needs_a_reason_and_a_case_closed_without_a_determination(issued, coordinator):
    withdrawn = services.case_withdraw(
        case=CaseFactory(), by=coordinator, requested_by="Maria Lopez", requester="employee", requested_on=TODAY
    )
    before = snapshot(withdrawn)
    with pytest.raises(Refused) as refused:
        services.case_reopen(case=withdrawn, by=coordinator, reason=" ")
    assert refused.value.problems[0].where == "reason"
    assert snapshot(withdrawn) == before
    with pytest.raises(Refused) as refused:
        services.case_reopen(case=issued, by=coordinator, reason="The WCAB said so")
    assert refused.value.code == "not_allowed"


# The pages.

STEP_PAGES = ["withdraw", "authorisation", "expedite", "remand", "reopen"]


def _url(case, action):
    return f"/cases/{case.case_number}/{action}/"


def test_the_case_page_offers_the_steps_open_at_its_stage_in_one_block(client, coordinator, in_review):
    client.force_login(coordinator)
    html = client.get(reverse("reviews:case_detail", args=[in_review.case_number])).content.decode()
    block = html[html.index('id="case-steps"') :]
    for action in ("withdraw", "authorisation", "expedite"):
        assert _url(in_review, action) in block
    assert _url(in_review, "remand") not in html and _url(in_review, "reopen") not in html


def test_an_issued_case_offers_its_remand_once(client, coordinator, issued):
    client.force_login(coordinator)
    html = client.get(reverse("reviews:case_detail", args=[issued.case_number])).content.decode()
    assert _url(issued, "remand") in html and _url(issued, "withdraw") not in html
    new = services.case_remand(case=issued, by=coordinator, received_on=TODAY, order="WCAB order")
    html = client.get(reverse("reviews:case_detail", args=[issued.case_number])).content.decode()
    assert _url(issued, "remand") not in html
    assert f'href="/cases/{new.case_number}/"' in html  # the remand, linked
    remand_page = client.get(reverse("reviews:case_detail", args=[new.case_number])).content.decode()
    assert (
        f'<dt class="col-sm-3">Remand of</dt><dd class="col-sm-9"><a href="/cases/{issued.case_number}/">'
        in remand_page
    )


def test_withdrawing_from_the_page_closes_the_case(client, coordinator, in_review):
    client.force_login(coordinator)
    response = client.post(
        _url(in_review, "withdraw"),
        {"requested_by": "Maria Lopez", "requester": "attorney", "requested_on": TODAY.isoformat()},
    )
    assert response.status_code == 302 and response["Location"] == f"/cases/{in_review.case_number}/"
    in_review.refresh_from_db()
    assert (in_review.status, in_review.withdrawal_requester) == (S.WITHDRAWN, "attorney")


def test_a_refusal_is_shown_in_place_on_the_form(client, coordinator, in_review):
    client.force_login(coordinator)
    before = snapshot(in_review)
    response = client.post(
        _url(in_review, "authorisation"),
        {"items": [in_review.items.get(position=1).pk], "authorized_on": "2020-01-01", "reported_by": "Dana"},
    )
    assert response.status_code == 400
    assert "This date is before the UR decision" in response.content.decode()
    assert snapshot(in_review) == before


def test_a_step_not_open_at_this_stage_sends_the_coordinator_back_to_the_case(client, coordinator, in_review):
    client.force_login(coordinator)
    response = client.get(_url(in_review, "remand"), follow=True)
    assert response.redirect_chain == [(f"/cases/{in_review.case_number}/", 302)]
    assert "is not open" in response.content.decode()


@pytest.mark.parametrize("action", STEP_PAGES)
def test_the_step_pages_are_for_coordinators_only(client, in_review, reviewer, action):
    assert client.get(_url(in_review, action)).status_code == 302  # anonymous: to the login page
    client.force_login(reviewer.user)
    before = snapshot(in_review)
    assert client.get(_url(in_review, action)).status_code == 403
    assert client.post(_url(in_review, action), {"reason": "x"}).status_code == 403
    assert snapshot(in_review) == before


@pytest.mark.parametrize("action", STEP_PAGES)
def test_the_step_pages_answer_get_and_post_only(client, coordinator, in_review, action):
    client.force_login(coordinator)
    assert client.put(_url(in_review, action)).status_code == 405


def test_the_workspace_and_the_queue_show_the_reviewer_what_changed(client, coordinator, reviewer, in_review):
    services.case_terminate(
        case=in_review, by=coordinator, items=[in_review.items.get(position=1)], authorized_on=TODAY, reported_by="D"
    )
    services.case_expedite(case=in_review, by=coordinator, certified_on=TODAY, certification="On file")
    client.force_login(reviewer.user)
    html = client.get(reverse("reviews:case_workspace", args=[in_review.case_number])).content.decode()
    changes = html[html.index('id="case-changes"') :]
    assert "Converted to <strong>expedited</strong>" in changes
    assert "Item 1 (Physical therapy" in changes and "no longer part of the review" in changes
    assert f'action="/cases/{in_review.case_number}/review/items/1/"' not in html  # no form for it
    queue = client.get(reverse("reviews:reviewer_queue")).content.decode()
    assert "+1 authorised" in queue and f"since {TODAY:%m/%d/%Y}" in queue


@pytest.mark.parametrize(("action", "queries"), [("withdraw", 5), ("authorisation", 6), ("expedite", 5)])
def test_a_step_page_costs_a_fixed_number_of_queries(
    client, coordinator, in_review, django_assert_num_queries, action, queries
):
    client.force_login(coordinator)
    # session, user, groups (role), the case, the audit log's record of the read; the authorisation page
    # also lists the items in review
    with django_assert_num_queries(queries):
        assert client.get(_url(in_review, action)).status_code == 200


def test_opening_a_step_page_is_recorded_as_a_read_of_the_case(client, coordinator, in_review):
    from auditlog.models import LogEntry

    client.force_login(coordinator)
    client.get(_url(in_review, "withdraw"))
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(in_review.pk)).latest("timestamp")
    assert (entry.actor, entry.additional_data) == (coordinator, {"page": "withdraw"})
