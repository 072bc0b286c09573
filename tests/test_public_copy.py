"""The public copy in quality review: removals highlighted, undo and add, confirmation before approval, the letter."""

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from reviews import services
from reviews.letters import letter_queryset, render_letter
from reviews.models import Case, CaseEvent, DisputedItem, Letter, Provider, Redaction
from reviews.services import letters as letter_services
from reviews.services.errors import Refused
from tests.factories import CaseDocumentFactory, DisputedItemFactory, confirm_public_copy

S = Case.Status
SUMMARY = (
    "Ms. Young is a young warehouse worker with right shoulder pain. Dr. Shoulder requested arthroscopy; "
    "Valley Imaging read the MRI."
)


@pytest.fixture
def named_case(submitted_case):
    """The submitted case with an employee and a physician whose surnames are words the letter also uses."""
    Case.objects.filter(pk=submitted_case.pk).update(employee_name="Teresa Young", clinical_case_summary=SUMMARY)
    Provider.objects.filter(pk=submitted_case.requesting_provider_id).update(name="Dr. Sam Shoulder")
    DisputedItem.objects.filter(case=submitted_case).update(
        request_text="Right shoulder arthroscopy with rotator cuff repair, right"
    )
    submitted_case.refresh_from_db()
    return submitted_case


def _url(case, action=""):
    return reverse(f"reviews:{action or 'case_public_copy'}", args=[case.case_number])


def _public_text(case):
    return render_letter(case=letter_queryset().get(pk=case.pk), fmt="text", public=True)


def _approved_events(case):
    return CaseEvent.objects.filter(case=case, to_status=S.APPROVED)


# The page.


def test_the_page_shows_every_removal_highlighted_with_its_reason_and_the_words_kept(client, coordinator, named_case):
    client.force_login(coordinator)

    response = client.get(_url(named_case))

    assert response.status_code == 200
    body = response.content.decode()
    assert '<s>Ms. Young</s><span class="imr-why">employee&#x27;s name</span>' in body
    assert '<s>Dr. Shoulder</s><span class="imr-why">physician&#x27;s name</span>' in body
    assert '<s>Dr. Linda Marsh</s><span class="imr-why">a name after a title</span>' in body  # the report's author
    assert "is a young warehouse worker with right shoulder pain." in body
    assert "Right shoulder arthroscopy with rotator cuff repair, right" in body
    assert "Not confirmed" in body
    assert response.context["public_copy"].problem == "The public copy has not been confirmed."
    assert reverse("reviews:public_copy_confirm", args=[named_case.case_number]) in body


def test_the_page_costs_the_same_queries_however_long_the_determination(
    client, coordinator, named_case, django_assert_num_queries
):
    client.force_login(coordinator)
    # session, user, groups; the case with its parties, reviewer and choices with who confirmed them; the
    # reviewer's certifications, their specialties, licences; items, citations, guidelines; documents;
    # the audit entry of the read (the last submission's time is the case's)
    with django_assert_num_queries(12):
        client.get(_url(named_case))
    for position in range(2, 6):
        DisputedItemFactory(case=named_case, position=position, rationale="Dr. Shoulder agrees.")
        CaseDocumentFactory(case=named_case, author="Dr. Sam Shoulder")
    with django_assert_num_queries(12):
        client.get(_url(named_case))


# Approval waits for the confirmation.


def test_approval_is_refused_until_the_public_copy_is_confirmed_and_nothing_changes(client, coordinator, named_case):
    client.force_login(coordinator)

    response = client.post(reverse("reviews:case_qa_approve", args=[named_case.case_number]), {"final": "on"})

    assert response.status_code == 409
    assert "Approval refused: The public copy has not been confirmed." in response.content.decode()
    named_case.refresh_from_db()
    assert (named_case.status, named_case.decision_date) == (S.SUBMITTED, None)
    assert not _approved_events(named_case).exists()
    assert not Letter.objects.filter(case=named_case, kind=Letter.Kind.FINAL_DETERMINATION).exists()


def test_the_qa_page_holds_the_approve_button_until_the_public_copy_is_confirmed(client, coordinator, named_case):
    client.force_login(coordinator)
    qa = reverse("reviews:case_qa", args=[named_case.case_number])

    before = client.get(qa).content.decode()
    confirm_public_copy(named_case, by=coordinator)
    after = client.get(qa).content.decode()

    assert 'btn-success btn-sm" disabled>Approve the determination' in before
    assert "Check and confirm it" in before
    assert 'btn-success btn-sm">Approve the determination' in after
    assert "Confirmed, names and numbers removed." in after


