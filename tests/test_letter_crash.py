"""A worker killed while it renders: after a new worker process starts, one ready letter or notice, one PDF each."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction

from imr.celery import app
from reviews.models import Case, DisputedItem, Letter
from reviews.services import letters as letter_services

ROOT = Path(__file__).resolve().parents[1]


def _wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def worker_process(transactional_db, tmp_path):
    """A real `celery worker` (prefork, one child) on Redis and on this test's PostgreSQL database."""
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): a worker process cannot share SQLite")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "IMR_VAR_DIR": str(tmp_path),
    }
    app.control.purge()
    hostname = f"crash-{os.getpid()}@localhost"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "imr", "worker", "--pool=prefork", "--concurrency=1",
         "-n", hostname, "-l", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        assert _wait_for(lambda: app.control.ping(destination=[hostname], timeout=0.5), 60), "worker did not start"
        yield hostname, tmp_path / "media"
    finally:
        # A warm shutdown waits for the task in hand (seed_demo queues other letters): under CI load
        # that can outlast any wait, so what has not stopped by then is killed, pool processes too.
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_killing_the_rendering_process_leaves_exactly_one_ready_letter_and_one_pdf(worker_process):
    hostname, media = worker_process
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115  queues the example's letter v1
    case = Case.objects.get(claim_number="DEMO-2007-0221")
    first = case.letters.get(kind=Letter.Kind.FINAL_DETERMINATION)
    assert _wait_for(lambda: Letter.objects.get(pk=first.pk).status == Letter.Status.READY, 120), "v1 not rendered"

    item = case.items.get()
    # Forty long items make the corrected version's rendering last long enough to be caught in the act.
    DisputedItem.objects.bulk_create(
        DisputedItem(
            case=case, position=n, request_text=f"Item {n}", category=item.category, ur_action="denied",
            decision="upheld", rationale=item.rationale * 6, ca_cited_no_evidence=True, review_cited_no_evidence=True,
        )
        for n in range(2, 42)
    )  # fmt: skip
    coordinator = get_user_model().objects.get(username="coordinator")
    letter = letter_services.letter_correct(case=case, by=coordinator, reason="forty more items")

    assert _wait_for(lambda: Letter.objects.get(pk=letter.pk).status == Letter.Status.RENDERING, 60)
    active = app.control.inspect(destination=[hostname], timeout=2).active()[hostname]
    (task,) = [t for t in active if t["name"] == "reviews.tasks.letter_render"]
    os.kill(task["worker_pid"], signal.SIGKILL)  # the pool process dies mid-render; the master starts another

    assert _wait_for(lambda: Letter.objects.get(pk=letter.pk).status == Letter.Status.READY, 120), "not re-rendered"
    version = letter.version
    ready = Letter.objects.filter(case=case, version=version, kind=Letter.Kind.FINAL_DETERMINATION, status="ready")
    assert ready.count() == 1
    pdfs = sorted(p.name for p in (media / "letters").glob(f"{case.case_number}-v{version}*.pdf"))
    assert pdfs == [f"{case.case_number}-v{version}-public.pdf", f"{case.case_number}-v{version}.pdf"]
    assert "Item 41" in Letter.objects.get(pk=letter.pk).text


def _notice_case(kind, coordinator, category):
    """A case whose notice `kind` is queued by its step (committed: the worker picks it up), with three
    hundred long disputed items so that the rendering lasts long enough to be caught in the act."""
    from reviews import services
    from tests.factories import CaseFactory

    case = CaseFactory()
    DisputedItem.objects.bulk_create(
        DisputedItem(case=case, position=n, request_text=f"Item {n}: " + "physical therapy, lumbar spine; " * 8,
                     category=category, ur_action="denied")
        for n in range(1, 301)
    )  # fmt: skip
    if kind == Letter.Kind.INELIGIBILITY:
        services.case_confirm_eligibility(case=case, by=coordinator, eligible=False, reason="Filed late.")
    else:
        case = services.case_confirm_eligibility(case=case, by=coordinator, eligible=True)
        if kind == Letter.Kind.ASSIGNMENT_NOTICE:
            services.case_request_records(case=case, by=coordinator)
        else:  # the model's transition, as the withdrawal and termination services will run it
            with transaction.atomic():
                case = Case.objects.select_for_update().get(pk=case.pk)
                getattr(case, "withdraw" if kind == Letter.Kind.WITHDRAWAL_NOTICE else "terminate")()
                case.save()
                services.notice_queue(case=case, kind=kind, by=coordinator)
    return case.letters.get(kind=kind)


@pytest.mark.parametrize(
    "kind",
    [
        Letter.Kind.ASSIGNMENT_NOTICE,
        Letter.Kind.INELIGIBILITY,
        Letter.Kind.WITHDRAWAL_NOTICE,
        Letter.Kind.TERMINATION_NOTICE,
    ],
)
def test_killing_the_process_rendering_a_notice_leaves_one_ready_notice_and_one_pdf(worker_process, coordinator, kind):
    from tests.factories import TreatmentCategoryFactory

    hostname, media = worker_process
    notice = _notice_case(kind, coordinator, TreatmentCategoryFactory())
    assert _wait_for(lambda: Letter.objects.get(pk=notice.pk).status == Letter.Status.RENDERING, 60)
    active = app.control.inspect(destination=[hostname], timeout=2).active()[hostname]
    (task,) = [t for t in active if t["name"] == "reviews.tasks.letter_render"]
    assert task["args"] == [notice.pk]
    os.kill(task["worker_pid"], signal.SIGKILL)  # mid-render; the message goes back to the queue

    assert _wait_for(lambda: Letter.objects.get(pk=notice.pk).status == Letter.Status.READY, 120), "not re-rendered"
    assert notice.case.letters.filter(kind=kind, status=Letter.Status.READY).count() == 1
    number = notice.case.case_number
    assert [p.name for p in (media / "notices").glob(f"{number}-*.pdf")] == [f"{number}-{kind}-v1.pdf"]
    assert "Item 300:" in Letter.objects.get(pk=notice.pk).text
