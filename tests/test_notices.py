"""The notices to the parties: queued with their step, worded as golden files, rendered and served like the letter."""

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from reviews import services
from reviews.models import Case, CaseEvent, Letter, LetterDelivery, OutboxEntry
from reviews.services import letters as letter_services
from reviews.services import outbox
from reviews.services.errors import Refused
from tests.factories import CaseFactory, DisputedItemFactory, OrganizationFactory, ProviderFactory

# The text of each notice for the case below; IMR_UPDATE_GOLDEN=1 writes them afresh (read the diff).
GOLDEN = Path(__file__).resolve().parent / "fixtures" / "notices"
SENT_ON = dt.date(2026, 10, 13)  # a Tuesday: records due 12 days after an electronic notice


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def fixed_case(db, settings):
    """A received case with every party named, two disputed items, and a claims administrator by e-mail only."""
    settings.IMR_ORGANIZATION_NAME = "IMR Desk Review Organization"
    Org = OrganizationFactory._meta.model
    case = CaseFactory(
        case_number="CM26-0004321",
        employee_name="Maria Delgado",
        claim_number="WC-2024-88172",
        adj_number="ADJ11223344",
        employer=OrganizationFactory(kind=Org.Kind.EMPLOYER, name="Harbor Freight Lines"),
        claims_administrator=OrganizationFactory(
            kind=Org.Kind.CLAIMS_ADMINISTRATOR, name="Golden State Claims Services", email="imr@gscs.example"
        ),
        employee_attorney=OrganizationFactory(
            kind=Org.Kind.LAW_FIRM, name="Reyes & Park LLP", address="500 Main Street\nFresno, CA 93721"
        ),
        requesting_provider=ProviderFactory(name="Dr. Alan Brooks", email="brooks@clinic.example"),
    )
    DisputedItemFactory(case=case, position=1, request_text="Physical therapy 2x6 weeks lumbar spine")
    DisputedItemFactory(case=case, position=2, request_text="MRI of the right shoulder without contrast")
    return case


def _noarfi(case, coordinator):
    case = services.case_confirm_eligibility(case=case, by=coordinator, eligible=True)
    return services.case_request_records(case=case, by=coordinator, sent_on=SENT_ON, electronic=True)


def _closed(case, coordinator, kind):
    """The case closed by the model transition itself (the withdrawal and termination services are built
    elsewhere) and its notice queued as those services will queue it."""
    transition, reason = {
        Letter.Kind.WITHDRAWAL_NOTICE: ("withdraw", "The employee's attorney withdrew the application in writing."),
        Letter.Kind.TERMINATION_NOTICE: ("terminate", "The claims administrator authorized both items on 10/20/2026."),
    }[kind]
    getattr(case, transition)()
    case.closed_reason = reason
    case.save()
    services.notice_queue(case=case, kind=kind, by=coordinator, on=dt.date(2026, 10, 21))
    return case


def _queue_notice(case, coordinator, kind):
    if kind == Letter.Kind.ASSIGNMENT_NOTICE:
        _noarfi(case, coordinator)
    elif kind == Letter.Kind.INELIGIBILITY:
        services.case_confirm_eligibility(
            case=case,
            by=coordinator,
            eligible=False,
            reason="The application was received 41 days after the utilization review decision was served,"
            " later than the 30 days allowed (California Code of Regulations, title 8, section 9792.10.1(b)).",
        )
    else:
        _closed(case, coordinator, kind)
    return case.letters.get(kind=kind)


