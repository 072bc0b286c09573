"""Giving a case to an expert reviewer, and taking it back."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..assignment import problems_for
from ..audit import update_with_history
from ..models import Case, CaseEvent, CaseExclusion, Citation, Reviewer
from ..permissions import require_coordinator
from .documents import documents_forget_openings
from .outbox import outbox_enqueue


class ReviewerNotEligible(Exception):
    """The reviewer fails one or more rules of assignment; `problems` lists them."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _lock(case: Case, reviewer: Reviewer) -> Case:
    """Lock the case (two coordinators, one winner) and the reviewer (two cases, one free slot)."""
    list(Reviewer.objects.select_for_update().filter(pk=reviewer.pk).values_list("pk"))
    return Case.objects.select_for_update(of=("self",)).select_related("requesting_provider__specialty").get(pk=case.pk)


def _notify_reviewer(case: Case) -> None:
    outbox_enqueue(task="reviews.tasks.notify_reviewer_assigned", args=[case.pk], key=f"case:{case.pk}")


@transaction.atomic
def case_assign_reviewer(*, case: Case, reviewer: Reviewer, by: AbstractBaseUser) -> Case:
    """Give a ready case to an eligible reviewer and e-mail them after commit.

    Raises PermissionDenied for a non-coordinator, TransitionNotAllowed unless the case is
    ready_for_assignment (e.g. another coordinator assigned it a moment ago), and
    ReviewerNotEligible with the reasons when the reviewer fails a rule of assignment.
    """
    require_coordinator(by)
    case = _lock(case, reviewer)
    from_status = case.status
    case.assign()  # the fsm transition checks the source state
    if problems := problems_for(case, reviewer):
        raise ReviewerNotEligible(problems)
    case.reviewer = reviewer
    case.date_assigned = timezone.localdate()
    case.save()
    CaseEvent.record(case, by=by, from_status=from_status, note=f"assigned to {reviewer}")
    _notify_reviewer(case)
    return case


@transaction.atomic
def case_reassign_reviewer(*, case: Case, reviewer: Reviewer, by: AbstractBaseUser, reason: str) -> Case:
    """Take the case from its reviewer (who is excluded from it) and give it to another eligible one.

    The previous reviewer's draft determination is cleared: a review must be the work of the
    reviewer who signs it. Raises PermissionDenied, ValueError without a reason,
    TransitionNotAllowed unless a reviewer holds the case, and ReviewerNotEligible.
    """
    require_coordinator(by)
    if not reason.strip():
        raise ValueError("Give the reason for reassigning.")
    case = _lock(case, reviewer)
    previous = case.reviewer
    from_status = case.status
    case.reassign()
    CaseExclusion.objects.get_or_create(
        case=case, reviewer=previous, defaults={"reason": f"reassigned: {reason}", "created_by": by}
    )
    if problems := problems_for(case, reviewer):
        raise ReviewerNotEligible(problems)
    case.reviewer = reviewer
    case.date_assigned = timezone.localdate()
    case.clinical_case_summary = ""
    case.save()
    update_with_history(
        case.items.all(),
        by=by,
        decision="",
        rationale="",
        review_cited_no_evidence=False,
        internal_note="",
        coordinator_change="",  # the new reviewer starts from the items as they are
    )
    documents_forget_openings(case=case)
    Citation.objects.filter(item__case=case, role=Citation.Role.REVIEW).delete()
    CaseEvent.record(
        case,
        by=by,
        from_status=from_status,
        note=f"reassigned from {previous} to {reviewer}: {reason}",
    )
    _notify_reviewer(case)
    return case
