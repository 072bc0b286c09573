"""Celery tasks: thin wrappers that take ids, call one service, and retry only transient failures."""

from smtplib import SMTPException

from celery import shared_task
from django.db import OperationalError, transaction

from .models import Case
from .services import letters as letter_services
from .services import notifications, published_import

TRANSIENT = (SMTPException, ConnectionError, TimeoutError, OperationalError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, time_limit=60)
def notify_reviewer_assigned(case_id: int) -> None:
    case = Case.objects.select_related("reviewer__user").get(pk=case_id)
    notifications.reviewer_assigned_email_send(case=case)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, time_limit=60)
def send_deadline_digest(overdue_ids: list[int], due_soon_ids: list[int]) -> None:
    notifications.deadline_digest_send(overdue_ids=overdue_ids, due_soon_ids=due_soon_ids)


@shared_task(time_limit=120)
def deadline_sweep() -> None:
    """Every 15 minutes (beat): announce newly due-soon and overdue cases to the coordinators once."""
    with transaction.atomic():
        overdue, due_soon = notifications.deadline_sweep()
        if overdue or due_soon:
            send_deadline_digest.delay_on_commit(overdue, due_soon)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, time_limit=60)
def notify_coordinators_declined(case_id: int) -> None:
    case = Case.objects.get(pk=case_id)
    notifications.coordinators_declined_email_send(case=case)


@shared_task(bind=True, acks_late=True, max_retries=5, time_limit=300, soft_time_limit=280)
def letter_render(self, letter_id: int) -> None:
    """Render one version of a letter. Transient failures retry with backoff; the last one marks it failed."""
    try:
        letter_services.letter_render(letter_id=letter_id)
    except TRANSIENT + (OSError,) as e:
        if self.request.retries >= self.max_retries:
            letter_services.letter_mark_failed(letter_id=letter_id, reason=f"{type(e).__name__}: {e}")
            raise
        raise self.retry(exc=e, countdown=2 ** (self.request.retries + 1)) from e
    except Exception as e:  # bad data or a bug: retrying would fail the same way
        letter_services.letter_mark_failed(letter_id=letter_id, reason=f"{type(e).__name__}: {e}")
        raise


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5, time_limit=120)
def letter_serve(letter_id: int) -> None:
    letter_services.letter_serve(letter_id=letter_id)


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3540)
def determinations_import(batch_id: int) -> None:
    """Import a coordinator's batch of published determinations; resumes where a killed run stopped."""
    published_import.determination_batch_run(batch_id=batch_id)