def test_confirming_records_who_and_an_event_and_lets_approval_go_ahead(client, coordinator, named_case, queued):
    client.force_login(coordinator)
    digest = client.get(_url(named_case)).context["public_copy"].digest

    response = client.post(_url(named_case, "public_copy_confirm"), {"digest": digest}, follow=True)

    assert response.redirect_chain == [(reverse("reviews:case_qa", args=[named_case.case_number]), 302)]
    choices = Redaction.objects.get(case=named_case)
    assert (choices.confirmed_by, choices.confirmed_digest) == (coordinator, digest)
    event = CaseEvent.objects.filter(case=named_case).last()
    assert (event.from_status, event.to_status, event.actor) == (S.SUBMITTED, S.SUBMITTED, coordinator)
    assert event.note == "public copy confirmed: 3 removals"  # Ms. Young, Dr. Shoulder, the report's author
    services.case_approve(case=named_case, by=coordinator)
    assert Case.objects.get(pk=named_case.pk).status == S.APPROVED


def test_a_confirmation_from_a_page_that_no_longer_matches_is_refused(client, coordinator, named_case):
    client.force_login(coordinator)
    digest = client.get(_url(named_case)).context["public_copy"].digest
    Case.objects.filter(pk=named_case.pk).update(clinical_case_summary=SUMMARY + " Mr. Hand drove her.")

    response = client.post(_url(named_case, "public_copy_confirm"), {"digest": digest}, follow=True)

    assert "The public copy changed since you loaded the page" in response.content.decode()
    assert not Redaction.objects.filter(case=named_case, confirmed_at__isnull=False).exists()
    assert not CaseEvent.objects.filter(case=named_case, note__startswith="public copy confirmed").exists()


def test_a_text_changed_after_confirmation_asks_for_another(coordinator, named_case):
    confirm_public_copy(named_case, by=coordinator)
    Case.objects.filter(pk=named_case.pk).update(clinical_case_summary=SUMMARY + " Mr. Hand drove her.")

    with pytest.raises(Refused, match="changed since it was confirmed"):
        services.case_approve(case=named_case, by=coordinator)

    assert Case.objects.get(pk=named_case.pk).status == S.SUBMITTED


def test_a_new_submission_after_confirmation_asks_for_another_even_unchanged(coordinator, reviewer, named_case):
    confirm_public_copy(named_case, by=coordinator)
    services.case_return_to_reviewer(case=named_case, by=coordinator, comments="Check item 1.")
    item = named_case.items.get()
    services.item_review_save(
        item=item,
        by=reviewer.user,
        version=item.version,
        decision="upheld",
        ca_cited_no_evidence=True,
        ca_citations=[],
        review_citations=[services.CitationInput(item.citations.get().guideline, sections="Physical Medicine")],
        review_cited_no_evidence=False,
        rationale=item.rationale,
        internal_note="",
    )
    services.case_submit(case=named_case, by=reviewer.user)

    with pytest.raises(Refused, match="submitted again since"):
        services.case_approve(case=named_case, by=coordinator)

    assert Case.objects.get(pk=named_case.pk).status == S.SUBMITTED


# Undo and add, as the letter task renders them.


