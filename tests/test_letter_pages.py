"""The letters panel: status while rendering, downloads, retry and correction, and who may see them."""

import pytest
from django.core.management import call_command

from reviews.models import Case, Letter
from reviews.services import letters as letter_services
from tests.factories import UserFactory


@pytest.fixture
def issued(db, settings, tmp_path, queued):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    case = Case.objects.get(claim_number="DEMO-2007-0221")
    return case, case.letters.get(kind=Letter.Kind.FINAL_DETERMINATION)  # queued by the demo


def _coordinator():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="coordinator")


def test_the_panel_polls_while_the_letter_renders_and_stops_when_it_is_ready(client, issued):
    case, letter = issued
    client.force_login(_coordinator())
    url = f"/cases/{case.case_number}/letters/"
    assert 'hx-trigger="every 2s"' in client.get(url).content.decode()
    letter_services.letter_render(letter_id=letter.pk)
    body = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' not in body
    assert f"/cases/{case.case_number}/letters/v1/final.pdf" in body
    assert f"/cases/{case.case_number}/letters/v1/public.txt" in body


def test_the_coordinator_and_the_cases_reviewer_download_the_pdf_text_and_public_copy(client, issued):
    case, letter = issued
    letter_services.letter_render(letter_id=letter.pk)
    for user in (_coordinator(), case.reviewer.user):
        client.force_login(user)
        pdf = client.get(f"/cases/{case.case_number}/letters/v1/final.pdf")
        assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
        assert b"".join(pdf.streaming_content).startswith(b"%PDF")
        text = client.get(f"/cases/{case.case_number}/letters/v1/public.txt").content.decode()
        assert "CLINICAL CASE SUMMARY" in text and "Linda Marsh" not in text


@pytest.mark.parametrize("who", ["other_reviewer", "anonymous"])
def test_outsiders_cannot_see_the_letters(client, issued, other_reviewer, who):
    case, letter = issued
    letter_services.letter_render(letter_id=letter.pk)
    if who == "other_reviewer":
        client.force_login(other_reviewer.user)
        expected = 404
    else:
        expected = 302
    assert client.get(f"/cases/{case.case_number}/letters/").status_code == expected
    assert client.get(f"/cases/{case.case_number}/letters/v1/final.pdf").status_code == expected


def test_a_letter_that_is_not_ready_or_does_not_exist_is_404(client, issued):
    case, _ = issued
    client.force_login(_coordinator())
    assert client.get(f"/cases/{case.case_number}/letters/v1/final.pdf").status_code == 404
    assert client.get(f"/cases/{case.case_number}/letters/v9/final.txt").status_code == 404
    assert client.get(f"/cases/{case.case_number}/letters/v1/secret.pdf").status_code == 404


def test_a_failed_letter_shows_its_reason_and_a_retry_button_to_coordinators(client, issued):
    case, letter = issued
    letter_services.letter_mark_failed(letter_id=letter.pk, reason="OSError: disk full")
    client.force_login(_coordinator())
    body = client.get(f"/cases/{case.case_number}/").content.decode()
    assert "OSError: disk full" in body and "Retry" in body
    client.post(f"/cases/{case.case_number}/letters/v1/retry/")
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.QUEUED


def test_a_correction_needs_a_reason_and_makes_version_two(client, issued):
    case, letter = issued
    letter_services.letter_render(letter_id=letter.pk)
    client.force_login(_coordinator())
    client.post(f"/cases/{case.case_number}/letters/correct/", {"reason": ""})
    assert not Letter.objects.filter(case=case, version=2).exists()
    client.post(f"/cases/{case.case_number}/letters/correct/", {"reason": "wrong UR date"})
    assert Letter.objects.get(case=case, version=2, kind="final").correction_reason == "wrong UR date"


def test_the_coordinator_is_offered_a_correction_once_the_letter_is_issued_and_not_while_a_version_renders(
    client, issued
):
    case, letter = issued
    client.force_login(_coordinator())
    url = f"/cases/{case.case_number}/letters/"
    assert "Issue a correction" not in client.get(url).content.decode()  # approved, its letter rendering
    letter_services.letter_render(letter_id=letter.pk)
    assert Case.objects.get(pk=case.pk).status == Case.Status.ISSUED
    assert "Issue a correction" in client.get(url).content.decode()
    client.post(f"/cases/{case.case_number}/letters/correct/", {"reason": "wrong UR date"})
    assert "Issue a correction" not in client.get(url).content.decode()  # version 2 rendering


def test_reviewers_cannot_retry_or_correct(client, issued):
    case, letter = issued
    client.force_login(case.reviewer.user)
    assert client.post(f"/cases/{case.case_number}/letters/correct/", {"reason": "x"}).status_code == 403
    assert client.post(f"/cases/{case.case_number}/letters/v1/retry/").status_code == 403


def test_downloads_only_answer_get(client, issued):
    case, letter = issued
    letter_services.letter_render(letter_id=letter.pk)
    client.force_login(_coordinator())
    assert client.post(f"/cases/{case.case_number}/letters/v1/final.pdf").status_code == 405


def test_a_user_without_a_role_sees_nothing(client, issued):
    case, _ = issued
    client.force_login(UserFactory(username="nobody"))
    assert client.get(f"/cases/{case.case_number}/letters/").status_code == 404


def test_the_reviewer_sees_the_letter_status_in_the_workspace(client, issued):
    case, letter = issued
    client.force_login(case.reviewer.user)
    body = client.get(f"/cases/{case.case_number}/review/").content.decode()
    assert 'id="letters"' in body and 'hx-trigger="every 2s"' in body  # queued: it polls
    letter_services.letter_render(letter_id=letter.pk)
    body = client.get(f"/cases/{case.case_number}/review/").content.decode()
    assert f"/cases/{case.case_number}/letters/v1/final.pdf" in body
    assert "Issue a correction" not in body  # coordinators only
