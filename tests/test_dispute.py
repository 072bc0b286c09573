"""The coordinator's changes to items and diagnoses once a reviewer relies on them: an event, a notice, a flag,
and a submitted determination back with its reviewer."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from reviews import services, tasks  # noqa: F401 (registers the tasks run_relayed runs)
from reviews.models import Case, CaseEvent, Citation, Diagnosis, DisputedItem, OutboxEntry
from reviews.services import dispute
from reviews.services.errors import Refused
from tests.factories import DiagnosisFactory, TreatmentCategoryFactory, UserFactory

S = Case.Status
NEW_REQUEST = "Physical therapy 2x4 weeks lumbar spine"


def _url(case, name, *args):
    return reverse(f"reviews:{name}", args=[case.case_number, *args])


def _item_post(item, **changes):
    data = {
        "request_text": item.request_text,
        "category": item.category_id,
        "subcategory": item.subcategory_id or "",
        "body_part": item.body_part,
        "side": item.side,
        "spinal_level": item.spinal_level,
        "ur_action": item.ur_action,
        "authorized_part": item.authorized_part,
        "eligible_scope": item.eligible_scope,
        "remaining_part": item.remaining_part,
        "reason": "The RFA was misread at intake.",
    }
    return {**data, **changes}


@pytest.fixture
def in_review(submitted_case, coordinator):
    """bob's case back in review: returned once by quality review and opened again."""
    case = services.case_return_to_reviewer(case=submitted_case, by=coordinator, comments="Cite the page.")
    item = case.items.get()
    services.item_review_save(
        item=item,
        by=case.reviewer.user,
        version=item.version,
        decision="upheld",
        ca_cited_no_evidence=True,
        ca_citations=[],
        review_citations=[services.CitationInput(Citation.objects.filter(item=item).first().guideline, pages="98")],
        review_cited_no_evidence=False,
        internal_note="",
        rationale="MTUS page 98 recommends 9 to 10 sessions.",
    )
    return Case.objects.get(pk=case.pk)


def test_changing_the_request_of_an_item_in_review_keeps_the_decision_flags_it_and_tells_the_reviewer(
    client, coordinator, in_review, queued, django_capture_on_commit_callbacks
):
    item = in_review.items.get()
    client.force_login(coordinator)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(in_review, "dispute_item", 1), _item_post(item, request_text=NEW_REQUEST))

    assert response.status_code == 302
    changed = DisputedItem.objects.get(pk=item.pk)
    assert changed.request_text == NEW_REQUEST
    # The reviewer's determination of the item stays as they wrote it.
    assert (changed.decision, changed.rationale) == ("upheld", "MTUS page 98 recommends 9 to 10 sessions.")
    assert changed.citations.filter(role=Citation.Role.REVIEW).count() == 1
    assert changed.version == item.version + 1  # a panel open on the old request is refused as stale
    assert NEW_REQUEST in changed.coordinator_change and "misread at intake" in changed.coordinator_change
    event = CaseEvent.objects.filter(case=in_review).latest("created_at", "id")
    assert event.actor == coordinator and event.to_status == S.IN_REVIEW
    assert NEW_REQUEST in event.note and "The RFA was misread at intake." in event.note
    assert ("notify_reviewer_dispute_changed", (in_review.pk,)) in queued


def test_the_reviewer_sees_the_change_flagged_and_cannot_submit_until_saving_the_item_again(
    client, coordinator, reviewer, in_review
):
    item = in_review.items.get()
    dispute.dispute_item_save(
        case=in_review, by=coordinator, reason="The RFA was misread.", position=1, request_text=NEW_REQUEST
    )
    client.force_login(reviewer.user)

    page = client.get(_url(in_review, "case_workspace")).content.decode()

    assert 'id="item-1-changed"' in page and "The coordinator changed this item" in page
    with pytest.raises(Refused, match="changed by the coordinator"):
        services.case_submit(case=in_review, by=reviewer.user)
    item.refresh_from_db()
    services.item_review_save(
        item=item,
        by=reviewer.user,
        version=item.version,
        decision="upheld",
        ca_cited_no_evidence=True,
        ca_citations=[],
        review_citations=[services.CitationInput(item.citations.get(role=Citation.Role.REVIEW).guideline)],
        review_cited_no_evidence=False,
        internal_note="",
        rationale=item.rationale,
    )
    assert DisputedItem.objects.get(pk=item.pk).coordinator_change == ""
    assert services.case_submit(case=in_review, by=reviewer.user).status == S.SUBMITTED


