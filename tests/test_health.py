"""/healthz: what an operator's monitor polls."""

import asyncio
import datetime as dt
import re
import time

import pytest
from django.core.cache import cache
from django.utils import timezone

from reviews import health
from reviews.models import OutboxEntry


@pytest.fixture(autouse=True)
def no_event_loop_marked_running():
    """/healthz is an async view, run by the test client through async_to_sync, which refuses to run while
    an event loop is marked running in the thread: Playwright's is, after a browser test in this process."""
    loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    yield
    asyncio._set_running_loop(loop)


@pytest.fixture
def worker_alive(settings):
    cache.set(health.HEARTBEAT_KEY, time.time() - 4)
    yield
    cache.delete(health.HEARTBEAT_KEY)


@pytest.fixture
def no_worker():
    cache.delete(health.HEARTBEAT_KEY)


@pytest.mark.django_db
def test_healthz_reports_database_cache_storage_broker_worker_and_outbox(client, worker_alive):
    response = client.get("/healthz", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    checks = response.json()
    names = " ".join(checks)
    for part in ("Database", "Cache", "Storage", "Broker", "Worker (heartbeat 4 s ago)", "Outbox (nothing unsent)"):
        assert part in names
    assert all(value == "OK" for value in checks.values())


@pytest.mark.django_db
def test_healthz_fails_when_the_broker_cannot_be_reached(client, settings, worker_alive):
    from imr.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz", HTTP_ACCEPT="application/json")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 500
    assert "Broker unreachable" in str(response.json())


@pytest.mark.django_db
def test_healthz_fails_when_no_worker_wrote_its_heartbeat_lately(client, settings, no_worker):
    response = client.get("/healthz", HTTP_ACCEPT="application/json")
    assert response.status_code == 500
    assert "No worker alive: no heartbeat" in str(response.json())
    cache.set(health.HEARTBEAT_KEY, time.time() - 3 * settings.IMR_WORKER_HEARTBEAT_SECONDS - 5)
    assert "the last heartbeat is 95 s old" in str(client.get("/healthz", HTTP_ACCEPT="application/json").json())


@pytest.mark.django_db(transaction=True)  # the checks run in threads of their own: they see committed rows only
def test_healthz_reports_the_age_of_the_oldest_unsent_outbox_entry_and_fails_past_the_alert(
    client, settings, worker_alive
):
    entry = OutboxEntry.objects.create(task="reviews.tasks.letter_serve", args=[1])
    OutboxEntry.objects.create(task="reviews.tasks.letter_serve", args=[2], sent_at=timezone.now())  # sent: not counted
    OutboxEntry.objects.filter(pk=entry.pk).update(created_at=timezone.now() - dt.timedelta(seconds=42))
    response = client.get("/healthz", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert re.search(r"Outbox \(oldest unsent 4[23] s\)", " ".join(response.json())), list(response.json())

    settings.IMR_OUTBOX_ALERT_AFTER = 30
    response = client.get("/healthz", HTTP_ACCEPT="application/json")
    assert response.status_code == 500
    assert re.search(r"oldest unsent outbox entry is 4[23] s old", str(response.json()))


def test_a_worker_process_beats_from_its_start_until_it_stops(settings):
    settings.IMR_WORKER_HEARTBEAT_SECONDS = 0.05
    cache.delete(health.HEARTBEAT_KEY)
    health.heartbeat_start()
    try:
        time.sleep(0.2)
        first = cache.get(health.HEARTBEAT_KEY)
        time.sleep(0.2)
        assert first is not None and cache.get(health.HEARTBEAT_KEY) > first
    finally:
        health.heartbeat_stop()
    time.sleep(0.1)
    last = cache.get(health.HEARTBEAT_KEY)
    time.sleep(0.2)
    assert cache.get(health.HEARTBEAT_KEY) == last


@pytest.mark.django_db
def test_a_plain_get_of_healthz_answers_200_with_a_page(client, worker_alive):
    response = client.get("/healthz")  # what curl, a browser or a load balancer sends
    assert response.status_code == 200
    assert b"Broker" in response.content and b"Worker" in response.content
