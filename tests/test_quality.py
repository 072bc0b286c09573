"""Quality review: the coordinators' list and preview, return with comments, approve, and read-only after approval."""

import datetime as dt
import re
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews import letters, services
from reviews.models import Case, CaseDocument, CaseEvent, Citation, Diagnosis, DisputedItem
from reviews.services.errors import Refused
from reviews.views import quality
from tests.factories import (
    CaseDocumentFactory,
    CaseFactory,
    CitationFactory,
    CoordinatorFactory,
    DiagnosisFactory,
    DisputedItemFactory,
    confirm_public_copy,
)

S, P = Case.Status, Case.Priority
QA_LIST = "/cases/qa/"


def _url(case, action=""):
    return f"/cases/{case.case_number}/qa/{action + '/' if action else ''}"


def waiting_case(reviewer, *, submitted_at, priority=P.STANDARD, items=1) -> Case:
    """A case already submitted at `submitted_at` (a fixture, as seed_demo makes them): the walk is tested below."""
    case = CaseFactory(
        status=S.SUBMITTED,
        priority=priority,
        reviewer=reviewer,
        records_complete_date=dt.date(2026, 10, 8),
        decision_due_date=dt.date(2026, 11, 7),
        submitted_at=submitted_at,
    )
    for position in range(1, items + 1):
        DisputedItemFactory(case=case, position=position)
    with mock.patch.object(timezone, "now", return_value=submitted_at):
        CaseEvent.record(case, by=reviewer.user, from_status=S.IN_REVIEW, note="submitted for quality review")
    return case


def letter_of(response) -> str:
    """The letter a QA page shows (in a sandboxed frame), as reviews.letters rendered it."""
    return response.context["letter_html"]


def events_to(case, status):
    return list(CaseEvent.objects.filter(case=case, to_status=status).exclude(from_status=status))


# The list of determinations waiting for quality review.


def test_the_list_shows_submitted_cases_with_reviewer_item_count_and_due_date(
    client, coordinator, reviewer, submitted_case
):
    DisputedItemFactory(case=submitted_case, position=2)
    in_review = waiting_case(reviewer, submitted_at=timezone.now())
    Case.objects.filter(pk=in_review.pk).update(status=S.IN_REVIEW)
    approved = waiting_case(reviewer, submitted_at=timezone.now())
    Case.objects.filter(pk=approved.pk).update(status=S.APPROVED)
    client.force_login(coordinator)

    response = client.get(QA_LIST)

    assert response.status_code == 200
    assert [c.case_number for c in response.context["page"]] == [submitted_case.case_number]
    row = response.context["page"][0]
    assert row.item_count == 2
    # Stored by the submission (case_submit), beside its event.
    assert abs(row.submitted_at - events_to(submitted_case, S.SUBMITTED)[0].created_at) < dt.timedelta(seconds=1)
    body = response.content.decode()
    assert "Bob Reviewer" in body
    assert f"{submitted_case.decision_due_date:%m/%d/%Y}" in body
    assert reverse("reviews:case_qa", args=[submitted_case.case_number]) in body


def test_the_list_puts_expedited_cases_first_then_the_longest_waiting(client, coordinator, reviewer):
    now = timezone.now()
    recent = waiting_case(reviewer, submitted_at=now - dt.timedelta(hours=1))
    oldest = waiting_case(reviewer, submitted_at=now - dt.timedelta(days=3))
    expedited_recent = waiting_case(reviewer, priority=P.EXPEDITED, submitted_at=now - dt.timedelta(minutes=5))
    middle = waiting_case(reviewer, priority=P.FORMULARY, submitted_at=now - dt.timedelta(days=1))
    expedited_older = waiting_case(reviewer, priority=P.EXPEDITED, submitted_at=now - dt.timedelta(hours=2))
    client.force_login(coordinator)

    cases = client.get(QA_LIST).context["page"]

    assert [c.case_number for c in cases] == [
        c.case_number for c in (expedited_older, expedited_recent, oldest, middle, recent)
    ]


