"""Quality review of the public copy: undo or add a removal, confirm what will be published."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import letters, redaction
from ..models import Case, CaseEvent, Redaction
from ..permissions import require_coordinator
from .errors import Problem, Refused


@dataclass(frozen=True)
class PublicCopy:
    """The public copy's passages with their spans, and whether the coordinator confirmed them as they stand."""

    passages: list[redaction.Passage]
    digest: str
    redaction: Redaction | None
    problem: str  # empty when confirmed

    @property
    def confirmed(self) -> bool:
        return not self.problem

    def spans(self) -> list[redaction.Span]:
        return [s for p in self.passages for s in p.spans]


def public_copy_of(case: Case) -> PublicCopy:
    """The public copy as the letter task would render it now, and what stands between it and approval.

    `case` comes from letters.letter_queryset().
    """
    passages = redaction.redactor_for(case).passages(letters.public_passages(case, settings.IMR_LETTER_LAYOUT))
    digest = redaction.digest(passages)
    choices = redaction.choices_of(case)
    if choices is None or choices.confirmed_at is None:
        problem = "The public copy has not been confirmed."
    elif case.submitted_at and choices.confirmed_at < case.submitted_at:
        problem = "The reviewer submitted again since the public copy was confirmed: check it and confirm again."
    elif choices.confirmed_digest != digest:
        problem = "The public copy changed since it was confirmed: check it and confirm again."
    else:
        problem = ""
    return PublicCopy(passages=passages, digest=digest, redaction=choices, problem=problem)


def _lock_for_change(case: Case, by: AbstractBaseUser) -> tuple[Case, Redaction]:
    require_coordinator(by)
    case = Case.objects.select_for_update().get(pk=case.pk)  # serialises changes with approval
    if case.status != Case.Status.SUBMITTED:
        raise Refused(
            f"The case is {case.get_status_display().lower()}: its public copy changes only in quality review.",
            code="not_in_quality_review",
        )
    choices, _ = Redaction.objects.get_or_create(case=case)
    return case, choices


def _changed(choices: Redaction) -> None:
    # Any change asks for a new confirmation, even one that undoes the last: the coordinator confirms what they see.
    choices.confirmed_at, choices.confirmed_by, choices.confirmed_digest = None, None, ""
    choices.save()


@transaction.atomic
def public_copy_remove(*, case: Case, by: AbstractBaseUser, text: str) -> Redaction:
    """Remove `text` wherever it is written so (restoring it if it was a proposal undone); unconfirms.

    Raises PermissionDenied for a non-coordinator, and Refused for empty text (code "text_missing") and
    unless the case is submitted (code "not_in_quality_review").
    """
    text = " ".join(text.split())
    if not text:
        raise Refused(Problem("Type the text to remove.", where="text"), code="text_missing")
    case, choices = _lock_for_change(case, by)
    if text in choices.kept:
        choices.kept = [t for t in choices.kept if t != text]
    elif text not in choices.added:
        choices.added = [*choices.added, text]
    _changed(choices)
    return choices


@transaction.atomic
def public_copy_keep(*, case: Case, by: AbstractBaseUser, text: str) -> Redaction:
    """Keep `text` in the public copy: undo a proposed removal, or drop one the coordinator added; unconfirms.

    Raises PermissionDenied for a non-coordinator and Refused (code "not_in_quality_review") unless the
    case is submitted.
    """
    text = " ".join(text.split())
    case, choices = _lock_for_change(case, by)
    if text in choices.added:
        choices.added = [t for t in choices.added if t != text]
    elif text and text not in choices.kept:
        choices.kept = [*choices.kept, text]
    _changed(choices)
    return choices


@transaction.atomic
def public_copy_confirm(*, case: Case, by: AbstractBaseUser, digest: str) -> Redaction:
    """Confirm the public copy the coordinator was shown (`digest`): approval may go ahead with it.

    Raises PermissionDenied for a non-coordinator, and Refused unless the case is submitted (code
    "not_in_quality_review") and when the public copy changed since the page showing it was loaded
    (code "public_copy_changed").
    """
    case, choices = _lock_for_change(case, by)
    current = public_copy_of(letters.letter_queryset().get(pk=case.pk))
    if current.digest != digest:
        raise Refused(
            Problem("The public copy changed since you loaded the page.", hint="Check it again, then confirm."),
            code="public_copy_changed",
        )
    choices.confirmed_at, choices.confirmed_by, choices.confirmed_digest = timezone.now(), by, digest
    choices.save()
    removed = sum(s.removed for s in current.spans())
    CaseEvent.record(case, by=by, from_status=case.status, note=f"public copy confirmed: {removed} removals")
    return choices
