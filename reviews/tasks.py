"""Celery tasks: thin wrappers that take ids, call one service, and retry only transient failures.

Services queue them through the outbox (services/outbox.py), never directly: each task's id is its
outbox entry's, and the entry is stamped done here when the task finishes.
"""

import logging
from smtplib import SMTPException

from celery import shared_task, states
from celery.signals import task_postrun, worker_ready, worker_shutdown
from django.db import DatabaseError, OperationalError, transaction

from . import health
from .models import Case
from .services import letters as letter_services
from .services import notifications, outbox, published_import

logger = logging.getLogger(__name__)

TRANSIENT = (SMTPException, ConnectionError, TimeoutError, OperationalError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, time_limit=60)
def notify_reviewer_assigned(case_id: int) -> None:
    case = Case.objects.select_related("reviewer__user").get(pk=case_id)
    notifications.reviewer_assigned_email_send(case=case)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, time_limit=60)
def notify_reviewer_expedited(case_id: int) -> None:
    case = Case.objects.select_related("reviewer__user").get(pk=case_id)
    notifications.reviewer_expedited_email_send(case=case)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, time_limit=60)
def send_deadline_digest(overdue_ids: list[int], due_soon_ids: list[int]) -> None:
    notifications.deadline_digest_send(overdue_ids=overdue_ids, due_soon_ids=due_soon_ids)


@shared_task(time_limit=120)
def deadline_sweep() -> None:
    """Every 15 minutes (beat): announce newly due-soon and overdue cases to the coordinators once."""
    with transaction.atomic():
        overdue, due_soon = notifications.deadline_sweep()
        if overdue or due_soon:
            outbox.outbox_enqueue(task="reviews.tasks.send_deadline_digest", args=[overdue, due_soon])


@shared_task(time_limit=120)
def outbox_sweep() -> None:
    """Every minute (beat): send what did not go, and leave no letter stuck (services/outbox.py)."""
    outbox.outbox_sweep()


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, time_limit=60)
def notify_coordinators_declined(case_id: int) -> None:
    case = Case.objects.get(pk=case_id)
    notifications.coordinators_declined_email_send(case=case)


def _give_up(task_id: str, letter_id: int, reason: str) -> None:
    """Mark the letter failed; with the database unreachable, leave the reason for the sweep instead."""
    try:
        letter_services.letter_mark_failed(letter_id=letter_id, reason=reason)
    except DatabaseError:
        logger.warning("Letter %s gave up and the database is unreachable: noted for the sweep.", letter_id)
        outbox.outbox_note_give_up(entry_id=task_id, reason=reason)


@shared_task(bind=True, acks_late=True, max_retries=5, time_limit=300, soft_time_limit=280)
def letter_render(self, letter_id: int) -> None:
    """Render one version of a letter. Transient failures retry with backoff; the last one marks it failed."""
    try:
        letter_services.letter_render(letter_id=letter_id)
    except TRANSIENT + (OSError,) as e:
        if self.request.retries >= self.max_retries:
            _give_up(self.request.id, letter_id, f"{type(e).__name__}: {e}")
            raise
        raise self.retry(exc=e, countdown=2 ** (self.request.retries + 1)) from e
    except Exception as e:  # bad data or a bug: retrying would fail the same way
        _give_up(self.request.id, letter_id, f"{type(e).__name__}: {e}")
        raise


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, time_limit=120)
def letter_serve(letter_id: int) -> None:
    letter_services.letter_serve(letter_id=letter_id)


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def determinations_import(batch_id: int) -> None:
    """Import a coordinator's batch of published determinations; resumes where a killed run stopped.

    Each run imports for about three minutes and queues the next: a task longer than the broker's
    visibility timeout would be handed to a second worker while it still runs.
    """
    published_import.determination_batch_run(batch_id=batch_id, seconds=180)


@task_postrun.connect
def _outbox_entry_done(task_id=None, state=None, retval=None, **kwargs):
    """A task finished (not a retry): stamp its outbox entry done, so the sweep does not send it again."""
    if state not in (states.SUCCESS, states.FAILURE) or not task_id:
        return
    error = f"{type(retval).__name__}: {retval}" if state == states.FAILURE else ""
    try:
        outbox.outbox_mark_done(entry_id=task_id, error=error)
    except Exception:  # database down, or an id that is no entry's (beat): the sweep sends it again at worst
        logger.warning("Could not stamp outbox entry %s done.", task_id, exc_info=True)


@worker_ready.connect
def _heartbeat_start(**kwargs):
    health.heartbeat_start()  # /healthz reports a live worker


@worker_shutdown.connect
def _heartbeat_stop(**kwargs):
    health.heartbeat_stop()