def test_the_list_costs_the_same_queries_for_3_or_60_cases(client, coordinator, reviewer, django_assert_num_queries):
    client.force_login(coordinator)
    for _ in range(3):
        waiting_case(reviewer, submitted_at=timezone.now(), items=2)
    # 1 session, 2 user, 3 the user's groups (role), 4 the bounded count, 5 the page of cases with
    # reviewer, claims administrator, items and submission, 6 the audit entry naming them
    with django_assert_num_queries(6):
        assert len(client.get(QA_LIST).context["page"]) == 3
    for _ in range(57):
        waiting_case(reviewer, submitted_at=timezone.now(), items=3)
    with django_assert_num_queries(6):
        assert len(client.get(QA_LIST).context["page"]) == 50


def test_the_list_shows_50_a_page_and_the_rest_on_the_next(client, coordinator, reviewer):
    now = timezone.now()
    cases = [waiting_case(reviewer, submitted_at=now - dt.timedelta(minutes=i)) for i in range(53)]
    client.force_login(coordinator)

    first, second = client.get(QA_LIST), client.get(QA_LIST + "?page=2")

    assert "53 determinations waiting · page 1 of 2" in first.content.decode()
    # Longest waiting first: the last made waited least, and ends the second page.
    assert [c.case_number for c in second.context["page"]] == [c.case_number for c in reversed(cases[:3])]


def test_past_its_limit_the_list_says_there_are_more_and_pages_only_that_far(client, coordinator, reviewer):
    for _ in range(4):
        waiting_case(reviewer, submitted_at=timezone.now())
    client.force_login(coordinator)

    with mock.patch("reviews.views.quality.QA_LIST_LIMIT", 3), mock.patch("reviews.views.quality.QA_PER_PAGE", 2):
        response = client.get(QA_LIST + "?page=9")

    assert "More than 3 determinations waiting: the first 3 are listed" in response.content.decode()
    assert response.context["page"].number == 2  # the last page offered, however far the link asked
    assert len(response.context["page"]) == 1


def test_the_list_says_so_when_nothing_waits(client, coordinator):
    client.force_login(coordinator)
    assert "No determination is waiting for quality review." in client.get(QA_LIST).content.decode()


# The QA page.


def test_the_qa_page_previews_the_determination_with_the_checklist_the_documents_and_both_actions(
    client, coordinator, submitted_case
):
    client.force_login(coordinator)

    response = client.get(_url(submitted_case))

    assert response.status_code == 200
    assert response.context["problems"] == []
    letter = letter_of(response)
    assert "The patient is a 57-year-old female" in letter
    assert "Physical therapy 2x6 weeks lumbar spine" in letter
    assert "Upheld" in letter
    assert "The Claims Administrator did not cite any medical evidence" in letter
    assert "MTUS Chronic Pain Treatment Guidelines" in letter
    assert "Page(s): 98, 99" in letter
    assert "MTUS pages 98 and 99 recommend 9 to 10 sessions" in letter
    assert "Progress report, Dr. Linda Marsh, 09/15/2026" in letter
    # The letter never names the reviewer; the coordinator sees who it is beside it.
    assert "Bob" not in letter
    body = response.content.decode()
    # In a sandboxed frame, escaped into its srcdoc attribute.
    assert re.search(r'<iframe [^>]*sandbox srcdoc="[^"]*CLINICAL CASE SUMMARY', body)
    assert "Bob Reviewer" in body
    assert "Every document opened by the reviewer" in body
    assert reverse("reviews:case_qa_approve", args=[submitted_case.case_number]) in body
    assert reverse("reviews:case_qa_return", args=[submitted_case.case_number]) in body
    assert (
        reverse("reviews:document_file", args=[submitted_case.case_number, submitted_case.documents.get().pk]) in body
    )