def test_undoing_and_adding_removals_change_the_public_copy_the_letter_task_renders(
    client, coordinator, named_case, queued, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(coordinator)
    assert "Ms. Young" not in _public_text(named_case) and "Valley Imaging" in _public_text(named_case)

    client.post(_url(named_case, "public_copy_keep"), {"text": "Ms. Young"})
    client.post(_url(named_case, "public_copy_remove"), {"text": "Valley Imaging"})
    page = client.get(_url(named_case))
    client.post(_url(named_case, "public_copy_confirm"), {"digest": page.context["public_copy"].digest})
    client.post(reverse("reviews:case_qa_approve", args=[named_case.case_number]), {"final": "on"})
    final = Letter.objects.get(case=named_case, kind=Letter.Kind.FINAL_DETERMINATION)
    letter_services.letter_render(letter_id=final.pk)

    public = " ".join(Letter.objects.get(case=named_case, kind=Letter.Kind.PUBLIC_COPY).text.split())
    assert "Ms. Young is a young warehouse worker" in public
    assert "requested arthroscopy; read the MRI." in public and "Valley Imaging" not in public
    assert "Dr. Shoulder" not in public and "with right shoulder pain" in public
    assert "Right shoulder arthroscopy with rotator cuff repair, right: Upheld" in public
    assert Redaction.objects.get(case=named_case).kept == ["Ms. Young"]
    assert Redaction.objects.get(case=named_case).added == ["Valley Imaging"]


def test_a_change_unconfirms_and_the_buttons_undo_each_other(client, coordinator, named_case):
    confirm_public_copy(named_case, by=coordinator)
    client.force_login(coordinator)

    client.post(_url(named_case, "public_copy_remove"), {"text": "Valley Imaging"})
    client.post(_url(named_case, "public_copy_keep"), {"text": "Valley Imaging"})  # "Undo" on an added removal
    client.post(_url(named_case, "public_copy_keep"), {"text": "Ms. Young"})
    client.post(_url(named_case, "public_copy_remove"), {"text": "Ms. Young"})  # "Remove" on a kept one

    choices = Redaction.objects.get(case=named_case)
    assert (choices.kept, choices.added, choices.confirmed_at) == ([], [], None)
    assert "Ms. Young" not in _public_text(named_case)
    # Every change is in the edit history: created and confirmed (by the service, called outside a request
    # here, so without an actor), then the four changes made on the page, by the coordinator.
    history = list(LogEntry.objects.get_for_object(choices).order_by("timestamp", "pk"))
    assert [entry.actor for entry in history] == [None, None] + [coordinator] * 4


def test_removing_nothing_is_refused_in_place(client, coordinator, named_case):
    client.force_login(coordinator)

    response = client.post(_url(named_case, "public_copy_remove"), {"text": "  "})

    assert response.status_code == 400
    assert "Type the text to remove." in response.content.decode()
    assert not Redaction.objects.filter(case=named_case).exists()


def test_the_public_copy_of_an_approved_case_no_longer_changes(client, coordinator, named_case, queued):
    confirm_public_copy(named_case, by=coordinator)
    services.case_approve(case=named_case, by=coordinator)
    client.force_login(coordinator)

    page = client.get(_url(named_case)).content.decode()
    response = client.post(_url(named_case, "public_copy_remove"), {"text": "Valley Imaging"}, follow=True)

    assert "Approved: the public copy no longer changes." in page
    assert "Confirm the public copy" not in page and 'name="text"' not in page
    assert "its public copy changes only in quality review" in response.content.decode()
    assert Redaction.objects.get(case=named_case).added == []
    with pytest.raises(Refused):
        services.public_copy_keep(case=named_case, by=coordinator, text="Ms. Young")


def test_the_services_refuse_a_reviewer(reviewer, named_case):
    for change in (services.public_copy_keep, services.public_copy_remove):
        with pytest.raises(PermissionDenied):
            change(case=named_case, by=reviewer.user, text="Ms. Young")
    with pytest.raises(PermissionDenied):
        services.public_copy_confirm(case=named_case, by=reviewer.user, digest="x")
    assert not Redaction.objects.filter(case=named_case).exists()


# Access.

PAGES = [
    ("get", "case_public_copy"),
    ("post", "public_copy_keep"),
    ("post", "public_copy_remove"),
    ("post", "public_copy_confirm"),
]


@pytest.mark.parametrize(("method", "name"), PAGES)
def test_anonymous_users_are_sent_to_log_in(client, named_case, method, name):
    response = getattr(client, method)(_url(named_case, name), {"text": "Ms. Young"} if method == "post" else {})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Redaction.objects.filter(case=named_case).exists()


@pytest.mark.parametrize(("method", "name"), PAGES)
def test_reviewers_may_not_see_or_change_the_public_copy_not_even_of_their_own_case(
    client, reviewer, named_case, method, name
):
    client.force_login(reviewer.user)

    response = getattr(client, method)(_url(named_case, name), {"text": "Ms. Young"} if method == "post" else {})

    assert response.status_code == 403
    assert not Redaction.objects.filter(case=named_case).exists()


@pytest.mark.parametrize(("method", "name"), [("post", "case_public_copy"), *(("get", n) for _, n in PAGES[1:])])
def test_wrong_methods_are_refused(client, coordinator, named_case, method, name):
    client.force_login(coordinator)

    assert getattr(client, method)(_url(named_case, name)).status_code == 405
    assert not Redaction.objects.filter(case=named_case).exists()


# The QA page's "Letters" link.


def test_the_letters_link_opens_a_full_page_and_htmx_polls_the_panel_alone(client, coordinator, named_case, queued):
    confirm_public_copy(named_case, by=coordinator)
    services.case_approve(case=named_case, by=coordinator)
    client.force_login(coordinator)
    qa = client.get(reverse("reviews:case_qa", args=[named_case.case_number])).content.decode()
    letters_url = reverse("reviews:case_letters", args=[named_case.case_number])
    assert f'href="{letters_url}">Letters</a>' in qa

    page = client.get(letters_url).content.decode()
    panel = client.get(letters_url, headers={"HX-Request": "true"}).content.decode()

    assert page.startswith("<!doctype html>") and 'class="navbar' in page and 'id="letters"' in page
    assert panel.lstrip().startswith('<div id="letters"') and "<html" not in panel
