"""The outbox: work that follows a commit is written with it, relayed after it, and swept until it is done."""

import datetime as dt
import time

import pytest
from django.db import OperationalError
from django.utils import timezone

from imr.celery import app
from reviews import services, tasks
from reviews.models import Case, CaseEvent, Letter, LetterDelivery, OutboxEntry
from reviews.services import letters as letter_services
from reviews.services import outbox
from reviews.services.errors import Refused
from tests.factories import CaseFactory, LetterFactory, confirm_public_copy

LONG_AGO = dt.timedelta(days=1)


@pytest.fixture
def confirmed(submitted_case, coordinator):
    """submitted_case with its public copy confirmed, as approval requires."""
    confirm_public_copy(submitted_case, by=coordinator)
    return submitted_case


@pytest.fixture
def submitted(confirmed):
    """The confirmed case, its assignment e-mail already sent: the outbox holds nothing left to do."""
    OutboxEntry.objects.update(sent_at=timezone.now(), done_at=timezone.now())
    return confirmed


@pytest.fixture
def approved(submitted, coordinator, queued, django_capture_on_commit_callbacks, media):
    """The submitted case approved by alice: its letter queued and relayed (recorded by `queued`)."""
    submitted_case = submitted
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_approve(case=submitted_case, by=coordinator)
    queued.clear()
    return case


@pytest.fixture
def broker_down():
    """Nothing listens where the broker should be."""
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    yield
    app.conf.broker_url = original


def _final(case) -> Letter:
    return case.letters.get(kind=Letter.Kind.FINAL_DETERMINATION)


def _age(entry_or_letter, field, by=LONG_AGO):
    type(entry_or_letter).objects.filter(pk=entry_or_letter.pk).update(**{field: timezone.now() - by})


def test_approval_writes_the_rendering_into_the_outbox_and_relays_it_after_commit(
    confirmed, coordinator, queued, django_capture_on_commit_callbacks, media
):
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_approve(case=confirmed, by=coordinator)
    letter = _final(case)
    (entry,) = OutboxEntry.objects.filter(task=outbox.RENDER)
    assert (entry.args, entry.key, entry.sends, entry.done_at) == ([letter.pk], f"letter:{letter.pk}", 1, None)
    assert entry.sent_at is not None
    assert queued == [("letter_render", (letter.pk,))]


def test_approval_refused_for_lapsed_credentials_writes_nothing_to_the_outbox(
    confirmed, coordinator, reviewer, queued, django_capture_on_commit_callbacks
):
    submitted_case = confirmed
    reviewer.licenses.update(expires_on=timezone.localdate() - dt.timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Refused) as refused:
        services.case_approve(case=submitted_case, by=coordinator)
    assert "no active, unexpired licence" in str(refused.value)
    assert Case.objects.get(pk=submitted_case.pk).status == Case.Status.SUBMITTED
    assert not Letter.objects.exists() and not OutboxEntry.objects.filter(task=outbox.RENDER).exists()
    assert queued == []


def test_approval_with_the_broker_down_answers_at_once_and_the_sweep_sends_the_letter_when_it_is_back(
    submitted, coordinator, queued, django_capture_on_commit_callbacks, media, broker_down
):
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_approve(case=submitted, by=coordinator)
    assert time.monotonic() - started < 3  # it waited 19 s in the result backend's reconnection loop
    entry = OutboxEntry.objects.get(task=outbox.RENDER)
    assert entry.sent_at is None and "Connection refused" in entry.last_error
    assert queued == []
    assert outbox.outbox_sweep().relayed == 0  # still down: still waiting

    app.conf.broker_url = "memory://"  # the broker is back
    assert outbox.outbox_sweep().relayed == 1
    assert queued == [("letter_render", (_final(case).pk,))]
    assert OutboxEntry.objects.get(pk=entry.pk).sent_at is not None


def test_the_worker_stamps_an_entry_done_when_its_task_finishes_and_not_when_it_retries(approved):
    entry = OutboxEntry.objects.get(task=outbox.RENDER)
    tasks._outbox_entry_done(task_id=str(entry.pk), state="RETRY")
    assert OutboxEntry.objects.get(pk=entry.pk).done_at is None
    tasks._outbox_entry_done(task_id=str(entry.pk), state="SUCCESS")
    assert OutboxEntry.objects.get(pk=entry.pk).done_at is not None
    tasks._outbox_entry_done(task_id="not-an-entry", state="SUCCESS")  # a beat task: nothing to stamp, no error


