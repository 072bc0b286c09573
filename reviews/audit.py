"""Which models keep a field-by-field history (who, when, old and new values) via django-auditlog."""

import copy
import logging

from allauth.account.signals import password_changed, password_reset, password_set
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from auditlog.registry import auditlog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from . import bulk
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
    LetterDelivery,
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
# Who was served, where and when: a recorded mailing is a change like any other.
auditlog.register(LetterDelivery)
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


def record_list_access(model, keys, *, by, page: str) -> None:
    """Write a read of a list (a page of the case list, the dashboard, a queue, a search's results):
    one entry per request naming what was shown (case numbers for cases, else primary keys), not one
    per row. Nothing is written when nothing was shown."""
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    shown = list(dict.fromkeys(keys))  # once each, in the order shown
    if not shown:
        return
    # A list has no object of its own: filed under the model with an empty key and the page as its
    # representation. A case's access history finds it by the case number in `shown`.
    LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(model),
        object_pk="",
        object_repr=page,
        action=LogEntry.Action.ACCESS,
        actor=by,
        actor_email=getattr(by, "email", None) or None,
        additional_data={"page": page, "shown": shown},
    )


def case_reads(case):
    """The reads of a case's data, newest first, with their actors: its own pages (the case's entries),
    its records' pages and downloads (entries that name its number) and the lists that showed it."""
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.db.models import Q

    from .models import Case

    case_type = ContentType.objects.get_for_model(Case)
    number = case.case_number
    if connection.vendor == "postgresql":
        # jsonb containment, served by the GIN index of migration 0017.
        named = Q(additional_data__contains={"case_number": number}) | Q(
            content_type=case_type, additional_data__contains={"shown": [number]}
        )
    else:  # SQLite has no JSON containment; case numbers have one fixed shape, so text matching is exact
        named = Q(additional_data__case_number=number) | Q(
            content_type=case_type, additional_data__shown__icontains=number
        )
    return (
        LogEntry.objects.filter(action=LogEntry.Action.ACCESS)
        .filter(Q(content_type=case_type, object_id=case.pk) | named)
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-pk")
    )


def _request_address() -> str | None:
    """The address AuditAddressMiddleware set for this request: bulk-created entries skip the signal
    that copies it into each entry."""
    from auditlog.context import auditlog_value

    try:
        return auditlog_value.get().get("remote_addr")
    except LookupError:  # outside a request: a task, a command
        return None


def _entry(new, *, action, changes, by, address):
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    return LogEntry(
        content_type_id=ContentType.objects.get_for_model(new).pk,  # cached per model
        object_pk=str(new.pk),
        object_id=new.pk,
        object_repr=str(new)[:255],
        action=action,
        changes=changes,
        actor_id=getattr(by, "pk", None),
        actor_email=getattr(by, "email", None) or None,
        remote_addr=address,
    )


def record_bulk_created(instances, *, by) -> None:
    """The history of rows written with bulk_create, which django-auditlog's signals never see.

    The entries are those auditlog's diff from no instance writes (each tracked field from the value
    auditlog gives a missing instance, "None", to its own), with the fields and that value worked out
    once per model rather than once per row: for an import of thousands of rows, most of its time.
    """
    from auditlog.diff import get_field_value
    from auditlog.models import LogEntry
    from django.utils.encoding import smart_str

    address = _request_address()
    tracked = {}  # model -> [(field, auditlog's value of the field of no instance)]
    entries = []
    for new in instances:
        model = type(new)
        if model not in tracked:
            registered = auditlog.get_model_fields(model)
            if registered["mask_fields"]:
                raise TypeError(f"{model.__name__} masks fields: save() it one by one.")
            tracked[model] = [
                (field, get_field_value(None, field))
                # Own columns only: auditlog would also read reverse relations, a query per row for a one-to-one.
                for field in model._meta.concrete_fields
                if field.name not in registered["exclude_fields"]
                and (not registered["include_fields"] or field.name in registered["include_fields"])
            ]
        changes = {}
        for field, default in tracked[model]:
            value = get_field_value(new, field)
            if value != default:
                changes[field.name] = [default, smart_str(value)]
        if changes:
            entries.append(_entry(new, action=LogEntry.Action.CREATE, changes=changes, by=by, address=address))
    bulk.insert(entries)


def update_with_history(queryset, *, by, **changes) -> int:
    """`queryset.update(**changes)` that also writes each changed row's history (auditlog cannot see
    an update()); returns the number of rows updated, like update().

    The rows are read and locked first, then updated by primary key: a conditional update ("only
    if not yet done") keeps its meaning, as a concurrent one waits on the lock and then matches
    nothing. `changes` are plain values, not expressions: the history records the new value.
    """
    from auditlog.diff import model_instance_diff
    from auditlog.models import LogEntry

    model = queryset.model
    if not auditlog.contains(model):
        raise TypeError(f"{model.__name__} keeps no history: call update() itself.")
    # The excluded fields (a letter's rendered bodies) are neither recorded nor worth reading.
    unread = auditlog.get_model_fields(model)["exclude_fields"]
    with transaction.atomic():
        rows = list(queryset.select_for_update().defer(*unread))
        if not rows:
            return 0
        updated = model._default_manager.filter(pk__in=[row.pk for row in rows]).update(**changes)
        address = _request_address()
        entries = []
        for row in rows:
            new = copy.copy(row)
            for field, value in changes.items():
                setattr(new, field, value)
            if diff := model_instance_diff(row, new, fields_to_check=changes):
                entries.append(_entry(new, action=LogEntry.Action.UPDATE, changes=diff, by=by, address=address))
        bulk.insert(entries)
    return updated


# Account events that whoever typed a username or an address caused, not the account's user.
BY_ANYONE = ("login failed", "password reset requested")


def record_account_event(user, *, event: str, request=None, **details) -> None:
    """A sign-in, a sign-out, a refused sign-in, an MFA or a password change, in the user's history.

    With the address it came from, and the user as actor unless the event is a refused sign-in or a
    password reset asked for: anyone may type a username or an address.
    """
    from auditlog.models import LogEntry

    from .middleware import client_address

    address = client_address(request) if request is not None else None
    LogEntry.objects.log_create(
        user,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=None if event.startswith("login refused") or event in BY_ANYONE else user,
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