def test_the_qa_page_costs_the_same_queries_however_long_the_determination(
    client, coordinator, submitted_case, django_assert_num_queries
):
    client.force_login(coordinator)
    # session, user, groups; for the letter: the case with its parties and reviewer, the reviewer's
    # certifications and their specialties, licences, items, citations, guidelines, documents; the
    # review events with actors; submission_problems: items, their citations, unopened documents; the
    # audit entry of the read
    with django_assert_num_queries(16):
        client.get(_url(submitted_case))
    for position in range(2, 6):
        item = DisputedItemFactory(case=submitted_case, position=position)
        CitationFactory(item=item)
        CitationFactory(item=item, role=Citation.Role.CLAIMS_ADMINISTRATOR)
        DiagnosisFactory(case=submitted_case, position=position)
        CaseDocumentFactory(case=submitted_case, first_opened_at=timezone.now())
    with django_assert_num_queries(16):
        client.get(_url(submitted_case))


def test_the_qa_page_of_an_approved_case_shows_it_final_without_actions(client, coordinator, submitted_case):
    confirm_public_copy(submitted_case, by=coordinator)
    services.case_approve(case=submitted_case, by=coordinator)
    client.force_login(coordinator)

    body = client.get(_url(submitted_case)).content.decode()

    assert "The determination is final" in body
    assert "Approve the determination" not in body
    assert 'name="comments"' not in body


def test_the_qa_page_lists_what_is_missing_when_the_records_changed_after_submission(
    client, coordinator, submitted_case
):
    CaseDocumentFactory(case=submitted_case, kind=CaseDocument.Kind.IMAGING, author="Valley Imaging")
    client.force_login(coordinator)

    response = client.get(_url(submitted_case))

    assert [str(p) for p in response.context["problems"]] == ["You have not opened Imaging, Valley Imaging 09/15/2026."]
    assert "You have not opened Imaging, Valley Imaging 09/15/2026." in response.content.decode()


# Return to the reviewer.


def test_returning_with_comments_sends_the_case_back_to_the_reviewer_with_an_event(client, coordinator, submitted_case):
    client.force_login(coordinator)
    comments = "Item 1: cite the number of prior sessions.\nThe summary omits the MRI."

    response = client.post(_url(submitted_case, "return"), {"comments": comments}, follow=True)

    assert response.redirect_chain == [(QA_LIST, 302)]
    assert f"{submitted_case} returned to the reviewer" in response.content.decode()
    submitted_case.refresh_from_db()
    assert submitted_case.status == S.RETURNED
    assert submitted_case.qa_comments == comments
    [event] = events_to(submitted_case, S.RETURNED)
    assert (event.from_status, event.actor) == (S.SUBMITTED, coordinator)
    assert comments in event.note


@pytest.mark.parametrize("comments", ["", "   \n  "])
def test_returning_without_comments_is_refused_in_place(client, coordinator, submitted_case, comments):
    client.force_login(coordinator)

    response = client.post(_url(submitted_case, "return"), {"comments": comments})

    assert response.status_code == 400
    assert "Write the comments the reviewer should address." in response.content.decode()
    assert "The patient is a 57-year-old female" in letter_of(response)  # the whole page, not a bare error
    submitted_case.refresh_from_db()
    assert (submitted_case.status, submitted_case.qa_comments) == (S.SUBMITTED, "")
    assert events_to(submitted_case, S.RETURNED) == []


def test_returning_a_case_already_approved_says_someone_else_acted_first(client, coordinator, submitted_case):
    confirm_public_copy(submitted_case, by=coordinator)
    services.case_approve(case=submitted_case, by=CoordinatorFactory(username="dora"))
    client.force_login(coordinator)

    response = client.post(_url(submitted_case, "return"), {"comments": "Too late"}, follow=True)

    assert response.redirect_chain == [(_url(submitted_case), 302)]
    assert "is approved now: someone else acted on it first. Nothing was changed." in response.content.decode()
    submitted_case.refresh_from_db()
    assert (submitted_case.status, submitted_case.qa_comments) == (S.APPROVED, "")


