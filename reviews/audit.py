"""Which models keep a field-by-field history (who, when, old and new values) via django-auditlog."""

from auditlog.registry import auditlog

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
# The letter's rendered bodies are large and never edited after ready; their hash is the record.
auditlog.register(Letter, exclude_fields=["html", "text"])
# The search vector and the publication date are copied by database triggers from the texts and
# from the case: the history of those is the record.
auditlog.register(DisputedItem, exclude_fields=["search_vector", "published_on"])


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
            changes=model_instance_diff(None, instance),
            actor=by,
            actor_email=getattr(by, "email", None) or None,
        )
        for instance in instances
    )