def test_an_entry_sent_and_never_finished_is_sent_again_after_the_deadline_and_given_up_after_the_last_send(
    approved, queued, settings
):
    entry = OutboxEntry.objects.get(task=outbox.RENDER)
    letter = _final(approved)
    outbox.outbox_sweep()
    assert queued == []  # sent a moment ago: the broker may still deliver it

    _age(entry, "sent_at")
    assert outbox.outbox_sweep().resent == 1
    assert queued == [("letter_render", (letter.pk,))]
    assert OutboxEntry.objects.get(pk=entry.pk).sends == 2

    OutboxEntry.objects.filter(pk=entry.pk).update(sends=settings.IMR_OUTBOX_MAX_SENDS)
    _age(entry, "sent_at")
    result = outbox.outbox_sweep()
    assert (result.given_up, result.failed_letters) == (1, [letter.pk])
    letter.refresh_from_db()
    assert letter.status == Letter.Status.FAILED
    assert "did not finish after 5 attempts" in letter.failure_reason


def test_a_letter_queued_before_the_outbox_existed_is_queued_again_by_the_sweep_and_a_recent_one_is_left(queued, db):
    stuck, recent = LetterFactory(), LetterFactory()
    _age(stuck, "status_changed_at")
    assert outbox.outbox_sweep().requeued_letters == [stuck.pk]
    assert queued == [("letter_render", (stuck.pk,))]
    assert outbox.outbox_sweep().requeued_letters == []  # its rendering is on the way now: not queued twice
    assert not OutboxEntry.objects.filter(key=f"letter:{recent.pk}").exists()


def test_a_letter_the_sweep_queued_again_too_often_is_marked_failed_with_the_reason(queued, db, settings):
    letter = LetterFactory()
    _age(letter, "status_changed_at")
    for _ in range(settings.IMR_OUTBOX_MAX_SENDS):
        outbox.outbox_sweep()
        OutboxEntry.objects.filter(key=f"letter:{letter.pk}").update(done_at=timezone.now())  # ran, left no trace
    result = outbox.outbox_sweep()
    assert result.failed_letters == [letter.pk]
    letter.refresh_from_db()
    assert (letter.status, letter.failure_reason) == ("failed", "Rendering did not finish after 5 attempts.")


def test_a_rendering_that_gives_up_with_the_database_down_becomes_a_failed_letter_that_retry_completes(
    approved, coordinator, monkeypatch, mailoutbox, run_relayed, django_capture_on_commit_callbacks
):
    letter = _final(approved)
    entry = OutboxEntry.objects.get(task=outbox.RENDER)

    def database_down(**kwargs):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

    with monkeypatch.context() as outage:
        outage.setattr(letter_services, "letter_render", database_down)
        outage.setattr(letter_services, "letter_mark_failed", database_down)
        outage.setattr(outbox, "outbox_mark_done", database_down)
        # The worker runs the task with its id; eagerly, the retries follow at once.
        result = tasks.letter_render.apply(args=[letter.pk], task_id=str(entry.pk))
    assert result.failed()
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.QUEUED  # nothing could be written

    assert outbox.outbox_sweep().failed_letters == [letter.pk]  # the database is back
    letter.refresh_from_db()
    assert letter.status == Letter.Status.FAILED
    assert letter.failure_reason.startswith("OperationalError: connection to server")
    assert OutboxEntry.objects.get(pk=entry.pk).done_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        services.letter_retry(letter=letter, by=coordinator)
    assert run_relayed == ["letter_render", "letter_serve"]
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.READY
    assert Case.objects.get(pk=approved.pk).status == Case.Status.ISSUED
    assert LetterDelivery.objects.filter(letter=letter).count() == len(letter_services.parties(approved))
    assert len(mailoutbox) == LetterDelivery.objects.filter(letter=letter, method="email").count()


def test_a_redelivered_rendering_that_finds_the_letter_ready_queues_its_service_once(approved):
    letter = _final(approved)
    assert letter_services.letter_render(letter_id=letter.pk) is True
    OutboxEntry.objects.filter(task=outbox.SERVE).delete()  # lost with the first run's worker
    assert letter_services.letter_render(letter_id=letter.pk) is False
    assert letter_services.letter_render(letter_id=letter.pk) is False
    (serve,) = OutboxEntry.objects.filter(task=outbox.SERVE)
    assert serve.args == [letter.pk]


def test_the_sweep_queues_the_service_of_a_ready_letter_that_has_none(approved, queued):
    letter = _final(approved)
    letter_services.letter_render(letter_id=letter.pk)
    OutboxEntry.objects.filter(task=outbox.SERVE).delete()
    assert outbox.outbox_sweep().serve_queued == [letter.pk]
    assert ("letter_serve", (letter.pk,)) in queued
    assert outbox.outbox_sweep().serve_queued == []


def test_retry_takes_a_letter_stuck_rendering_past_the_deadline_but_not_one_still_rendering(approved, coordinator):
    letter = _final(approved)
    Letter.objects.filter(case=approved).update(status=Letter.Status.RENDERING, status_changed_at=timezone.now())
    with pytest.raises(Refused, match="queued or rendering for too long"):
        services.letter_retry(letter=letter, by=coordinator)
    _age(letter, "status_changed_at")
    services.letter_retry(letter=letter, by=coordinator)
    assert Letter.objects.get(pk=letter.pk).status == Letter.Status.QUEUED
    assert OutboxEntry.objects.filter(task=outbox.RENDER, key=f"letter:{letter.pk}").count() == 2