# Approve.

CONFIRMED = {"final": "on"}  # the box that confirms approval, which cannot be undone


def test_approving_makes_the_determination_final_with_today_as_decision_date(client, coordinator, submitted_case):
    confirm_public_copy(submitted_case, by=coordinator)
    client.force_login(coordinator)

    response = client.post(_url(submitted_case, "approve"), CONFIRMED, follow=True)

    assert response.redirect_chain == [(QA_LIST, 302)]
    assert f"{submitted_case} approved" in response.content.decode()
    submitted_case.refresh_from_db()
    assert submitted_case.status == S.APPROVED
    assert submitted_case.decision_date == timezone.localdate()
    [event] = events_to(submitted_case, S.APPROVED)
    assert (event.from_status, event.actor) == (S.SUBMITTED, coordinator)


def test_approving_needs_the_box_ticked_and_without_it_changes_nothing(client, coordinator, submitted_case):
    confirm_public_copy(submitted_case, by=coordinator)
    client.force_login(coordinator)
    page = client.get(_url(submitted_case)).content.decode()
    assert 'name="final"' in page and "This cannot be undone." in page

    response = client.post(_url(submitted_case, "approve"))

    assert response.status_code == 400
    assert "Tick the box to confirm: an approved determination cannot be changed." in response.content.decode()
    submitted_case.refresh_from_db()
    assert (submitted_case.status, submitted_case.decision_date) == (S.SUBMITTED, None)
    assert events_to(submitted_case, S.APPROVED) == []


def test_approving_a_case_already_approved_says_someone_else_acted_first(client, coordinator, submitted_case):
    confirm_public_copy(submitted_case, by=coordinator)
    client.force_login(coordinator)
    client.post(_url(submitted_case, "approve"), CONFIRMED)

    response = client.post(_url(submitted_case, "approve"), CONFIRMED, follow=True)

    assert response.redirect_chain == [(_url(submitted_case), 302)]
    assert "is approved now: someone else acted on it first" in response.content.decode()
    assert len(events_to(submitted_case, S.APPROVED)) == 1


@pytest.mark.parametrize(
    ("action", "data"), [("approve", {"final": "on"}), ("return", {"comments": "Please amend item 1."})]
)
def test_a_coordinator_acting_in_the_same_instant_as_another_is_told_and_changes_nothing(
    client, coordinator, submitted_case, monkeypatch, action, data
):
    """The page loaded a submitted case; another coordinator approves it before the service locks the row."""
    fetch = quality.get_case_for_coordinator

    def fetch_then_another_coordinator_approves(user, case_number, queryset=None):
        case = fetch(user, case_number, queryset)
        services.case_approve(case=Case.objects.get(pk=case.pk), by=CoordinatorFactory(username="dora"))
        return case

    monkeypatch.setattr(quality, "get_case_for_coordinator", fetch_then_another_coordinator_approves)
    confirm_public_copy(submitted_case, by=coordinator)
    client.force_login(coordinator)

    response = client.post(_url(submitted_case, action), data)

    assert response.status_code == 302
    assert response["Location"] == _url(submitted_case)
    submitted_case.refresh_from_db()
    assert (submitted_case.status, submitted_case.qa_comments) == (S.APPROVED, "")
    assert len(events_to(submitted_case, S.APPROVED)) == 1


