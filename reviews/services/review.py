"""The expert review: accept or decline, drafts with stale-save protection, submission and quality review."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..letters import credential_problems, letter_queryset
from ..models import Case, CaseExclusion, Citation, DisputedItem, Guideline
from .documents import documents_forget_openings
from .errors import Problem, Refused
from .letters import letter_queue
from .outbox import outbox_enqueue
from .public_copy import public_copy_of
from .workflow import case_lock, case_require_status, case_transition


@dataclass(frozen=True)
class CitationInput:
    guideline: Guideline
    sections: str = ""
    pages: str = ""


@transaction.atomic
def case_accept(*, case: Case, by: AbstractBaseUser, attested: bool) -> Case:
    """The assigned reviewer attests to no conflict with any party and accepts the case.

    Raises PermissionDenied unless `by` is the case's reviewer, and Refused unless the case is
    assigned (code "not_allowed") and without the attestation (code "attestation_missing").
    """
    case = case_lock(case, "accept", by=by)
    if not attested:
        raise Refused(
            Problem("Attest that you have no material affiliation with any party before accepting.", where="attest"),
            code="attestation_missing",
        )
    return case_transition(
        case,
        "accept",
        by=by,
        note="accepted; attested no material professional, familial or financial affiliation with any party",
    )


@transaction.atomic
def case_decline(*, case: Case, by: AbstractBaseUser, reason: str) -> Case:
    """The assigned reviewer declines (conflict, unavailable): the case goes back for assignment.

    The reviewer is excluded from the case from then on and the coordinators are told after
    commit. Raises PermissionDenied unless `by` is the case's reviewer, and Refused unless the case
    is assigned or accepted (code "not_allowed": under review, the coordinator reassigns it) and
    without a reason (code "reason_missing").
    """
    case = case_lock(case, "release", by=by)
    if not reason.strip():
        raise Refused(Problem("Say why you decline the case.", where="reason"), code="reason_missing")
    reviewer = case.reviewer
    case = case_transition(
        case, "release", by=by, note=f"declined by {reviewer}: {reason}", reviewer=None, date_assigned=None
    )
    documents_forget_openings(case=case)
    CaseExclusion.objects.get_or_create(
        case=case, reviewer=reviewer, defaults={"reason": f"declined: {reason}", "created_by": by}
    )
    outbox_enqueue(task="reviews.tasks.notify_coordinators_declined", args=[case.pk], key=f"case:{case.pk}")
    return case


def _start_editing(case: Case, by: AbstractBaseUser) -> Case:
    """Lock the case for a draft save; the first edit moves accepted or returned into review.

    Raises PermissionDenied unless `by` is the case's reviewer, and Refused (code "not_editable")
    unless the reviewer writes the determination now.
    """
    case = case_lock(case, "start_review", by=by)
    if case.status not in Case.Status.EDITABLE:
        message = (
            "The determination is approved and can no longer change."
            if case.status in Case.Status.FINAL
            else f"The case is {case.get_status_display().lower()}: the review cannot be edited now."
        )
        raise Refused(Problem(message, hint="Reload the page."), code="not_editable")
    if case.status != Case.Status.IN_REVIEW:
        case = case_transition(case, "start_review", by=by, note="review started")
    return case


@transaction.atomic
def case_summary_save(*, case: Case, by: AbstractBaseUser, text: str, version: int) -> int:
    """Save the clinical case summary drafted from `version`; returns the new version.

    Raises Refused when the summary was saved elsewhere since `version` (code "stale_draft") or the
    reviewer may not edit the case now (code "not_editable"), and PermissionDenied for anyone else.
    """
    case = _start_editing(case, by)
    if case.summary_version != version:
        raise Refused(
            Problem(f"The summary was changed elsewhere at {case.updated_at:%H:%M:%S}.", where="summary"),
            code="stale_draft",
        )
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

    Returns the new version. Raises Refused when the panel changed since `version` (code "stale_draft"),
    the reviewer may not edit the case now (code "not_editable") or the claims administrator authorised
    the item meanwhile (code "item_terminated"), and PermissionDenied for anyone else.
    """
    _start_editing(item.case, by)  # the case lock also serialises saves of its items
    item = DisputedItem.objects.get(pk=item.pk)
    if item.terminated:
        raise Refused(
            Problem(
                f"Item {item.position} was authorised by the claims administrator on {item.authorized_on:%m/%d/%Y}:"
                " it is no longer part of the review.",
                where=f"item-{item.position}",
            ),
            code="item_terminated",
        )
    if item.version != version:
        raise Refused(
            Problem(
                "This item was changed in another tab or window since you opened it.", where=f"item-{item.position}"
            ),
            code="stale_draft",
        )
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


