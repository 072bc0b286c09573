"""Faults on PostgreSQL and Redis: the broker down at approval, a worker killed mid-render, Redis lost mid-render.

Each test runs a Redis of its own on a port of its own (AOF on, as in production) and real
`celery worker` processes on it and on the test's PostgreSQL database, and stops or kills them.
The shared Redis and PostgreSQL servers are never touched.
"""

import os
import time

import pytest
from django.conf import settings
from django.db import connection

from imr.celery import app
from reviews import chaos, services
from reviews.models import Case, DisputedItem, Letter, LetterDelivery, OutboxEntry
from reviews.services import letters as letter_services
from reviews.services import outbox
from tests.factories import confirm_public_copy

pytestmark = pytest.mark.postgres

VISIBILITY_TIMEOUT = 10  # seconds, for the workers of these tests (production: the render's limit + 60)


class Chaos:
    def __init__(self, tmp_path):
        offset = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
        self.redis = chaos.RedisServer(port=chaos.free_port(6390 + 20 * offset), folder=tmp_path / "redis")
        self.var_dir, self.mail_dir = tmp_path / "var", tmp_path / "mail"
        self.workers: list[chaos.Worker] = []

    def worker(self, name: str) -> chaos.Worker:
        environment = chaos.worker_environment(
            redis_url=self.redis.url(),
            var_dir=self.var_dir,
            mail_dir=self.mail_dir,
            IMR_BROKER_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        )
        worker = chaos.Worker(name=f"{name}-{os.getpid()}", environment=environment, log=self.var_dir / f"{name}.log")
        worker.start()
        self.workers.append(worker)
        return worker

    def sweep_until(self, predicate, seconds: float) -> bool:
        """Wait, running the outbox sweep every two seconds as beat would (its deadlines shortened)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate():
                return True
            outbox.outbox_sweep()
            chaos.wait_for(predicate, 2)
        return predicate()


@pytest.fixture
def faults(transactional_db, tmp_path, settings):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): worker processes cannot share SQLite")
    world = Chaos(tmp_path)
    world.var_dir.mkdir()
    settings.IMR_OUTBOX_RESEND_AFTER = 3 * VISIBILITY_TIMEOUT
    settings.IMR_LETTER_STUCK_AFTER = 3 * VISIBILITY_TIMEOUT
    original = chaos.use_broker(app, world.redis.url())  # this process relays to our Redis too
    try:
        yield world
    finally:
        chaos.use_broker(app, original)
        for worker in world.workers:
            worker.stop()
        world.redis.stop()


@pytest.fixture
def approvable(faults, submitted_case, coordinator):
    """submitted_case with e-mail addresses for the claims administrator and the physician."""
    case = submitted_case
    case.claims_administrator.email = "imr@claims.example.org"
    case.claims_administrator.save()
    case.requesting_provider.email = "office@physician.example.org"
    case.requesting_provider.save()
    confirm_public_copy(case, by=coordinator)
    return case


def _slow_to_render(case, coordinator):
    """Forty long items: rendering then lasts long enough to be caught in the act (public copy confirmed again)."""
    item = case.items.get()
    DisputedItem.objects.bulk_create(
        DisputedItem(
            case=case, position=n, request_text=f"Item {n}", category=item.category, ur_action="denied",
            decision="upheld", rationale=item.rationale * 40, ca_cited_no_evidence=True, review_cited_no_evidence=True,
        )
        for n in range(2, 42)
    )  # fmt: skip
    confirm_public_copy(case, by=coordinator)


def _final(case) -> Letter:
    return Letter.objects.get(case=case, kind=Letter.Kind.FINAL_DETERMINATION)


def _served(case) -> bool:
    letter = _final(case)
    deliveries = list(LetterDelivery.objects.filter(letter=letter))
    return (
        letter.status == Letter.Status.READY
        and len(deliveries) == len(letter_services.parties(case))
        and all(d.served_at for d in deliveries if d.method == LetterDelivery.Method.EMAIL)
    )


def _assert_issued_and_served_once(world, case):
    case.refresh_from_db()
    assert case.status == Case.Status.ISSUED
    assert Letter.objects.filter(case=case).count() == 2  # v1 and its public copy, nothing more
    pdfs = sorted(p.name for p in (world.var_dir / "media" / "letters").glob(f"{case.case_number}-*.pdf"))
    assert pdfs == [f"{case.case_number}-v1-public.pdf", f"{case.case_number}-v1.pdf"]
    letters = {
        (to, n)
        for (to, subject), n in chaos.sent_emails(world.mail_dir).items()
        if case.case_number in subject and "Final Determination" in subject
    }
    emailed = set(LetterDelivery.objects.filter(letter=_final(case), method="email").values_list("address", flat=True))
    assert letters == {(address, 1) for address in emailed} and len(emailed) == 2


def test_approval_with_the_broker_down_answers_at_once_and_the_letter_is_issued_and_served_once_when_it_is_back(
    faults, approvable, client, coordinator
):
    worker = faults.worker("waiting")  # started before its broker: it waits instead of exiting
    client.force_login(coordinator)

    started = time.monotonic()
    response = client.post(f"/cases/{approvable.case_number}/qa/approve/", {"final": "on"})
    took = time.monotonic() - started

    assert response.status_code == 302
    assert took < 3, f"the approval took {took:.1f} s with the broker down"
    letter = _final(approvable)
    assert letter.status == Letter.Status.QUEUED
    assert OutboxEntry.objects.get(task=outbox.RENDER).sent_at is None

    faults.redis.start()  # the broker is back; beat's next sweep sends what waited
    assert faults.sweep_until(lambda: _served(approvable), 120), "the letter was not issued and served"
    assert worker.alive()
    _assert_issued_and_served_once(faults, approvable)


def test_a_worker_killed_mid_render_is_recovered_by_another_within_the_visibility_timeout(
    faults, approvable, coordinator
):
    faults.redis.start()
    first = faults.worker("killed")
    assert chaos.wait_for(lambda: app.control.ping(destination=[first.hostname], timeout=0.5), 60)
    _slow_to_render(approvable, coordinator)
    services.case_approve(case=approvable, by=coordinator)
    letter = _final(approvable)
    assert chaos.wait_for(lambda: Letter.objects.get(pk=letter.pk).status == Letter.Status.RENDERING, 60)

    first.kill()  # main process and pool, at once: the message stays unacknowledged in Redis
    killed_at = time.monotonic()
    faults.worker("successor")
    # No sweep: the broker's own redelivery after the visibility timeout recovers it (restores run every
    # 10 s; then the rendering, of about 5 s, and the service).
    recovery = VISIBILITY_TIMEOUT + 10 + 30
    assert chaos.wait_for(lambda: _served(approvable), recovery), f"not recovered within {recovery} s"
    assert time.monotonic() - killed_at >= VISIBILITY_TIMEOUT  # by the redelivery, not by a surviving child
    _assert_issued_and_served_once(faults, approvable)


def test_redis_stopped_during_a_render_does_not_kill_the_worker_and_the_letter_is_issued_and_served_once(
    faults, approvable, coordinator
):
    faults.redis.start()
    worker = faults.worker("survivor")
    assert chaos.wait_for(lambda: app.control.ping(destination=[worker.hostname], timeout=0.5), 60)
    _slow_to_render(approvable, coordinator)
    services.case_approve(case=approvable, by=coordinator)
    letter = _final(approvable)
    assert chaos.wait_for(lambda: Letter.objects.get(pk=letter.pk).status == Letter.Status.RENDERING, 60)

    faults.redis.stop()
    time.sleep(8)  # the render goes on, or is cancelled; the worker tries to reconnect
    assert worker.alive(), "the worker exited when Redis went away"
    faults.redis.start()

    assert faults.sweep_until(lambda: _served(approvable), 180), "the letter was not issued and served"
    assert worker.alive()
    _assert_issued_and_served_once(faults, approvable)


def test_the_worker_settings_fit_real_failures():
    transport = settings.CELERY_BROKER_TRANSPORT_OPTIONS if settings.REDIS_URL else {}
    if settings.REDIS_URL:
        assert transport["visibility_timeout"] > letter_services_render_limit()
    assert settings.CELERY_BROKER_CONNECTION_MAX_RETRIES is None  # reconnect for ever, never exit
    assert settings.CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST


def letter_services_render_limit() -> int:
    from reviews.tasks import letter_render

    return letter_render.time_limit