def test_the_case_page_offers_retry_for_a_letter_stuck_past_the_deadline(client, approved, coordinator):
    letter = _final(approved)
    client.force_login(coordinator)
    assert b"Retry</button>" not in client.get(f"/cases/{approved.case_number}/letters/").content
    _age(letter, "status_changed_at")
    page = client.get(f"/cases/{approved.case_number}/letters/").content.decode()
    assert "Retry</button>" in page and "the sweep queues it again" in page


def test_the_dashboard_lists_a_letter_ready_and_not_served_past_the_deadline(client, approved, coordinator):
    letter = _final(approved)
    letter_services.letter_render(letter_id=letter.pk)
    client.force_login(coordinator)
    assert "Letters needing attention" not in client.get("/").content.decode()
    _age(Letter.objects.get(pk=letter.pk), "rendered_at")
    page = client.get("/").content.decode()
    assert "Letters needing attention" in page and "Ready, not served" in page and approved.case_number in page
    assert outbox.outbox_sweep().unserved == 1


def test_rendering_fails_with_the_reason_when_the_licence_lapsed_after_approval(approved, reviewer):
    letter = _final(approved)
    reviewer.licenses.update(status="expired")
    with pytest.raises(Refused):
        tasks.letter_render(letter.pk)  # the task body, as the worker runs it
    letter.refresh_from_db()
    assert letter.status == Letter.Status.FAILED
    assert "The reviewer holds no active, unexpired licence" in letter.failure_reason
    assert not letter.pdf


def test_approving_a_case_whose_reviewer_lost_the_certification_says_why_and_changes_nothing(
    client, confirmed, coordinator, reviewer
):
    submitted_case = confirmed
    reviewer.certifications.update(expires_on=timezone.localdate() - dt.timedelta(days=1))
    client.force_login(coordinator)
    response = client.post(f"/cases/{submitted_case.case_number}/qa/approve/", {"final": "on"}, follow=True)
    page = response.content.decode()
    assert "Approval refused: The reviewer holds no current board certification" in page
    assert Case.objects.get(pk=submitted_case.pk).status == Case.Status.SUBMITTED
    assert not CaseEvent.objects.filter(case=submitted_case, to_status=Case.Status.APPROVED).exists()
    assert not Letter.objects.exists()


def test_assigning_and_declining_write_their_emails_to_the_outbox(ready_case, reviewer, coordinator):
    case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    services.case_decline(case=case, by=reviewer.user, reason="I treated the employee in 2019.")
    assert list(OutboxEntry.objects.values_list("task", "args")) == [
        ("reviews.tasks.notify_reviewer_assigned", [case.pk]),
        ("reviews.tasks.notify_coordinators_declined", [case.pk]),
    ]


def test_no_service_sends_a_task_to_the_broker_itself():
    """One code path: every task that follows a commit goes through the outbox."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "reviews"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if any(call in path.read_text() for call in (".delay(", ".delay_on_commit(", ".apply_async("))
    ]
    assert offenders == []


def test_an_unrelated_case_has_no_outbox_entries(db):
    CaseFactory()
    assert not OutboxEntry.objects.exists()


def test_a_letter_not_served_past_the_deadline_can_be_served_again_from_the_case_page(
    client, approved, coordinator, queued, django_capture_on_commit_callbacks
):
    letter = _final(approved)
    letter_services.letter_render(letter_id=letter.pk)
    client.force_login(coordinator)
    url = f"/cases/{approved.case_number}/letters/v1/serve/"
    assert "Serve again</button>" not in client.get(f"/cases/{approved.case_number}/letters/").content.decode()
    _age(Letter.objects.get(pk=letter.pk), "rendered_at")
    assert "Serve again</button>" in client.get(f"/cases/{approved.case_number}/letters/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)

    assert response.status_code == 302
    assert OutboxEntry.objects.filter(task=outbox.SERVE).count() == 2
    assert ("letter_serve", (letter.pk,)) in queued
    assert CaseEvent.objects.filter(case=approved, note="letter v1 served again").exists()


def test_only_a_coordinator_may_serve_a_letter_again(client, approved, reviewer):
    client.force_login(reviewer.user)
    response = client.post(f"/cases/{approved.case_number}/letters/v1/serve/")
    assert response.status_code in (403, 404)
    assert OutboxEntry.objects.filter(task=outbox.SERVE).count() == 0


def test_a_letter_served_on_every_party_is_not_served_again(approved, coordinator):
    letter = _final(approved)
    letter_services.letter_render(letter_id=letter.pk)
    letter_services.letter_serve(letter_id=letter.pk)
    with pytest.raises(Refused, match="not yet served on every party"):
        services.letter_serve_again(letter=letter, by=coordinator)
    assert OutboxEntry.objects.filter(task=outbox.SERVE).count() == 1
