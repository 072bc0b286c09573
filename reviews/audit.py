"""Which models keep a field-by-field history (who, when, old and new values) via django-auditlog."""

import logging

from auditlog.registry import auditlog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .models import (
    Affiliation,
    BoardCertification,
    Case,
    CaseDocument,
    Citation,
    Diagnosis,
    DisputedItem,
    Guideline,
    Holiday,
    Letter,
    License,
    Organization,
    Provider,
    Redaction,
    Reviewer,
    Specialty,
    TreatmentCategory,
)

for model in (
    Affiliation,
    BoardCertification,
    Case,
    CaseDocument,
    Citation,
    Diagnosis,
    Guideline,
    Holiday,
    License,
    Organization,
    Provider,
    Redaction,
    Reviewer,
    Specialty,
    TreatmentCategory,
):
    auditlog.register(model)
# The search vector and the publication date are copied by database triggers from the texts and
# from the case: the history of those is the record.
auditlog.register(DisputedItem, exclude_fields=["search_vector", "published_on"])
# The letter's rendered bodies are large and never edited after ready; their hash is the record.
auditlog.register(Letter, exclude_fields=["html", "text"])
# Accounts: who may do what changes with groups and permissions; a password change shows as a change,
# never its hash.
auditlog.register(
    get_user_model(),
    include_fields=["username", "email", "is_active", "is_staff", "is_superuser", "password"],
    mask_fields=["password"],
    m2m_fields={"groups", "user_permissions"},
)
auditlog.register(Group, m2m_fields={"permissions"})

security_log = logging.getLogger("imr.security")


def record_access(instance, *, by, **details) -> None:
    """Write a read of medical data (a case page, a document, a letter) to the audit log."""
    from auditlog.models import LogEntry

    LogEntry.objects.log_create(
        instance,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=by,
        actor_email=getattr(by, "email", None) or None,
        additional_data=details or None,
    )


def record_bulk_created(instances, *, by) -> None:
    """The history of rows written with bulk_create, which django-auditlog's signals never see."""
    from auditlog.diff import model_instance_diff
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.bulk_create(
        LogEntry(
            content_type=ContentType.objects.get_for_model(instance),  # cached per model
            object_pk=str(instance.pk),
            object_id=instance.pk,
            object_repr=str(instance)[:255],
            action=LogEntry.Action.CREATE,
            # Own columns only: auditlog would also read reverse relations, a query per row for a one-to-one.
            changes=model_instance_diff(None, instance, [f.name for f in instance._meta.concrete_fields]),
            actor=by,
            actor_email=getattr(by, "email", None) or None,
        )
        for instance in instances
    )


def record_account_event(user, *, event: str, request=None) -> None:
    """A sign-in, a sign-out or a refused sign-in, in the user's history with the address it came from."""
    from auditlog.models import LogEntry

    from .middleware import client_address

    address = client_address(request) if request is not None else None
    LogEntry.objects.log_create(
        user,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=user if event != "login failed" else None,
        remote_addr=address,
        additional_data={"event": event},
    )


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    record_account_event(user, event="login", request=request)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record_account_event(user, event="logout", request=request)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    username = credentials.get("username", "")
    user = get_user_model().objects.filter(username=username).first()
    if user is not None:
        record_account_event(user, event="login failed", request=request)
    else:  # no account to file it under: the security log keeps it
        security_log.warning("login failed for unknown username %r", username[:150])