NOTICE_KINDS = [
    Letter.Kind.ASSIGNMENT_NOTICE,
    Letter.Kind.INELIGIBILITY,
    Letter.Kind.WITHDRAWAL_NOTICE,
    Letter.Kind.TERMINATION_NOTICE,
]


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_each_notice_reads_as_its_golden_text(fixed_case, coordinator, media, kind, monkeypatch):
    # The ineligibility determination is dated the day it is decided: that day is 10/14/2026.
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 10, 14, 18, 0, tzinfo=dt.UTC))
    notice = _queue_notice(fixed_case, coordinator, kind)
    assert letter_services.letter_render(letter_id=notice.pk) is True
    text = Letter.objects.get(pk=notice.pk).text
    golden = GOLDEN / f"{kind}.txt"
    if os.environ.get("IMR_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_the_noarfi_names_the_records_due_and_their_deadline(fixed_case, coordinator, media):
    case = _noarfi(fixed_case, coordinator)
    notice = case.letters.get(kind=Letter.Kind.ASSIGNMENT_NOTICE)
    letter_services.letter_render(letter_id=notice.pk)
    text = " ".join(Letter.objects.get(pk=notice.pk).text.split())
    assert notice.dated == SENT_ON and case.records_due_date == dt.date(2026, 10, 26)  # 10/25 is a Sunday
    assert "so that they are received no later than 10/26/2026" in text
    assert "six months before the request for authorization" in text
    assert "Date: 10/13/2026" in text


def test_the_ineligibility_determination_gives_the_reasons_and_the_appeal_rights(fixed_case, coordinator, media):
    notice = _queue_notice(fixed_case, coordinator, Letter.Kind.INELIGIBILITY)
    letter_services.letter_render(letter_id=notice.pk)
    text = " ".join(Letter.objects.get(pk=notice.pk).text.split())
    assert "REASONS The application was received 41 days after" in text
    assert "APPEAL RIGHTS" in text and "no later than 30 days after the date of service" in text


def test_the_records_request_queues_the_noarfi_in_its_transaction_and_relays_it_after_commit(
    fixed_case, coordinator, queued, django_capture_on_commit_callbacks
):
    case = services.case_confirm_eligibility(case=fixed_case, by=coordinator, eligible=True)
    assert not case.letters.exists()  # eligibility alone sends nothing
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_request_records(case=case, by=coordinator, sent_on=SENT_ON)
        assert queued == []  # nothing leaves before the commit
    notice = case.letters.get()
    assert (notice.kind, notice.version, notice.status) == (Letter.Kind.ASSIGNMENT_NOTICE, 1, Letter.Status.QUEUED)
    assert OutboxEntry.objects.filter(task=outbox.RENDER, key=f"letter:{notice.pk}").exists()
    assert queued == [("letter_render", (notice.pk,))]


def test_a_refused_records_request_writes_no_notice(fixed_case, coordinator):
    with pytest.raises(Refused):
        services.case_request_records(case=fixed_case, by=coordinator)  # still received: not eligible yet
    assert not Letter.objects.exists() and not OutboxEntry.objects.exists()


def test_an_ineligible_case_gets_the_ineligibility_determination_and_an_eligible_one_does_not(fixed_case, coordinator):
    other = CaseFactory()
    services.case_confirm_eligibility(case=other, by=coordinator, eligible=True)
    assert not other.letters.exists()
    notice = _queue_notice(fixed_case, coordinator, Letter.Kind.INELIGIBILITY)
    assert Case.objects.get(pk=fixed_case.pk).status == Case.Status.INELIGIBLE
    assert (notice.version, notice.status) == (1, Letter.Status.QUEUED)


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_a_notice_is_refused_for_a_case_whose_status_it_does_not_report(fixed_case, coordinator, kind):
    with pytest.raises(ValueError):
        services.notice_queue(case=fixed_case, kind=kind, by=coordinator)  # received: no step to report yet
    assert not Letter.objects.exists()


def test_a_notice_renders_once_to_its_own_pdf_and_leaves_the_case_as_it_was(fixed_case, coordinator, media):
    case = _noarfi(fixed_case, coordinator)
    notice = case.letters.get()
    assert letter_services.letter_render(letter_id=notice.pk) is True
    first = Letter.objects.get(pk=notice.pk)
    assert letter_services.letter_render(letter_id=notice.pk) is False  # a redelivered run changes nothing
    again = Letter.objects.get(pk=notice.pk)
    assert (again.status, again.sha256, again.rendered_at) == (Letter.Status.READY, first.sha256, first.rendered_at)
    assert sorted(p.name for p in media.rglob("*.pdf")) == ["CM26-0004321-noarfi-v1.pdf"]
    assert Case.objects.get(pk=case.pk).status == Case.Status.AWAITING_RECORDS
    pdf_text = subprocess.run(
        ["pdftotext", str(media / again.pdf.name), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Notice of Assignment and Request for Information" in pdf_text and "Maria Delgado" in pdf_text


def test_the_html_escapes_what_a_coordinator_typed(fixed_case, coordinator, media):
    services.case_confirm_eligibility(
        case=fixed_case, by=coordinator, eligible=False, reason='<img src="file:///etc/passwd"> no UR letter'
    )
    notice = fixed_case.letters.get()
    letter_services.letter_render(letter_id=notice.pk)
    html = Letter.objects.get(pk=notice.pk).html
    assert "&lt;img src=&quot;file:///etc/passwd&quot;&gt; no UR letter" in html and "<img" not in html


def test_serving_a_notice_emails_the_parties_with_an_address_and_lists_the_others_for_mail(
    fixed_case, coordinator, media
):
    notice = _queue_notice(fixed_case, coordinator, Letter.Kind.WITHDRAWAL_NOTICE)
    letter_services.letter_render(letter_id=notice.pk)
    assert letter_services.letter_serve(letter_id=notice.pk) == 2
    assert letter_services.letter_serve(letter_id=notice.pk) == 0  # twice: nobody gets a second copy
    assert sorted(m.to[0] for m in mail.outbox) == ["brooks@clinic.example", "imr@gscs.example"]
    message = mail.outbox[0]
    assert message.subject == "Independent Medical Review Notice of Withdrawal, case CM26-0004321"
    assert message.attachments[0][0] == "CM26-0004321-withdrawal.pdf"
    deliveries = {d.role: d for d in notice.deliveries.all()}
    assert {role for role, d in deliveries.items() if d.method == LetterDelivery.Method.MAIL} == {
        "Employee",
        "Employee's attorney",
    }
    assert deliveries["Employee's attorney"].address == "500 Main Street\nFresno, CA 93721"
    assert all(d.served_at is None for d in deliveries.values() if d.method == LetterDelivery.Method.MAIL)


def test_a_notice_does_not_take_the_letters_version_number(fixed_case, coordinator):
    case = _noarfi(fixed_case, coordinator)
    letter = services.letter_queue(case=case, by=coordinator)
    assert letter.version == 1


def test_a_notice_sent_again_is_its_next_version(fixed_case, coordinator):
    first = _queue_notice(fixed_case, coordinator, Letter.Kind.TERMINATION_NOTICE)
    second = services.notice_queue(case=Case.objects.get(pk=fixed_case.pk), kind=first.kind, by=coordinator)
    assert (first.version, second.version) == (1, 2)


def test_retrying_a_failed_notice_queues_that_notice_alone(fixed_case, coordinator, queued):
    case = _noarfi(fixed_case, coordinator)
    letter = services.letter_queue(case=case, by=coordinator)  # a v1 letter beside the v1 notice
    notice = case.letters.get(kind=Letter.Kind.ASSIGNMENT_NOTICE)
    letter_services.letter_mark_failed(letter_id=notice.pk, reason="OSError: disk full")
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.QUEUED  # the letter's rendering is not touched
    assert services.letter_retry(letter=notice, by=coordinator) == notice
    assert Letter.objects.get(pk=notice.pk).status == Letter.Status.QUEUED
    entries = OutboxEntry.objects.filter(task=outbox.RENDER, key=f"letter:{notice.pk}")
    assert entries.count() == 2


def test_the_sweep_requeues_a_notice_left_queued(fixed_case, coordinator, queued, settings):
    case = _noarfi(fixed_case, coordinator)
    notice = case.letters.get()
    OutboxEntry.objects.update(
        sent_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), done_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    Letter.objects.filter(pk=notice.pk).update(status_changed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert outbox.outbox_sweep().requeued_letters == [notice.pk]


# Recording the mailing of a postal copy.


@pytest.fixture
def served_notice(fixed_case, coordinator, media):
    notice = _queue_notice(fixed_case, coordinator, Letter.Kind.TERMINATION_NOTICE)
    letter_services.letter_render(letter_id=notice.pk)
    letter_services.letter_serve(letter_id=notice.pk)
    return Letter.objects.get(pk=notice.pk)


def _postal(notice, role="Employee"):
    return notice.deliveries.get(role=role)


def test_recording_the_mailing_serves_the_party_and_writes_the_timeline(served_notice, coordinator):
    today = timezone.localdate()
    delivery = services.delivery_record_mailing(delivery=_postal(served_notice), mailed_on=today, by=coordinator)
    delivery.refresh_from_db()
    assert delivery.mailed_on == today and delivery.served_at is not None
    event = CaseEvent.objects.filter(case=served_notice.case).latest("pk")
    assert event.actor == coordinator
    assert event.note == f"termination notice v1 mailed to Maria Delgado (employee) on {today:%m/%d/%Y}"


@pytest.mark.parametrize(
    ("days", "message"),
    [(1, "cannot be in the future"), (-3, "cannot have been mailed before")],
)
def test_a_mailing_date_in_the_future_or_before_the_notice_was_ready_is_refused(
    served_notice, coordinator, days, message
):
    with pytest.raises(Refused) as refused:
        services.delivery_record_mailing(
            delivery=_postal(served_notice), mailed_on=timezone.localdate() + dt.timedelta(days=days), by=coordinator
        )
    assert message in str(refused.value) and refused.value.problems[0].where == "mailed_on"
    assert _postal(served_notice).served_at is None


def test_a_mailing_is_recorded_once(served_notice, coordinator):
    services.delivery_record_mailing(delivery=_postal(served_notice), mailed_on=timezone.localdate(), by=coordinator)
    with pytest.raises(Refused) as refused:
        services.delivery_record_mailing(
            delivery=_postal(served_notice), mailed_on=timezone.localdate(), by=coordinator
        )
    assert refused.value.code == "already_mailed"


def test_an_emailed_copy_cannot_be_recorded_as_mailed(served_notice, coordinator):
    emailed = _postal(served_notice, role="Claims administrator")
    with pytest.raises(Refused):
        services.delivery_record_mailing(delivery=emailed, mailed_on=timezone.localdate(), by=coordinator)
    assert LetterDelivery.objects.get(pk=emailed.pk).mailed_on is None


# The pages: the case's letters page lists the notices and takes the mailing date; the dashboard lists what to mail.


def _mailed_url(delivery):
    return f"/cases/{delivery.letter.case.case_number}/letters/deliveries/{delivery.pk}/mailed/"


def test_the_case_page_lists_the_notice_and_is_not_fully_served_until_every_copy_is_mailed(
    client, served_notice, coordinator
):
    client.force_login(coordinator)
    page = client.get(f"/cases/{served_notice.case.case_number}/").content.decode()
    assert "Notices to the parties" in page and "Termination notice" in page
    assert "Not fully served: 2 copies unsent" in page and "Served on 2 of 4 parties" in page
    for role in ("Employee", "Employee's attorney"):
        services.delivery_record_mailing(
            delivery=_postal(served_notice, role), mailed_on=timezone.localdate(), by=coordinator
        )
    page = client.get(f"/cases/{served_notice.case.case_number}/").content.decode()
    assert "Not fully served" not in page and "Served on every party" in page


def test_the_coordinator_records_a_mailing_on_the_letters_page(client, served_notice, coordinator):
    client.force_login(coordinator)
    delivery = _postal(served_notice)
    page = client.get(f"/cases/{served_notice.case.case_number}/letters/").content.decode()
    assert _mailed_url(delivery) in page and "Record mailing" in page
    response = client.post(_mailed_url(delivery), {"mailed_on": timezone.localdate().isoformat()}, follow=True)
    assert response.redirect_chain[-1][0] == f"/cases/{served_notice.case.case_number}/letters/"
    assert "mailing to Maria Delgado recorded" in response.content.decode()
    assert LetterDelivery.objects.get(pk=delivery.pk).mailed_on == timezone.localdate()


def test_a_future_mailing_date_is_refused_beside_the_copy_and_changes_nothing(client, served_notice, coordinator):
    client.force_login(coordinator)
    delivery = _postal(served_notice)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client.post(_mailed_url(delivery), {"mailed_on": tomorrow.isoformat()})
    assert response.status_code == 200
    assert "The mailing date cannot be in the future." in response.content.decode()
    assert LetterDelivery.objects.get(pk=delivery.pk).served_at is None
    assert not CaseEvent.objects.filter(note__contains="mailed to").exists()


def test_recording_a_mailing_is_for_coordinators_only(client, served_notice, reviewer):
    delivery = _postal(served_notice)
    today = {"mailed_on": timezone.localdate().isoformat()}
    assert client.post(_mailed_url(delivery), today).status_code == 302  # anonymous: to the login page
    client.force_login(reviewer.user)
    assert client.post(_mailed_url(delivery), today).status_code == 403
    assert LetterDelivery.objects.get(pk=delivery.pk).served_at is None


def test_a_delivery_of_another_case_is_not_found_and_get_is_not_allowed(client, served_notice, coordinator):
    client.force_login(coordinator)
    delivery = _postal(served_notice)
    other = CaseFactory()
    url = f"/cases/{other.case_number}/letters/deliveries/{delivery.pk}/mailed/"
    assert client.post(url, {"mailed_on": timezone.localdate().isoformat()}).status_code == 404
    assert client.get(_mailed_url(delivery)).status_code == 405


def test_the_dashboard_lists_the_copies_to_mail_until_their_mailing_is_recorded(client, served_notice, coordinator):
    client.force_login(coordinator)
    to_mail = client.get("/").context["dashboard"]["to_mail"]
    assert [(d.role, d.letter_id) for d in to_mail] == [
        ("Employee", served_notice.pk),
        ("Employee's attorney", served_notice.pk),
    ]
    services.delivery_record_mailing(delivery=_postal(served_notice), mailed_on=timezone.localdate(), by=coordinator)
    page = client.get("/").content.decode()
    assert "To mail" in page and "Reyes &amp; Park LLP" in page and ">Maria Delgado <" not in page


def test_a_ready_notice_downloads_as_pdf_and_text(client, served_notice, coordinator):
    client.force_login(coordinator)
    base = f"/cases/{served_notice.case.case_number}/letters/v1/termination"
    pdf = client.get(f"{base}.pdf")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert 'filename="CM26-0004321-v1-termination.pdf"' in pdf["Content-Disposition"]
    assert "NOTICE OF TERMINATION" in client.get(f"{base}.txt").content.decode()
    assert client.get(f"/cases/{served_notice.case.case_number}/letters/v1/nonsense.pdf").status_code == 404


def test_a_failed_notice_is_retried_from_the_case_page(client, fixed_case, coordinator, queued):
    case = _noarfi(fixed_case, coordinator)
    notice = case.letters.get()
    letter_services.letter_mark_failed(letter_id=notice.pk, reason="OSError: disk full")
    client.force_login(coordinator)
    page = client.get(f"/cases/{case.case_number}/").content.decode()
    retry = f"/cases/{case.case_number}/notices/noarfi/v1/retry/"
    assert "OSError: disk full" in page and retry in page
    client.post(retry)
    assert Letter.objects.get(pk=notice.pk).status == Letter.Status.QUEUED


def test_the_notices_retry_address_takes_no_letter(client, fixed_case, coordinator, queued):
    case = _noarfi(fixed_case, coordinator)
    letter = services.letter_queue(case=case, by=coordinator)
    letter_services.letter_mark_failed(letter_id=letter.pk, reason="OSError: disk full")
    client.force_login(coordinator)
    assert client.post(f"/cases/{case.case_number}/notices/final/v1/retry/").status_code == 404
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.FAILED