def test_approving_an_incomplete_determination_lists_the_missing_pieces_in_place(client, coordinator, submitted_case):
    CaseDocumentFactory(case=submitted_case, kind=CaseDocument.Kind.IMAGING, author="Valley Imaging")
    DisputedItem.objects.filter(case=submitted_case).update(rationale="")  # as an admin edit could leave it
    client.force_login(coordinator)

    response = client.post(_url(submitted_case, "approve"), CONFIRMED)

    assert response.status_code == 409
    body = response.content.decode()
    assert "Approval refused: the determination is incomplete." in body
    assert "Item 1 (Physical therapy 2x6 weeks lumbar spine) has no decision rationale." in body
    assert "You have not opened Imaging, Valley Imaging 09/15/2026." in body
    submitted_case.refresh_from_db()
    assert (submitted_case.status, submitted_case.decision_date) == (S.SUBMITTED, None)
    assert events_to(submitted_case, S.APPROVED) == []


# Access.

PAGES = [("get", QA_LIST), ("get", "qa"), ("post", "qa/return"), ("post", "qa/approve")]


def _page(case, path):
    return path if path.startswith("/") else f"/cases/{case.case_number}/{path}/"


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_anonymous_users_are_sent_to_log_in(client, submitted_case, method, path):
    response = getattr(client, method)(_page(submitted_case, path), {"comments": "x"} if method == "post" else {})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Case.objects.get(pk=submitted_case.pk).status == S.SUBMITTED


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_reviewers_may_not_use_quality_review_not_even_on_their_own_case(
    client, reviewer, submitted_case, method, path
):
    client.force_login(reviewer.user)

    response = getattr(client, method)(_page(submitted_case, path), {"comments": "x"} if method == "post" else {})

    assert response.status_code == 403
    assert Case.objects.get(pk=submitted_case.pk).status == S.SUBMITTED


@pytest.mark.parametrize(
    ("method", "path"), [("post", QA_LIST), ("post", "qa"), ("get", "qa/return"), ("get", "qa/approve")]
)
def test_wrong_methods_are_refused(client, coordinator, submitted_case, method, path):
    client.force_login(coordinator)

    assert getattr(client, method)(_page(submitted_case, path)).status_code == 405
    assert Case.objects.get(pk=submitted_case.pk).status == S.SUBMITTED


# Read-only after approval, in every interface.


@pytest.fixture(params=[S.APPROVED, S.ISSUED])
def final_case(request, coordinator, submitted_case):
    """The submitted case, approved; or issued, as the letter service will leave it (not written yet)."""
    DiagnosisFactory(case=submitted_case, position=1)
    confirm_public_copy(submitted_case, by=coordinator)
    case = services.case_approve(case=submitted_case, by=coordinator)
    if request.param == S.ISSUED:
        Case.objects.filter(pk=case.pk).update(status=S.ISSUED)
        case.refresh_from_db()
    return case


def test_the_services_refuse_to_change_the_summary_of_a_final_case(reviewer, final_case):
    with pytest.raises(Refused, match="approved and can no longer change"):
        services.case_summary_save(
            case=final_case, by=reviewer.user, text="Rewritten", version=final_case.summary_version
        )

    final_case.refresh_from_db()
    assert final_case.clinical_case_summary.startswith("The patient is a 57-year-old female")


def test_the_services_refuse_to_change_an_item_of_a_final_case(reviewer, final_case):
    item = final_case.items.get()

    with pytest.raises(Refused, match="approved and can no longer change"):
        services.item_review_save(
            item=item,
            by=reviewer.user,
            version=item.version,
            decision="overturned",
            ca_cited_no_evidence=True,
            ca_citations=[],
            review_citations=[],
            review_cited_no_evidence=True,
            internal_note="",
            rationale="Rewritten",
        )

    item.refresh_from_db()
    assert (item.decision, item.citations.count()) == ("upheld", 1)


def test_quality_review_cannot_return_a_final_case(coordinator, final_case):
    with pytest.raises(Refused):
        services.case_return_to_reviewer(case=final_case, by=coordinator, comments="Amend")
    assert Case.objects.get(pk=final_case.pk).status == final_case.status


def admin_change_url(obj):
    return reverse(f"admin:reviews_{obj._meta.model_name}_change", args=[obj.pk])


