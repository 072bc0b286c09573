"""The expert review: accept or decline, drafts with stale-save protection, submission and quality review."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ..letters import credential_problems, letter_queryset
from ..models import Case, CaseEvent, CaseExclusion, Citation, DisputedItem, Guideline
from ..permissions import require_coordinator
from .documents import documents_forget_openings
from .letters import letter_queue
from .outbox import outbox_enqueue
from .public_copy import PublicCopyUnconfirmed, public_copy_of

# Statuses in which the assigned reviewer writes the determination.
EDITABLE = [Case.Status.ACCEPTED, Case.Status.IN_REVIEW, Case.Status.RETURNED]
# After approval nothing about the determination changes, in any interface.
FINAL = [Case.Status.APPROVED, Case.Status.ISSUED]


class StaleDraft(Exception):
    """The panel changed since the page that sent this save was loaded (another tab or window)."""


class CredentialsLapsed(Exception):
    """Approval refused: the letter would state credentials the reviewer no longer holds; `problems` says which."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(" ".join(problems))


class SubmissionIncomplete(Exception):
    """Submission refused; `problems` lists every missing piece."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class CitationInput:
    guideline: Guideline
    sections: str = ""
    pages: str = ""


def _require_reviewer_of(case: Case, user: AbstractBaseUser) -> None:
    reviewer = getattr(user, "reviewer", None)
    if reviewer is None or case.reviewer_id != reviewer.pk:
        raise PermissionDenied("Only the case's reviewer may do this.")


def _lock(case: Case) -> Case:
    return Case.objects.select_for_update().get(pk=case.pk)


@transaction.atomic
def case_accept(*, case: Case, by: AbstractBaseUser, attested: bool) -> Case:
    """The assigned reviewer attests to no conflict with any party and accepts the case.

    Raises PermissionDenied unless `by` is the case's reviewer, ValueError without the
    attestation, and TransitionNotAllowed unless the case is assigned.
    """
    case = _lock(case)
    _require_reviewer_of(case, by)
    if not attested:
        raise ValueError("Attest that you have no material affiliation with any party before accepting.")
    from_status = case.status
    case.accept()
    case.save()
    CaseEvent.record(
        case,
        by=by,
        from_status=from_status,
        note="accepted; attested no material professional, familial or financial affiliation with any party",
    )
    return case


@transaction.atomic
def case_decline(*, case: Case, by: AbstractBaseUser, reason: str) -> Case:
    """The assigned reviewer declines (conflict, unavailable): the case goes back for assignment.

    The reviewer is excluded from the case from then on and the coordinators are told after
    commit. Raises PermissionDenied, ValueError without a reason, TransitionNotAllowed unless
    the case is assigned or accepted.
    """
    case = _lock(case)
    _require_reviewer_of(case, by)
    if not reason.strip():
        raise ValueError("Say why you decline the case.")
    if case.status not in (Case.Status.ASSIGNED, Case.Status.ACCEPTED):
        raise ValidationError("A case under review cannot be declined; ask the coordinator to reassign it.")
    reviewer, from_status = case.reviewer, case.status
    case.release()
    case.reviewer = None
    case.date_assigned = None
    case.save()
    documents_forget_openings(case=case)
    CaseExclusion.objects.get_or_create(
        case=case, reviewer=reviewer, defaults={"reason": f"declined: {reason}", "created_by": by}
    )
    CaseEvent.record(case, by=by, from_status=from_status, note=f"declined by {reviewer}: {reason}")
    outbox_enqueue(task="reviews.tasks.notify_coordinators_declined", args=[case.pk], key=f"case:{case.pk}")
    return case


def _start_editing(case: Case, by: AbstractBaseUser) -> Case:
    """Lock the case for a draft save; the first edit moves accepted or returned into review."""
    case = _lock(case)
    _require_reviewer_of(case, by)
    if case.status in FINAL:
        raise ValidationError("The determination is approved and can no longer change.")
    if case.status not in EDITABLE:
        raise ValidationError(f"The case is {case.get_status_display().lower()}: the review cannot be edited now.")
    if case.status != Case.Status.IN_REVIEW:
        from_status = case.status
        case.start_review()
        case.save(update_fields=["status", "updated_at"])
        CaseEvent.record(case, by=by, from_status=from_status, note="review started")
    return case


@transaction.atomic
def case_summary_save(*, case: Case, by: AbstractBaseUser, text: str, version: int) -> int:
    """Save the clinical case summary drafted from `version`; returns the new version.

    Raises StaleDraft when the summary was saved elsewhere since `version`, and
    PermissionDenied / ValidationError when the reviewer may not edit the case now.
    """
    case = _start_editing(case, by)
    if case.summary_version != version:
        raise StaleDraft(f"The summary was changed elsewhere at {case.updated_at:%H:%M:%S}.")
    case.clinical_case_summary = text
    case.summary_version = version + 1
    case.save(update_fields=["clinical_case_summary", "summary_version", "updated_at"])
    return case.summary_version


@transaction.atomic
def item_review_save(
    *,
    item: DisputedItem,
    by: AbstractBaseUser,
    version: int,
    decision: str,
    ca_cited_no_evidence: bool,
    ca_citations: list[CitationInput],
    review_citations: list[CitationInput],
    review_cited_no_evidence: bool,
    rationale: str,
    internal_note: str,
) -> int:
    """Save one item's panel (decision, both guidelines, rationale, note to quality review) drafted from `version`.

    The claims administrator's citations come from intake; the reviewer may correct them here.

    Returns the new version. Raises StaleDraft when the panel changed since `version`, and
    PermissionDenied / ValidationError when the reviewer may not edit the case now.
    """
    _start_editing(item.case, by)  # the case lock also serialises saves of its items
    item = DisputedItem.objects.get(pk=item.pk)
    if item.version != version:
        raise StaleDraft("This item was changed in another tab or window since you opened it.")
    item.decision = decision
    item.ca_cited_no_evidence = ca_cited_no_evidence
    item.review_cited_no_evidence = review_cited_no_evidence
    item.internal_note = internal_note
    item.rationale = rationale
    item.coordinator_change = ""  # the reviewer has looked at the item as the coordinator changed it
    item.version = version + 1
    item.full_clean(exclude=["case", "category", "subcategory"])
    item.save()
    wanted = [
        (role, n, c.guideline.pk, c.sections, c.pages)
        for role, citations in (
            (Citation.Role.CLAIMS_ADMINISTRATOR, ca_citations),
            (Citation.Role.REVIEW, review_citations),
        )
        for n, c in enumerate(citations, start=1)
    ]
    current = list(item.citations.values_list("role", "position", "guideline_id", "sections", "pages"))
    if sorted(current) != sorted(wanted):  # rewrite only on change: each rewrite is an audited edit
        item.citations.all().delete()
        for role, n, g, sections, pages in wanted:  # one by one: each is an audited record
            Citation.objects.create(item=item, role=role, position=n, guideline_id=g, sections=sections, pages=pages)
    return item.version


def submission_problems(case: Case) -> list[str]:
    """Every piece DESIGN.md section 4 requires before submission that is missing (3 queries)."""
    problems = []
    if not case.clinical_case_summary.strip():
        problems.append("The clinical case summary is empty.")
    items = list(case.items.prefetch_related("citations"))
    for item in items:
        label = f"Item {item.position} ({item.request_text[:50]})"
        roles = {c.role for c in item.citations.all()}
        if item.coordinator_change:
            problems.append(f"{label} was changed by the coordinator: look at it again and save its panel.")
        if not item.decision:
            problems.append(f"{label} has no decision.")
        if not item.rationale.strip():
            problems.append(f"{label} has no decision rationale.")
        if Citation.Role.CLAIMS_ADMINISTRATOR not in roles and not item.ca_cited_no_evidence:
            problems.append(f"{label}: record the claims administrator's guideline, or that it cited none.")
        if Citation.Role.REVIEW not in roles and not item.review_cited_no_evidence:
            problems.append(f"{label}: cite a guideline, or state that the review cites no medical evidence.")
    for document in case.documents.filter(first_opened_at__isnull=True):
        problems.append(f"You have not opened {document}.")
    return problems


@transaction.atomic
def case_submit(*, case: Case, by: AbstractBaseUser) -> Case:
    """Submit the determination for quality review; the case becomes read-only for the reviewer.

    Raises SubmissionIncomplete with every missing piece, PermissionDenied unless `by` is the
    case's reviewer, and TransitionNotAllowed unless the case is in review.
    """
    case = _lock(case)
    _require_reviewer_of(case, by)
    if problems := submission_problems(case):
        raise SubmissionIncomplete(problems)
    from_status = case.status
    case.submit()
    case.save()
    CaseEvent.record(case, by=by, from_status=from_status, note="submitted for quality review")
    return case


@transaction.atomic
def case_return_to_reviewer(*, case: Case, by: AbstractBaseUser, comments: str) -> Case:
    """Quality review sends the case back with comments, shown at the top of the workspace.

    Raises PermissionDenied for a non-coordinator, ValueError without comments, and
    TransitionNotAllowed unless the case is submitted.
    """
    require_coordinator(by)
    if not comments.strip():
        raise ValueError("Write the comments the reviewer should address.")
    case = _lock(case)
    from_status = case.status
    case.return_to_reviewer()
    case.qa_comments = comments
    case.save()
    CaseEvent.record(case, by=by, from_status=from_status, note=f"returned to the reviewer: {comments}")
    return case


@transaction.atomic
def case_approve(*, case: Case, by: AbstractBaseUser) -> Case:
    """Quality review approves the determination: it is final from now on and its letter is queued after commit.

    Raises PermissionDenied for a non-coordinator, SubmissionIncomplete if the determination
    is somehow incomplete, PublicCopyUnconfirmed unless the public copy as it now stands was
    confirmed since the last submission, CredentialsLapsed when the reviewer no longer holds an
    active licence or a current certification (the letter states both), and TransitionNotAllowed
    unless the case is submitted.
    """
    require_coordinator(by)
    case = _lock(case)
    if problems := submission_problems(case):
        raise SubmissionIncomplete(problems)
    if problem := public_copy_of(letter_queryset().get(pk=case.pk)).problem:
        raise PublicCopyUnconfirmed(problem)
    from_status = case.status
    case.approve()
    case.decision_date = timezone.localdate()
    if problems := credential_problems(case):
        raise CredentialsLapsed(problems)
    case.qa_comments = ""
    case.save()
    CaseEvent.record(case, by=by, from_status=from_status, note="approved")
    letter_queue(case=case, by=by)
    return case
