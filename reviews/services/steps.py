"""The steps beside the main path (DESIGN.md section 4): withdrawal, termination, expedition, remand, reopening."""

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import deadlines
from ..documents import pdf_page_count
from ..models import ITEM_FIELDS, Case, CaseDocument, CaseExclusion, Citation, Diagnosis, DisputedItem, Letter
from .cases import case_register
from .errors import Problem, Refused
from .notices import notice_queue
from .outbox import outbox_enqueue
from .workflow import case_lock, case_transition


def _check_day(day: dt.date, *, where: str, not_before: dt.date | None, before_what: str) -> list[Problem]:
    """A reported date: not in the future, not before `not_before`."""
    if day > timezone.localdate():
        return [Problem("This date is in the future.", where, "Enter the day it happened.")]
    if not_before and day < not_before:
        return [Problem(f"This date is before {before_what} ({not_before:%m/%d/%Y}).", where)]
    return []


def _refuse_if(problems: list[Problem]) -> None:
    if problems:
        raise Refused(*problems, code="invalid")


@transaction.atomic
def case_withdraw(
    *, case: Case, by: AbstractBaseUser, requested_by: str, requester: str, requested_on: dt.date
) -> Case:
    """Close the case at the applicant's request, any time before the decision, recording who asked and when.

    Raises PermissionDenied for a non-coordinator and Refused when a detail is missing or wrong, or
    (code "not_allowed") once the determination is approved or the case closed.
    """
    case = case_lock(case, "withdraw", by=by)
    problems = []
    if not requested_by.strip():
        problems.append(Problem("Say who asked to withdraw the application.", "requested_by"))
    if requester not in Case.Requester.values:
        problems.append(Problem("Choose how the person who asked is related to the employee.", "requester"))
    problems += _check_day(
        requested_on,
        where="requested_on",
        not_before=case.application_received_date,
        before_what="the application was received",
    )
    _refuse_if(problems)
    relationship = Case.Requester(requester).label.lower()
    reason = f"Withdrawn at the request of {requested_by.strip()} ({relationship}), dated {requested_on:%m/%d/%Y}."
    case = case_transition(
        case,
        "withdraw",
        by=by,
        note=reason,
        closed_reason=reason,
        withdrawal_requested_by=requested_by.strip(),
        withdrawal_requester=requester,
        withdrawal_requested_on=requested_on,
    )
    notice_queue(case=case, kind=Letter.Kind.WITHDRAWAL_NOTICE, by=by)
    return case


@transaction.atomic
def case_terminate(
    *, case: Case, by: AbstractBaseUser, items: list[DisputedItem], authorized_on: dt.date, reported_by: str
) -> Case:
    """Record that the claims administrator authorised the treatment of `items` on `authorized_on`.

    Those items close (they leave the review, the submission checks and the letter) and the review
    goes on with the rest; when they are all the items still in review, the case is terminated.
    Raises PermissionDenied for a non-coordinator and Refused when no item is given, an item is
    not in review on this case, a detail is missing or wrong, or (code "not_allowed") once the
    determination is approved or the case closed.
    """
    case = case_lock(case, "terminate_items", by=by)  # two reports at once: the second sees the first's closed
    open_items = {item.pk: item for item in case.items.in_review()}
    problems = []
    if not items:
        problems.append(Problem("Tick the items the claims administrator authorised.", "items"))
    elif stale := [item for item in items if item.pk not in open_items]:
        positions = ", ".join(str(item.position) for item in stale)
        problems.append(Problem(f"Item {positions} is no longer in review on {case}.", "items", "Reload the page."))
    if not reported_by.strip():
        problems.append(Problem("Say who reported the authorisation.", "reported_by"))
    problems += _check_day(
        authorized_on, where="authorized_on", not_before=case.ur_decision_date, before_what="the UR decision"
    )
    _refuse_if(problems)
    chosen = sorted((open_items[item.pk] for item in items), key=lambda item: item.position)
    listed = "; ".join(f"item {item.position} ({item.request_text[:60]})" for item in chosen)
    reporter = reported_by.strip()
    note = f"The claims administrator authorised {listed} on {authorized_on:%m/%d/%Y}, reported by {reporter}."
    if len(chosen) == len(open_items):
        case = case_transition(case, "terminate", by=by, note=note, closed_reason=note)
        # Only a whole termination is noticed: the parties learn of a partial one from the letter.
        notice_queue(case=case, kind=Letter.Kind.TERMINATION_NOTICE, by=by)
    else:
        case = case_transition(case, "terminate_items", by=by, note=note)
    event = case.events.order_by("-id").first()  # the one case_transition just recorded
    for item in chosen:  # one by one: each is an audited record
        item.authorized_on = authorized_on
        item.authorization_reported_by = reporter
        item.termination_event = event
        item.save(update_fields=["authorized_on", "authorization_reported_by", "termination_event"])
    return case