def admin_delete_url(obj):
    return reverse(f"admin:reviews_{obj._meta.model_name}_delete", args=[obj.pk])


def determination_records(case):
    item = case.items.get()
    return {
        "case": case,
        "item": item,
        "citation": item.citations.get(),
        "diagnosis": case.diagnoses.get(),
        "document": case.documents.get(),
    }


RECORDS = ["case", "item", "citation", "diagnosis", "document"]

# A POST that would change each record, were it allowed.
EDITS = {
    "case": {
        "clinical_case_summary": "Rewritten in the admin",
        "employee_name": "Someone Else",
        "priority": "standard",
    },
    "item": {
        "rationale": "Rewritten in the admin",
        "decision": "overturned",
        "request_text": "x",
        "ur_action": "denied",
    },
    "citation": {"sections": "Rewritten", "pages": "1", "role": "review", "position": 1},
    "diagnosis": {"description": "Rewritten in the admin", "icd10_code": "M54.5", "position": 1},
    "document": {"author": "Rewritten in the admin", "kind": "other", "submitted_by": "ca"},
}


@pytest.mark.parametrize("record", RECORDS)
def test_the_admin_shows_the_determination_of_a_final_case_read_only(client, admin_user, final_case, record):
    obj = determination_records(final_case)[record]
    client.force_login(admin_user)

    page = client.get(admin_change_url(obj))
    post = client.post(admin_change_url(obj), EDITS[record])
    delete_page = client.get(admin_delete_url(obj))
    delete_post = client.post(admin_delete_url(obj), {"post": "yes"})

    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html
    assert (post.status_code, delete_page.status_code, delete_post.status_code) == (403, 403, 403)
    obj.refresh_from_db()
    assert "Rewritten" not in str(vars(obj))


def test_the_admin_case_page_of_a_final_case_has_no_field_to_edit_in_any_inline(client, admin_user, final_case):
    client.force_login(admin_user)

    response = client.get(admin_change_url(final_case))

    html = response.content.decode()
    for name in (
        "clinical_case_summary",
        "reviewer",
        "items-0-rationale",
        "items-0-decision",
        "diagnoses-0-description",
    ):
        assert f'name="{name}"' not in html
    assert 'name="documents-0-author"' not in html
    permissions = {
        formset.opts.model._meta.model_name: (
            formset.has_add_permission,
            formset.has_change_permission,
            formset.has_delete_permission,
        )
        for formset in response.context["inline_admin_formsets"]
    }
    assert permissions == dict.fromkeys(["diagnosis", "disputeditem", "casedocument", "caseevent"], (False,) * 3)


@pytest.mark.parametrize(
    ("record", "editable"),
    [("case", True), ("document", True), ("item", False), ("citation", False), ("diagnosis", False)],
)
def test_after_acceptance_the_admin_edits_the_case_and_its_documents_but_not_what_the_reviewer_decides_on(
    client, admin_user, submitted_case, record, editable
):
    DiagnosisFactory(case=submitted_case, position=1)
    obj = determination_records(submitted_case)[record]
    client.force_login(admin_user)

    html = client.get(admin_change_url(obj)).content.decode()

    assert ('name="_save"' in html) is editable
    assert 'name="clinical_case_summary"' not in html and 'name="rationale"' not in html


def test_the_admin_refuses_to_change_a_diagnosis_once_the_reviewer_accepted(client, admin_user, submitted_case):
    diagnosis = DiagnosisFactory(case=submitted_case, position=1, description="Lumbar radiculopathy")
    client.force_login(admin_user)

    response = client.post(
        admin_change_url(diagnosis),
        {"case": submitted_case.pk, "position": 1, "icd10_code": "M54.5", "description": "Low back pain"},
    )

    assert response.status_code == 403
    diagnosis.refresh_from_db()
    assert diagnosis.description == "Lumbar radiculopathy"


