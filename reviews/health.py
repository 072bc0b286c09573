"""Health checks for /healthz beyond django-health-check's own: the broker, a live worker, the outbox."""

import contextlib
import dataclasses
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from imr.celery import app

HEARTBEAT_KEY = "imr:worker-heartbeat"


@dataclasses.dataclass
class Broker(HealthCheck):
    """Open a connection to the Celery broker (Redis, or the file-system transport)."""

    def run(self):
        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception as e:  # any failure to connect means tasks cannot be queued
            raise ServiceUnavailable(f"Broker unreachable: {type(e).__name__}") from e


# Every worker's main process writes the time into the cache (Redis in production) every
# IMR_WORKER_HEARTBEAT_SECONDS, from its start until it stops; /healthz reads the latest.
_stop_beating: threading.Event | None = None


def _beat() -> None:
    with contextlib.suppress(Exception):  # the cache (Redis) is down: /healthz says so through its own check
        cache.set(HEARTBEAT_KEY, time.time(), timeout=max(60, int(settings.IMR_WORKER_HEARTBEAT_SECONDS * 10)))


def heartbeat_start() -> None:
    """Start the heartbeat thread of this worker process (the `worker_ready` signal)."""
    global _stop_beating
    heartbeat_stop()
    stop = _stop_beating = threading.Event()

    def run():
        _beat()
        while not stop.wait(settings.IMR_WORKER_HEARTBEAT_SECONDS):
            _beat()

    threading.Thread(target=run, name="imr-heartbeat", daemon=True).start()


def heartbeat_stop() -> None:
    """Stop beating (the `worker_shutdown` signal). The last beat stays: other workers may be alive."""
    if _stop_beating is not None:
        _stop_beating.set()


@dataclasses.dataclass
class Worker(HealthCheck):
    """A Celery worker wrote its heartbeat recently (within three heartbeats)."""

    age: float | None = dataclasses.field(default=None, init=False)

    def __repr__(self):
        return "Worker" + ("" if self.age is None else f" (heartbeat {self.age:.0f} s ago)")

    def run(self):
        beat = cache.get(HEARTBEAT_KEY)
        if beat is None:
            raise ServiceUnavailable("No worker alive: no heartbeat (start `celery -A imr worker`).")
        self.age = max(time.time() - beat, 0)
        if self.age > 3 * settings.IMR_WORKER_HEARTBEAT_SECONDS:
            raise ServiceUnavailable(f"No worker alive: the last heartbeat is {self.age:.0f} s old.")


@dataclasses.dataclass
class Outbox(HealthCheck):
    """The oldest outbox entry not yet handed to the broker is younger than IMR_OUTBOX_ALERT_AFTER."""

    age: float | None = dataclasses.field(default=None, init=False)

    def __repr__(self):
        return "Outbox" + (" (nothing unsent)" if self.age is None else f" (oldest unsent {self.age:.0f} s)")

    def run(self):
        from .models import OutboxEntry

        oldest = (
            OutboxEntry.objects.filter(sent_at__isnull=True, done_at__isnull=True)
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if oldest is None:
            return
        self.age = (timezone.now() - oldest).total_seconds()
        if self.age > settings.IMR_OUTBOX_ALERT_AFTER:
            raise ServiceUnavailable(
                f"The oldest unsent outbox entry is {self.age:.0f} s old: is the broker up and beat running?"
            )
