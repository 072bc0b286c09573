"""Rendering and serving the letter: once per version whatever happens, issued in one transaction."""

import hashlib
import subprocess

import pytest
from django.core.management import call_command

from reviews import tasks
from reviews.models import Case, CaseEvent, Letter, LetterDelivery
from reviews.services import letters as letter_services
from reviews.services.errors import Refused


@pytest.fixture
def queued_letter(db, media, queued, django_capture_on_commit_callbacks):
    """The demo's example case is approved and its letter queued, rendered after commit by the worker."""
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    letter = Letter.objects.get(case__claim_number="DEMO-2007-0221", kind=Letter.Kind.FINAL_DETERMINATION)
    assert (letter.version, letter.status) == (1, Letter.Status.QUEUED)
    assert queued == [("letter_render", (letter.pk,))]
    return letter


def _pdfs(media):
    return sorted(p.name for p in (media / "letters").glob("*.pdf"))


def test_rendering_makes_the_letter_and_its_public_copy_ready_and_issues_the_case(queued_letter, media, queued):
    assert letter_services.letter_render(letter_id=queued_letter.pk) is True
    final, public = Letter.objects.filter(case=queued_letter.case).order_by("kind")
    assert {final.status, public.status} == {Letter.Status.READY}
    assert Case.objects.get(pk=queued_letter.case_id).status == Case.Status.ISSUED
    number = queued_letter.case.case_number
    assert _pdfs(media) == [f"{number}-v1-public.pdf", f"{number}-v1.pdf"]
    assert final.sha256 == hashlib.sha256((media / final.pdf.name).read_bytes()).hexdigest()
    assert "per Dr. Linda Marsh are" in final.text and "per  are" in public.text


def test_rendering_twice_leaves_one_ready_letter_and_one_pdf_per_kind(queued_letter, media):
    letter_services.letter_render(letter_id=queued_letter.pk)
    first = Letter.objects.get(pk=queued_letter.pk)
    assert letter_services.letter_render(letter_id=queued_letter.pk) is False
    again = Letter.objects.get(pk=queued_letter.pk)
    assert (again.sha256, again.rendered_at) == (first.sha256, first.rendered_at)
    assert len(_pdfs(media)) == 2


def test_a_run_that_dies_before_its_commit_leaves_nothing_a_second_run_does_not_replace(
    queued_letter, media, monkeypatch
):
    record = CaseEvent.__dict__["record"]  # the classmethod itself, to put back

    def crash(*args, **kwargs):
        raise RuntimeError("worker died")

    # The last write of the issuing transaction: the case's event.
    monkeypatch.setattr(CaseEvent, "record", crash)
    with pytest.raises(RuntimeError):
        letter_services.letter_render(letter_id=queued_letter.pk)
    assert Letter.objects.get(pk=queued_letter.pk).status == Letter.Status.RENDERING
    monkeypatch.setattr(CaseEvent, "record", record)
    assert letter_services.letter_render(letter_id=queued_letter.pk) is True
    assert len(_pdfs(media)) == 2
    assert Letter.objects.filter(case=queued_letter.case, status=Letter.Status.READY).count() == 2


def test_the_pdf_text_has_the_headings_every_item_and_no_reviewer_name(queued_letter, media):
    letter_services.letter_render(letter_id=queued_letter.pk)
    letter = Letter.objects.get(pk=queued_letter.pk)
    text = subprocess.run(
        ["pdftotext", str(media / letter.pdf.name), "-"], capture_output=True, text=True, check=True
    ).stdout
    for heading in (
        "HOW THE IMR FINAL DETERMINATION WAS MADE",
        "DOCUMENTS REVIEWED",
        "CLINICAL CASE SUMMARY",
        "IMR ISSUES, DECISIONS AND RATIONALES",
        "APPEAL RIGHTS",
    ):
        assert heading in text
    for item in letter.case.items.all():
        assert f"{item.get_decision_display()}" in text
        assert item.request_text.split()[0] in text
    reviewer = letter.case.reviewer.user
    assert reviewer.last_name not in text and reviewer.first_name not in text


def test_a_failure_that_retrying_cannot_fix_marks_the_letter_failed_with_the_reason(queued_letter, monkeypatch):
    monkeypatch.setattr(letter_services.letters, "render_pdf", lambda html: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        tasks.letter_render(queued_letter.pk)  # the task body, as the worker runs it
    letter = Letter.objects.get(pk=queued_letter.pk)
    assert letter.status == Letter.Status.FAILED
    assert "ZeroDivisionError" in letter.failure_reason
    assert Case.objects.get(pk=letter.case_id).status == Case.Status.APPROVED


def test_a_failed_letter_can_be_queued_again_by_a_coordinator(queued_letter, coordinator, queued):
    letter_services.letter_mark_failed(letter_id=queued_letter.pk, reason="disk full")
    queued.clear()
    letter_services.letter_retry(letter=queued_letter, by=coordinator)
    assert Letter.objects.get(pk=queued_letter.pk).status == Letter.Status.QUEUED
    with pytest.raises(Refused, match="Only a failed letter"):
        letter_services.letter_retry(letter=queued_letter, by=coordinator)


def test_serving_emails_each_party_with_an_address_once_and_lists_the_rest_for_mail(queued_letter, mailoutbox):
    letter_services.letter_render(letter_id=queued_letter.pk)
    assert letter_services.letter_serve(letter_id=queued_letter.pk) == 2  # the attorney and the CA
    assert letter_services.letter_serve(letter_id=queued_letter.pk) == 0
    deliveries = {d.role: d for d in LetterDelivery.objects.filter(letter=queued_letter)}
    assert deliveries["Employee"].method == LetterDelivery.Method.MAIL
    assert deliveries["Employee"].served_at is None
    assert deliveries["Requesting physician"].method == LetterDelivery.Method.MAIL  # no e-mail on file
    emailed = [d for d in deliveries.values() if d.method == LetterDelivery.Method.EMAIL]
    assert all(d.served_at for d in emailed)
    assert len(mailoutbox) == len(emailed)
    assert mailoutbox[0].attachments[0][2] == "application/pdf"


def test_a_correction_is_a_new_version_and_the_ready_letter_does_not_change(queued_letter, coordinator, queued):
    letter_services.letter_render(letter_id=queued_letter.pk)
    before = Letter.objects.get(pk=queued_letter.pk)
    with pytest.raises(Refused, match="reason"):
        letter_services.letter_correct(case=queued_letter.case, by=coordinator, reason="")
    corrected = letter_services.letter_correct(case=queued_letter.case, by=coordinator, reason="typo in a date")
    assert (corrected.version, corrected.correction_reason) == (2, "typo in a date")
    after = Letter.objects.get(pk=queued_letter.pk)
    assert (after.status, after.sha256, after.text) == (before.status, before.sha256, before.text)


def test_a_second_correction_while_the_first_is_rendering_is_refused_and_queues_nothing(
    queued_letter, coordinator, queued
):
    letter_services.letter_render(letter_id=queued_letter.pk)
    case = queued_letter.case
    letter_services.letter_correct(case=case, by=coordinator, reason="typo in a date")
    versions = Letter.objects.filter(case=case).count()

    with pytest.raises(Refused, match="Version 2 is still being rendered"):
        letter_services.letter_correct(case=case, by=coordinator, reason="typo in a date")

    assert Letter.objects.filter(case=case).count() == versions