@pytest.mark.parametrize("user", ["coordinator", "admin_user"])
def test_neither_a_coordinator_nor_a_superuser_can_write_the_determination_in_the_admin(
    client, request, submitted_case, coordinator, user
):
    """The High finding: through /admin/ a coordinator rewrote the decision, the rationale, the summary,
    added and deleted records, then approved. Every one of those now leaves the reviewer's words."""
    actor = request.getfixturevalue(user)
    diagnosis = DiagnosisFactory(case=submitted_case, position=1)
    item = submitted_case.items.get()
    reviewer_words = (submitted_case.clinical_case_summary, item.decision, item.rationale)
    client.force_login(actor)

    client.post(admin_change_url(item), {**EDITS["item"], "case": submitted_case.pk, "position": 1})
    client.post(admin_change_url(submitted_case), EDITS["case"])
    added = client.post(
        reverse("admin:reviews_disputeditem_add"),
        {
            "case": submitted_case.pk,
            "position": 2,
            "request_text": "Fabricated",
            "category": item.category_id,
            "ur_action": "denied",
            "decision": "overturned",
            "rationale": "Fabricated",
            "citations-TOTAL_FORMS": 0,
            "citations-INITIAL_FORMS": 0,
        },
    )
    deleted = client.post(admin_delete_url(diagnosis), {"post": "yes"})
    review_citation = item.citations.get()
    client.post(admin_delete_url(review_citation), {"post": "yes"})

    if user == "coordinator":  # no add permission on items at all (reviews.roles)
        assert added.status_code == 403
    else:  # a superuser's add page refuses a record for an accepted case
        assert added.status_code == 200 and "change only through the workflow" in added.content.decode()
    assert deleted.status_code == 403
    case = Case.objects.get(pk=submitted_case.pk)
    item.refresh_from_db()
    assert (case.clinical_case_summary, item.decision, item.rationale) == reviewer_words
    assert (
        case.items.count() == 1
        and case.diagnoses.count() == 1
        and item.citations.filter(pk=review_citation.pk).exists()
    )

    confirm_public_copy(case, by=coordinator)
    case = services.case_approve(case=case, by=coordinator)
    text = letters.render_letter(case=letters.letter_queryset().get(pk=case.pk), fmt="text")
    assert "Rewritten in the admin" not in text and "Fabricated" not in text
    assert reviewer_words[2] in " ".join(text.split())


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (Diagnosis, lambda case: {"case": case.pk, "position": 2, "icd10_code": "M54.5", "description": "Added"}),
        (
            DisputedItem,
            lambda case: {
                "case": case.pk,
                "position": 2,
                "request_text": "Added in the admin",
                "category": case.items.get().category_id,
                "ur_action": "denied",
                "citations-TOTAL_FORMS": 0,
                "citations-INITIAL_FORMS": 0,
            },
        ),
        (
            Citation,
            lambda case: {
                "item": case.items.get().pk,
                "role": "ca",
                "position": 1,
                "guideline": case.items.get().citations.get().guideline_id,
                "sections": "Added",
            },
        ),
    ],
    ids=["diagnosis", "item", "citation"],
)
def test_the_admin_adds_nothing_to_the_determination_of_a_final_case(client, admin_user, final_case, model, data):
    client.force_login(admin_user)
    before = model.objects.count()

    response = client.post(reverse(f"admin:reviews_{model._meta.model_name}_add"), data(final_case))

    assert response.status_code == 200
    assert "change only through the workflow." in response.content.decode()
    assert model.objects.count() == before


def test_the_admin_bulk_delete_action_spares_the_items_of_a_final_case(client, admin_user, final_case):
    item = final_case.items.get()
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:reviews_disputeditem_changelist"),
        {"action": "delete_selected", "_selected_action": [item.pk], "post": "yes"},
    )

    assert response.status_code == 403
    assert DisputedItem.objects.filter(pk=item.pk).exists()
    assert item.citations.count() == 1
