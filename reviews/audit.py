"""Which models keep a field-by-field history (who, when, old and new values) via django-auditlog."""

import logging

from allauth.account.signals import password_changed, password_reset, password_set
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from auditlog.registry import auditlog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed
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
# Accounts: a password change shows as a change, never its hash. Group and permission changes are
# written by _account_m2m_changed below, not by auditlog's m2m_fields, which log a change made from the
# other side (group.user_set.add) under the wrong record and a clear() as the removal of every row.
auditlog.register(
    get_user_model(),
    include_fields=["username", "email", "is_active", "is_staff", "is_superuser", "password"],
    mask_fields=["password"],
)
auditlog.register(Group)
# Two-factor authenticators: an admin deleting one (for a user who lost their phone) is recorded; the
# secret and the recovery codes' seed never are.
auditlog.register(Authenticator, exclude_fields=["data"])

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


def record_account_event(user, *, event: str, request=None, **details) -> None:
    """A sign-in, a sign-out, a refused sign-in, an MFA or a password change, in the user's history.

    With the address it came from, and the user as actor unless the event is a refused sign-in.
    """
    from auditlog.models import LogEntry

    from .middleware import client_address

    address = client_address(request) if request is not None else None
    LogEntry.objects.log_create(
        user,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=None if event.startswith("login refused") or event == "login failed" else user,
        remote_addr=address,
        additional_data={"event": event, **details},
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


@receiver(password_changed)
@receiver(password_set)
@receiver(password_reset)
def _password_changed(sender, request, user, signal, **kwargs):
    event = {password_changed: "password changed", password_set: "password set", password_reset: "password reset"}
    record_account_event(user, event=event[signal], request=request)


_MFA_EVENTS = {
    mfa_signals.authenticator_added: "mfa added",
    mfa_signals.authenticator_removed: "mfa removed",
    mfa_signals.authenticator_reset: "mfa reset",  # new recovery codes
    mfa_signals.authenticator_used: "mfa used",
    mfa_signals.authentication_failed: "mfa code refused",
}


@receiver(mfa_signals.authenticator_added)
@receiver(mfa_signals.authenticator_removed)
@receiver(mfa_signals.authenticator_reset)
@receiver(mfa_signals.authenticator_used)
@receiver(mfa_signals.authentication_failed)
def _mfa_changed(sender, request, user, authenticator, signal, **kwargs):
    # "type" says which: totp, or recovery_codes (a recovery code used to sign in is worth an auditor's look).
    record_account_event(user, event=_MFA_EVENTS[signal], request=request, type=authenticator.type)


# Each relation that decides who may do what: its through model, the side the history is kept on, and
# the name of that side's field.
_ACCESS_RELATIONS = {
    get_user_model().groups.through: (get_user_model(), "groups"),
    get_user_model().user_permissions.through: (get_user_model(), "user_permissions"),
    Group.permissions.through: (Group, "permissions"),
}


@receiver(m2m_changed)
def _account_m2m_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """A group or permission given or taken, in the history of the user (or group) that gained or lost it.

    Changed from either side (user.groups.add or group.user_set.add), by add, remove, set or clear; the
    actor and address come from the request, through auditlog's middleware.
    """
    if sender not in _ACCESS_RELATIONS:
        return
    from auditlog.models import LogEntry

    owner_model, field = _ACCESS_RELATIONS[sender]
    if action == "pre_clear":  # after the clear nothing says what was there
        related = owner_model.objects.filter(**{field: instance}) if reverse else getattr(instance, field).all()
        instance._imr_cleared_pks = set(related.values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action == "post_clear":
        pk_set = getattr(instance, "_imr_cleared_pks", set())
    if not pk_set:
        return
    operation = "add" if action == "post_add" else "delete"
    if not reverse:  # instance is the owner; pk_set are the groups or permissions
        LogEntry.objects.log_m2m_changes(model.objects.filter(pk__in=pk_set), instance, operation, field)
    else:  # instance is the group or permission; pk_set are the owners
        for owner in owner_model.objects.filter(pk__in=pk_set):
            LogEntry.objects.log_m2m_changes([instance], owner, operation, field)
