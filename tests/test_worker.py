"""Tasks through a real Celery worker: what the broker carries is what the worker runs."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from imr.celery import app
from reviews import services


@pytest.fixture
def worker(transactional_db):
    app.control.purge()  # leave no task of an earlier run for this worker to pick up
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def _wait_for(predicate, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_worker_emails_the_reviewer_once_the_assignment_is_committed(worker, coordinator, reviewer, request):
    ready_case = request.getfixturevalue("ready_case")
    case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    assert _wait_for(lambda: len(mail.outbox) == 1), "the worker sent no e-mail"
    assert mail.outbox[0].to == [reviewer.user.email]
    assert case.case_number in mail.outbox[0].subject


def test_the_worker_renders_an_approved_letter_end_to_end(worker, settings, tmp_path):
    from django.core.management import call_command

    from reviews.models import Case, Letter

    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115  approves the example, queues its letter
    case = Case.objects.get(claim_number="DEMO-2007-0221")
    letter = case.letters.get(kind=Letter.Kind.FINAL_DETERMINATION)
    assert _wait_for(lambda: Letter.objects.get(pk=letter.pk).status == Letter.Status.READY, seconds=60)
    assert Case.objects.get(pk=case.pk).status == Case.Status.ISSUED
    assert (tmp_path / Letter.objects.get(pk=letter.pk).pdf.name).read_bytes().startswith(b"%PDF")
