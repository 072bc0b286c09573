"""Giving a case to an expert reviewer, and taking it back."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..assignment import problems_for
from ..models import Case, CaseExclusion, Citation, Reviewer
from .documents import documents_forget_openings
from .errors import Problem, Refused
from .outbox import outbox_enqueue
from .workflow import case_lock, case_require_status, case_transition


def _lock(case: Case, action: str, reviewer: Reviewer, by: AbstractBaseUser) -> Case:
    """Lock the reviewer (two cases, one free slot), then the case (two coordinators, one winner)."""
    list(Reviewer.objects.select_for_update().filter(pk=reviewer.pk).values_list("pk"))
    case = case_lock(case, action, by=by, related=("requesting_provider__specialty",))
    case_require_status(case, action)  # the loser of two assignments hears that, not the rules of assignment
    return case


def _require_eligible(case: Case, reviewer: Reviewer) -> None:
    if problems := problems_for(case, reviewer):
        raise Refused(
            Problem(f"{reviewer} cannot take {case}: {'; '.join(problems)}.", where="reviewer"), code="not_eligible"
        )


def _notify_reviewer(case: Case) -> None:
    outbox_enqueue(task="reviews.tasks.notify_reviewer_assigned", args=[case.pk], key=f"case:{case.pk}")


@transaction.atomic
def case_assign_reviewer(*, case: Case, reviewer: Reviewer, by: AbstractBaseUser) -> Case:
    """Give a ready case to an eligible reviewer and e-mail them after commit.

    Raises PermissionDenied for a non-coordinator, and Refused unless the case is ready_for_assignment
    (code "not_allowed": e.g. another coordinator assigned it a moment ago) or when the reviewer fails
    a rule of assignment (code "not_eligible", with every reason).
    """
    case = _lock(case, "assign", reviewer, by)
    _require_eligible(case, reviewer)
    case = case_transition(
        case, "assign", by=by, note=f"assigned to {reviewer}", reviewer=reviewer, date_assigned=timezone.localdate()
    )
    _notify_reviewer(case)
    return case


@transaction.atomic
def case_reassign_reviewer(*, case: Case, reviewer: Reviewer, by: AbstractBaseUser, reason: str) -> Case:
    """Take the case from its reviewer (who is excluded from it) and give it to another eligible one.

    The previous reviewer's draft determination is cleared: a review must be the work of the
    reviewer who signs it. Raises PermissionDenied for a non-coordinator, and Refused unless a
    reviewer holds the case (code "not_allowed"), without a reason (code "reason_missing") and when
    the reviewer fails a rule of assignment (code "not_eligible").
    """
    case = _lock(case, "reassign", reviewer, by)
    if not reason.strip():
        raise Refused(Problem("Give the reason for reassigning.", where="reason"), code="reason_missing")
    previous = case.reviewer
    # Excluded before the rules run: the case cannot go back to the reviewer it leaves.
    CaseExclusion.objects.get_or_create(
        case=case, reviewer=previous, defaults={"reason": f"reassigned: {reason}", "created_by": by}
    )
    _require_eligible(case, reviewer)
    case = case_transition(
        case,
        "reassign",
        by=by,
        note=f"reassigned from {previous} to {reviewer}: {reason}",
        reviewer=reviewer,
        date_assigned=timezone.localdate(),
        clinical_case_summary="",
    )
    case.items.update(decision="", rationale="", review_cited_no_evidence=False, internal_note="")
    documents_forget_openings(case=case)
    Citation.objects.filter(item__case=case, role=Citation.Role.REVIEW).delete()
    _notify_reviewer(case)
    return case