def test_a_change_to_a_submitted_case_returns_it_to_the_reviewer_with_the_change_as_comments(
    coordinator, submitted_case, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispute.dispute_item_save(
            case=submitted_case, by=coordinator, reason="Wrong body part.", position=1, body_part="Lumbar spine"
        )

    case = Case.objects.get(pk=submitted_case.pk)
    assert case.status == S.RETURNED
    assert "Wrong body part." in case.qa_comments and "Lumbar spine" in case.qa_comments
    event = CaseEvent.objects.filter(case=case).latest("created_at", "id")
    assert (event.from_status, event.to_status, event.actor) == (S.SUBMITTED, S.RETURNED, coordinator)
    assert ("notify_reviewer_dispute_changed", (case.pk,)) in queued


def test_the_reviewers_notice_names_the_case_and_links_the_workspace_without_medical_details(
    coordinator, in_review, mailoutbox, run_relayed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispute.dispute_item_save(
            case=in_review, by=coordinator, reason="The RFA was misread.", position=1, request_text=NEW_REQUEST
        )

    assert run_relayed == ["notify_reviewer_dispute_changed"]
    (email,) = mailoutbox
    assert email.to == [in_review.reviewer.user.email]
    assert in_review.case_number in email.subject
    assert _url(in_review, "case_workspace") in email.body
    assert NEW_REQUEST not in email.body and in_review.employee_name not in email.body
    assert "returned to you" not in email.body


def test_the_notice_of_a_change_to_a_submitted_case_says_it_is_back_with_the_reviewer(
    coordinator, submitted_case, mailoutbox, run_relayed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispute.dispute_item_save(
            case=submitted_case, by=coordinator, reason="Wrong body part.", position=1, body_part="Lumbar spine"
        )

    (email,) = mailoutbox
    assert "The determination you submitted has been returned to you." in email.body


def test_adding_an_item_puts_it_last_marked_as_added_for_the_reviewer(coordinator, in_review):
    category = TreatmentCategoryFactory(name="Injection")

    item = dispute.dispute_item_save(
        case=in_review,
        by=coordinator,
        reason="Second request on the RFA.",
        request_text="Lumbar epidural steroid injection L4-5",
        category=category,
        ur_action=DisputedItem.URAction.DENIED,
    )

    assert item.position == 2 and item.decision == ""
    assert item.coordinator_change.startswith("Added by Alice Coordinator")
    assert (
        "item 2 added: Lumbar epidural steroid injection L4-5" in CaseEvent.objects.filter(case=in_review).last().note
    )


def test_removing_an_item_keeps_the_others_numbers_and_the_only_item_cannot_be_removed(coordinator, in_review):
    second = dispute.dispute_item_save(
        case=in_review,
        by=coordinator,
        reason="Second request.",
        request_text="Lumbar MRI",
        category=TreatmentCategoryFactory(name="Diagnostic testing"),
        ur_action=DisputedItem.URAction.DENIED,
    )

    dispute.dispute_item_remove(case=in_review, by=coordinator, reason="Entered twice.", position=1)

    assert list(in_review.items.values_list("pk", "position")) == [(second.pk, 2)]
    assert "item 1 removed" in CaseEvent.objects.filter(case=in_review).last().note
    with pytest.raises(Refused) as refused:
        dispute.dispute_item_remove(case=in_review, by=coordinator, reason="Gone.", position=2)
    assert refused.value.code == "last_item"
    assert in_review.items.count() == 1


def test_diagnoses_are_changed_added_and_removed_with_an_event_each(coordinator, in_review, queued):
    DiagnosisFactory(case=in_review, position=1, icd10_code="M54.5", description="Low back pain")
    events = CaseEvent.objects.filter(case=in_review).count()

    dispute.dispute_diagnosis_save(
        case=in_review, by=coordinator, reason="Typo.", position=1, icd10_code="M54.50", description="Low back pain"
    )
    dispute.dispute_diagnosis_save(
        case=in_review, by=coordinator, reason="Missed.", icd10_code="M51.26", description="Disc displacement"
    )
    dispute.dispute_diagnosis_remove(case=in_review, by=coordinator, reason="Not this claim.", position=1)

    assert list(in_review.diagnoses.values_list("position", "icd10_code")) == [(2, "M51.26")]
    notes = list(CaseEvent.objects.filter(case=in_review).order_by("id").values_list("note", flat=True)[events:])
    assert notes[0].startswith("diagnosis 1 changed: ICD-10 code: “M54.5” → “M54.50”")
    assert notes[1].startswith("diagnosis M51.26 Disc displacement added")
    assert notes[2].startswith("diagnosis M54.50 Low back pain removed")


def test_before_the_reviewer_accepts_a_change_is_an_event_without_flag_or_notice(coordinator, ready_case, queued):
    dispute.dispute_item_save(case=ready_case, by=coordinator, reason="Typo.", position=1, request_text=NEW_REQUEST)

    item = ready_case.items.get()
    assert item.request_text == NEW_REQUEST and item.coordinator_change == ""
    assert CaseEvent.objects.filter(case=ready_case).last().note.startswith("item 1 changed")
    assert not OutboxEntry.objects.filter(task="reviews.tasks.notify_reviewer_dispute_changed").exists()


# Refusals: shown in place or on the case page, and nothing changes.


def test_an_approved_case_refuses_any_change_and_the_page_says_so(client, coordinator, submitted_case):
    case = submitted_case
    Case.objects.filter(pk=case.pk).update(status=S.APPROVED)  # a fixture: approval is tested in test_quality
    item = case.items.get()
    client.force_login(coordinator)

    response = client.post(_url(case, "dispute_item", 1), _item_post(item, request_text=NEW_REQUEST))

    assert response.status_code == 302 and response.url == _url(case, "case_detail")
    assert DisputedItem.objects.get(pk=item.pk).request_text == item.request_text
    assert client.get(_url(case, "case_dispute")).status_code == 302
    with pytest.raises(Refused) as refused:
        dispute.dispute_diagnosis_save(case=case, by=coordinator, reason="x", icd10_code="M54.5", description="x")
    assert refused.value.code == "not_allowed" and not Diagnosis.objects.filter(case=case).exists()


CHANGES = {
    "changing an item": lambda case, by: dispute.dispute_item_save(
        case=case, by=by, reason="x", position=1, request_text=NEW_REQUEST
    ),
    "removing an item": lambda case, by: dispute.dispute_item_remove(case=case, by=by, reason="x", position=1),
    "adding a diagnosis": lambda case, by: dispute.dispute_diagnosis_save(
        case=case, by=by, reason="x", icd10_code="M54.5", description="Low back pain"
    ),
    "removing a diagnosis": lambda case, by: dispute.dispute_diagnosis_remove(case=case, by=by, reason="x", position=1),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_only_a_coordinator_may_change_the_items_and_diagnoses_and_nothing_changes_for_anyone_else(
    change, reviewer, in_review
):
    DiagnosisFactory(case=in_review, position=1, icd10_code="M54.16", description="Radiculopathy, lumbar region")

    def state():
        return (
            Case.objects.values().get(pk=in_review.pk),
            list(in_review.items.values()),
            list(in_review.diagnoses.values()),
            CaseEvent.objects.filter(case=in_review).count(),
            OutboxEntry.objects.count(),
        )

    before = state()
    for user in (reviewer.user, UserFactory(username="mallory")):
        with pytest.raises(PermissionDenied):
            change(Case.objects.get(pk=in_review.pk), user)
    assert state() == before


def test_a_change_without_a_reason_is_refused_in_place(client, coordinator, in_review):
    item = in_review.items.get()
    client.force_login(coordinator)
    events = CaseEvent.objects.filter(case=in_review).count()

    response = client.post(_url(in_review, "dispute_item", 1), _item_post(item, request_text=NEW_REQUEST, reason=" "))

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert DisputedItem.objects.get(pk=item.pk).request_text == item.request_text
    assert CaseEvent.objects.filter(case=in_review).count() == events


def test_an_invalid_item_is_refused_on_its_field(client, coordinator, in_review):
    item = in_review.items.get()
    client.force_login(coordinator)

    response = client.post(_url(in_review, "dispute_item", 1), _item_post(item, ur_action="modified"))

    assert response.status_code == 400
    assert "UR modified this request: say what it authorised." in response.content.decode()
    assert DisputedItem.objects.get(pk=item.pk).ur_action == item.ur_action


def test_saving_an_unchanged_item_says_nothing_changed(client, coordinator, in_review):
    client.force_login(coordinator)

    response = client.post(_url(in_review, "dispute_item", 1), _item_post(in_review.items.get()))

    assert response.status_code == 400 and "Nothing was changed." in response.content.decode()
    assert in_review.items.get().coordinator_change == ""


@pytest.mark.parametrize("name", ["case_dispute", "dispute_item_add", "dispute_diagnosis_add"])
def test_anonymous_users_log_in_and_reviewers_are_refused(client, reviewer, in_review, name):
    url = _url(in_review, name)
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    client.force_login(reviewer.user)
    assert client.get(url).status_code == 403


def test_an_unknown_item_is_404_and_removal_answers_only_post(client, coordinator, in_review):
    client.force_login(coordinator)
    assert client.get(_url(in_review, "dispute_item", 9)).status_code == 404
    assert client.post(_url(in_review, "dispute_item_remove", 9), {"remove-reason": "x"}).status_code == 404
    assert client.get(_url(in_review, "dispute_item_remove", 1)).status_code == 405


def test_the_case_page_links_the_changes_and_the_access_history(client, coordinator, in_review):
    client.force_login(coordinator)
    page = client.get(_url(in_review, "case_detail")).content.decode()
    assert _url(in_review, "case_dispute") in page and _url(in_review, "case_access_history") in page


def test_a_diagnosis_already_listed_is_refused_on_its_code(client, coordinator, in_review):
    DiagnosisFactory(case=in_review, position=1, icd10_code="M54.16", description="Radiculopathy, lumbar region")
    client.force_login(coordinator)

    response = client.post(
        _url(in_review, "dispute_diagnosis_add"),
        {"icd10_code": "m5416", "description": "Radiculopathy", "reason": "Again."},
    )

    assert response.status_code == 400 and "M54.16 is already listed." in response.content.decode()
    assert in_review.diagnoses.count() == 1