@transaction.atomic
def case_expedite(*, case: Case, by: AbstractBaseUser, certified_on: dt.date, certification: str) -> Case:
    """Convert the case to expedited on the treating physician's documented certification of `certified_on`.

    The clocks recompute from that day (reviews.deadlines): records still awaited are due a day
    later, a decision whose clock runs is due three days after the later of that day and the
    records' completion; the deadline announcements start again. The assigned reviewer is told by
    e-mail (outbox). Raises PermissionDenied for a non-coordinator and Refused when a detail is
    missing or wrong, the case is expedited already, or (code "not_allowed") once the determination
    is approved or the case closed.
    """
    case = case_lock(case, "expedite", by=by)
    problems = []
    if case.priority == Case.Priority.EXPEDITED:
        raise Refused(f"{case} is expedited already.", code="already_expedited")
    if not certification.strip():
        problems.append(
            Problem("Name the physician's certification.", "certification", "A document on file, or where it is.")
        )
    problems += _check_day(
        certified_on,
        where="certified_on",
        not_before=case.application_received_date,
        before_what="the application was received",
    )
    _refuse_if(problems)
    changes = {}
    if case.status == Case.Status.AWAITING_RECORDS:
        changes["records_due_date"] = deadlines.records_due(certified_on, Case.Priority.EXPEDITED)
    if case.records_complete_date:
        start = max(certified_on, case.records_complete_date)
        changes["decision_due_date"] = deadlines.decision_due(start, Case.Priority.EXPEDITED)
    due = changes.get("decision_due_date") or changes.get("records_due_date")
    case = case_transition(
        case,
        "expedite",
        by=by,
        note=f"converted to expedited on the physician's certification of {certified_on:%m/%d/%Y} ({certification})"
        + (f"; now due {due:%m/%d/%Y}" if due else ""),
        priority=Case.Priority.EXPEDITED,
        expedited_certified_on=certified_on,
        expedited_certification=certification.strip(),
        due_soon_notified_at=None,
        overdue_notified_at=None,
        **changes,
    )
    if case.reviewer_id and case.status in Case.Status.LOAD:
        outbox_enqueue(task="reviews.tasks.notify_reviewer_expedited", args=[case.pk], key=f"case:{case.pk}")
    return case


def _final_letter(case: Case) -> Letter | None:
    return (
        Letter.objects.filter(case=case, kind=Letter.Kind.FINAL_DETERMINATION, status=Letter.Status.READY)
        .order_by("-version")
        .first()
    )


@transaction.atomic
def case_remand(*, case: Case, by: AbstractBaseUser, received_on: dt.date, order: str) -> Case:
    """Open a new case that re-reviews the issued determination of `case` (e.g. remanded by the WCAB).

    The new case copies the parties, diagnoses, the items the determination decided (with the claims
    administrator's guidelines) and the records; the earlier final letter's PDF joins its documents.
    Its records are complete on `received_on`, so it is ready for assignment with its decision clock
    running; the earlier reviewers (of the case and of any case it remands) and every reviewer
    excluded from the earlier case may not review it. `case` stays issued: a determination is never
    reopened. Returns the new case. Raises PermissionDenied for a non-coordinator and Refused when a
    detail is missing or wrong, the case is not an issued determination of ours, or it was remanded
    already.
    """
    old = case_lock(case, "remand", by=by)
    problems = []
    if not order.strip():
        problems.append(Problem("Say what remanded the determination.", "order", "E.g. the WCAB order and its date."))
    if old.decision_date:
        problems += _check_day(
            received_on, where="received_on", not_before=old.decision_date, before_what="the determination"
        )
    _refuse_if(problems)
    if earlier := old.remands.first():
        raise Refused(f"{old} was remanded already: {earlier} re-reviews it.", code="remanded_already")
    letter = _final_letter(old)
    if old.status != Case.Status.ISSUED or old.imported_from or letter is None:
        raise Refused(f"{old} is no issued determination of ours: only those can be remanded.", code="not_allowed")

    new = Case(
        remand_of=old,
        # Born ready for assignment: eligibility and the records were settled in the earlier case.
        status=Case.Status.READY_FOR_ASSIGNMENT,
        records_complete_date=received_on,
        decision_due_date=deadlines.decision_due(received_on, old.priority),
        **{
            field: getattr(old, field)
            for field in (
                "priority",
                "employee_name",
                "employee_birth_date",
                "employee_sex",
                "claim_number",
                "adj_number",
                "date_of_injury",
                "employer_id",
                "claims_administrator_id",
                "ur_organization_id",
                "requesting_provider_id",
                "employee_attorney_id",
                "ur_decision_date",
                "application_received_date",
                "expedited_certified_on",
                "expedited_certification",
            )
        },
    )
    new = case_register(case=new, by=by, note=f"remand of {old}: {order.strip()}")
    _copy_dispute(old, new)
    _copy_documents(old, new, letter=letter)
    # The earlier reviewer is refused by the rule of remand_of (reviews.assignment); those excluded
    # from the earlier case (a conflict, a decline, the reviewer of a remand before it) stay excluded.
    excluded = {}
    if old.remand_of_id:
        excluded[old.remand_of.reviewer_id] = f"reviewed the remanded determination {old.remand_of}"
    for exclusion in old.exclusions.all():
        excluded.setdefault(exclusion.reviewer_id, f"excluded from {old}: {exclusion.reason}"[:240])
    for reviewer_id, reason in excluded.items():
        CaseExclusion.objects.create(case=new, reviewer_id=reviewer_id, reason=reason, created_by=by)
    case_transition(old, "remand", by=by, note=f"remanded ({order.strip()}): re-reviewed as {new}")
    return new


