"""A worker killed while it renders: after a new worker process starts, one ready letter, one PDF per version."""

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
from django.db import connection

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
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert _wait_for(lambda: app.control.ping(destination=[hostname], timeout=0.5), 60), "worker did not start"
        yield hostname, tmp_path / "media"
    finally:
        process.terminate()
        process.wait(30)


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