def submission_problems(case: Case) -> list[Problem]:
    """Every piece DESIGN.md section 4 requires before submission that is missing (3 queries).

    Each problem's `where` is the workspace panel it is about: "summary", "item-<position>" or "documents".
    """
    problems = []
    if not case.clinical_case_summary.strip():
        problems.append(Problem("The clinical case summary is empty.", where="summary"))
    items = list(case.items.in_review().prefetch_related("citations"))
    for item in items:
        label, panel = f"Item {item.position} ({item.request_text[:50]})", f"item-{item.position}"
        roles = {c.role for c in item.citations.all()}
        if item.coordinator_change:
            problems.append(f"{label} was changed by the coordinator: look at it again and save its panel.")
        if not item.decision:
            problems.append(Problem(f"{label} has no decision.", where=panel))
        if not item.rationale.strip():
            problems.append(Problem(f"{label} has no decision rationale.", where=panel))
        if Citation.Role.CLAIMS_ADMINISTRATOR not in roles and not item.ca_cited_no_evidence:
            problems.append(
                Problem(f"{label}: record the claims administrator's guideline, or that it cited none.", where=panel)
            )
        if Citation.Role.REVIEW not in roles and not item.review_cited_no_evidence:
            problems.append(
                Problem(f"{label}: cite a guideline, or state that the review cites no medical evidence.", where=panel)
            )
    for document in case.documents.filter(first_opened_at__isnull=True):
        problems.append(Problem(f"You have not opened {document}.", where="documents"))
    return problems


@transaction.atomic
def case_submit(*, case: Case, by: AbstractBaseUser) -> Case:
    """Submit the determination for quality review; the case becomes read-only for the reviewer.

    Raises PermissionDenied unless `by` is the case's reviewer, and Refused unless the case is in
    review (code "not_allowed") and with every missing piece (code "incomplete").
    """
    case = case_lock(case, "submit", by=by)
    if problems := submission_problems(case):
        raise Refused(*problems, code="incomplete")
    return case_transition(case, "submit", by=by, note="submitted for quality review", submitted_at=timezone.now())


@transaction.atomic
def case_return_to_reviewer(*, case: Case, by: AbstractBaseUser, comments: str) -> Case:
    """Quality review sends the case back with comments, shown at the top of the workspace.

    Raises PermissionDenied for a non-coordinator, and Refused unless the case is submitted (code
    "not_allowed") and without comments (code "comments_missing").
    """
    case = case_lock(case, "return_to_reviewer", by=by)
    if not comments.strip():
        raise Refused(
            Problem("Write the comments the reviewer should address.", where="comments"), code="comments_missing"
        )
    return case_transition(
        case, "return_to_reviewer", by=by, note=f"returned to the reviewer: {comments}", qa_comments=comments
    )


@transaction.atomic
def case_approve(*, case: Case, by: AbstractBaseUser) -> Case:
    """Quality review approves the determination: it is final from now on and its letter is queued after commit.

    Raises PermissionDenied for a non-coordinator, and Refused unless the case is submitted (code
    "not_allowed"), if the determination is somehow incomplete (code "incomplete", a problem per
    missing piece), unless the public copy as it now stands was confirmed since the last submission
    (code "public_copy_unconfirmed"), and when the reviewer no longer holds an active licence or a
    current certification, which the letter states (code "credentials_lapsed").
    """
    case = case_lock(case, "approve", by=by)
    case_require_status(case, "approve")  # returned or approved by someone else meanwhile: that first
    if problems := submission_problems(case):
        raise Refused(*problems, code="incomplete")
    if problem := public_copy_of(letter_queryset().get(pk=case.pk)).problem:
        raise Refused(Problem(problem, where="public_copy"), code="public_copy_unconfirmed")
    if problems := credential_problems(case):
        raise Refused(
            Problem(
                " ".join(problems),
                hint="The letter states the reviewer's licensure and certification: update the reviewer's"
                " credentials in the admin, or reassign the case.",
            ),
            code="credentials_lapsed",
        )
    case = case_transition(case, "approve", by=by, note="approved", decision_date=timezone.localdate(), qa_comments="")
    letter_queue(case=case, by=by)
    return case