# What a remand copies of each item: the request as intake took it (ITEM_FIELDS, by their columns:
# no query for the category), and whether the claims administrator cited any guideline.
_COPIED_ITEM_FIELDS = [DisputedItem._meta.get_field(name).attname for name in (*ITEM_FIELDS, "ca_cited_no_evidence")]


def _copy_dispute(old: Case, new: Case) -> None:
    """The diagnoses, and the items the determination decided with the claims administrator's guidelines."""
    for diagnosis in old.diagnoses.all():
        Diagnosis.objects.create(
            case=new, position=diagnosis.position, icd10_code=diagnosis.icd10_code, description=diagnosis.description
        )
    ca = Citation.Role.CLAIMS_ADMINISTRATOR
    for position, item in enumerate(old.items.in_review().prefetch_related("citations"), start=1):
        copy = DisputedItem.objects.create(
            case=new,
            position=position,
            **{field: getattr(item, field) for field in _COPIED_ITEM_FIELDS},
        )
        for citation in (c for c in item.citations.all() if c.role == ca):  # one by one: audited records
            Citation.objects.create(
                item=copy,
                role=ca,
                position=citation.position,
                guideline_id=citation.guideline_id,
                sections=citation.sections,
                pages=citation.pages,
            )


def _copy_documents(old: Case, new: Case, *, letter: Letter) -> None:
    """The records, sharing their stored files (never changed once stored), and the earlier letter's PDF."""
    now = timezone.now()
    for document in old.documents.all():
        CaseDocument.objects.create(
            case=new,
            received_at=now,
            **{
                field: getattr(document, field)
                for field in (
                    "kind",
                    "author",
                    "service_date",
                    "submitted_by",
                    "file",
                    "original_name",
                    "content_type",
                    "size",
                    "page_count",
                )
            },
        )
    CaseDocument.objects.create(
        case=new,
        kind=CaseDocument.Kind.PRIOR_DETERMINATION,
        author=settings.IMR_ORGANIZATION_NAME,
        service_date=old.decision_date,
        submitted_by=CaseDocument.SubmittedBy.REVIEW_ORGANIZATION,
        received_at=now,
        file=letter.pdf.name,
        original_name=f"{old.case_number}-final-determination-v{letter.version}.pdf",
        content_type="application/pdf",
        size=letter.pdf.size,
        page_count=_page_count(letter),
    )


def _page_count(letter: Letter) -> int | None:
    """The pages of the letter's PDF, as the documents list shows them; None when it cannot be read."""
    with letter.pdf.open("rb") as pdf:
        try:
            return pdf_page_count(pdf)
        except ValidationError:
            return None


@transaction.atomic
def case_reopen(*, case: Case, by: AbstractBaseUser, reason: str) -> Case:
    """Reopen a case closed without a determination; it returns to the step it was closed at.

    The rule: a withdrawn, terminated or ineligible case may be reopened by a coordinator who gives
    the reason (a withdrawal retracted or recorded in error, an authorisation rescinded, an
    ineligibility reversed on appeal). It goes back to the status it was closed from with its
    reviewer, drafts and clocks as they stood (a late decision is reported, never blocked); a
    terminated case gets back the items its closing step terminated, while items authorised by an
    earlier, partial report stay closed. An issued determination is never reopened: it is
    remanded (case_remand). Raises PermissionDenied for a non-coordinator and Refused without a
    reason or (code "not_allowed") when the case is not closed in a way that can be reopened.
    """
    case = case_lock(case, "reopen", by=by)
    if not reason.strip():
        raise Refused(Problem("Give the reason for reopening the case.", "reason"), code="invalid")
    closing = None
    if case.status == Case.Status.TERMINATED:
        closing = case.events.filter(to_status=Case.Status.TERMINATED).exclude(from_status=Case.Status.TERMINATED)
        closing = closing.order_by("-id").first()
    case = case_transition(
        case,
        "reopen",
        by=by,
        note=f"reopened: {reason.strip()}",
        closed_reason="",
        withdrawal_requested_by="",
        withdrawal_requester="",
        withdrawal_requested_on=None,
    )
    if closing is not None:
        for item in closing.terminated_items.all():  # one by one: each is an audited record
            item.authorized_on, item.authorization_reported_by, item.termination_event = None, "", None
            item.save(update_fields=["authorized_on", "authorization_reported_by", "termination_event"])
    return case
