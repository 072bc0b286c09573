"""Case intake, case numbers and the workflow transitions up to assignment."""

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import deadlines
from ..models import (
    Case,
    CaseEvent,
    CaseNumberSequence,
    Citation,
    Diagnosis,
    DisputedItem,
    TreatmentCategory,
    modified_request_parts,
)
from ..permissions import require_coordinator
from .errors import Problem, Refused
from .parties import organization_get_or_create, provider_get_or_create
from .workflow import case_lock, case_transition


def case_number_next(*, year: int) -> str:
    """Take the next case number of `year` (CM<yy>-<7 digits>); call inside a transaction.

    The sequence row is created if missing (a no-op when another transaction created it
    first) and then locked, so concurrent intakes wait for each other and never share a
    number; a rolled-back intake leaves no gap because its increment rolls back too.
    """
    sequence = _lock_intake(year=year)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return f"CM{year % 100:02d}-{sequence.last_value:07d}"


def _lock_intake(*, year: int) -> CaseNumberSequence:
    """Lock the year's case-number row (created if missing): intakes of the year run one at a time."""
    CaseNumberSequence.objects.bulk_create([CaseNumberSequence(year=year)], ignore_conflicts=True)
    return CaseNumberSequence.objects.select_for_update().get(year=year)


def case_duplicate_of(*, claim_number: str, ur_decision_date, requests: list[str]) -> Case | None:
    """An open case of the same dispute: the same claim, UR decision date and one of the same requests."""
    return (
        Case.objects.open()
        .filter(claim_number__iexact=claim_number, ur_decision_date=ur_decision_date, items__request_text__in=requests)
        .order_by("pk")
        .first()
    )


@transaction.atomic
def case_create(
    *,
    by: AbstractBaseUser,
    diagnoses: Iterable[dict],
    items: Iterable[dict],
    confirm_duplicate: bool = False,
    **fields,
) -> Case:
    """Take in a new case with its ordered diagnoses and disputed items, and give it a number.

    Each item is a dict of DisputedItem fields, with the claims administrator's guideline from
    the UR decision as `ca_citations` (a list of CitationInput). A modified item's IMR-eligible
    part is completed by models.modified_request_parts(). Raises PermissionDenied unless `by`
    is a coordinator, ValidationError (nothing saved) when the case, a diagnosis or an item
    is invalid, and Refused (code "duplicate_dispute") when an open case holds the same dispute,
    unless `confirm_duplicate`.
    """
    items = list(items)
    # Checked under the intake lock, so two intakes of one dispute sent at once cannot both pass.
    _lock_intake(year=timezone.localdate().year)
    duplicate = case_duplicate_of(
        claim_number=fields.get("claim_number", ""),
        ur_decision_date=fields.get("ur_decision_date"),
        requests=[item["request_text"] for item in items],
    )
    if duplicate is not None and not confirm_duplicate:
        number = duplicate.case_number
        raise Refused(
            Problem(
                f"{number} is open for the same claim, UR decision date and request.",
                where="confirm_duplicate",
                hint=f"Tick “Create it anyway” to take in a second case, or open {number} instead.",
            ),
            code="duplicate_dispute",
        )
    case = case_register(case=Case(**fields), by=by)
    for position, diagnosis in enumerate(diagnoses, start=1):
        row = Diagnosis(case=case, position=position, **diagnosis)
        row.full_clean()
        row.save()
    for position, item in enumerate(items, start=1):
        fields = dict(item)
        ca_citations = fields.pop("ca_citations", [])
        row = DisputedItem(case=case, position=position, **fields)
        row.eligible_scope, row.remaining_part = modified_request_parts(
            ur_action=row.ur_action,
            request_text=row.request_text,
            authorized_part=row.authorized_part,
            eligible_scope=row.eligible_scope,
            remaining_part=row.remaining_part,
        )
        row.full_clean()
        row.save()
        for n, c in enumerate(ca_citations, start=1):  # one by one: each is an audited record
            Citation.objects.create(
                item=row,
                role=Citation.Role.CLAIMS_ADMINISTRATOR,
                position=n,
                guideline=c.guideline,
                sections=c.sections,
                pages=c.pages,
            )
    return case


@transaction.atomic
def case_intake(
    *,
    by: AbstractBaseUser,
    organizations: dict[str, tuple[str, str]],
    provider_name: str,
    provider_npi: str = "",
    **case,
) -> Case:
    """Take in a case whose parties are named as typed: find or add each party, then case_create.

    `organizations` maps a Case field to (organisation kind, name). One transaction, so a refusal
    leaves no new party behind. Raises what case_create raises, and Refused (on "provider_name" or
    "provider_npi") when the provider's name and NPI point at different physicians on file.
    """
    for field, (kind, name) in organizations.items():
        case[field] = organization_get_or_create(kind=kind, name=name, by=by)
    try:
        case["requesting_provider"] = provider_get_or_create(name=provider_name, npi=provider_npi, by=by)
    except ValidationError as error:
        raise Refused(
            *(
                Problem(message, where="provider_npi" if field == "npi" else "provider_name")
                for field, messages in error.message_dict.items()
                for message in messages
            ),
            code="provider",
        ) from error
    return case_create(by=by, **case)


@transaction.atomic
def item_category_correct(
    *, item: DisputedItem, category: TreatmentCategory, subcategory: TreatmentCategory | None, by: AbstractBaseUser
) -> DisputedItem:
    """Correct a disputed item's treatment category and subcategory: a wrong one can keep the right
    reviewer out (assignment needs a specialty accepted for every item's category).

    Recorded as a CaseEvent naming the old and the new category (and in the item's history).
    Raises PermissionDenied for a non-coordinator, and Refused once the reviewer has accepted the
    case or it is closed (code "not_allowed": the items are then the reviewer's to rely on), or
    when the subcategory is not one of the category (code "invalid", on "subcategory").
    """
    require_coordinator(by)
    case = Case.objects.select_for_update().get(pk=item.case_id)
    if case.status in Case.Status.ACCEPTED_BY_REVIEWER or case.status in Case.Status.CLOSED:
        raise Refused(
            Problem(
                f"{case} is {case.get_status_display().lower()}: its items can no longer be corrected.",
                hint="Once the reviewer accepts a case, its items are theirs to rely on.",
            ),
            code="not_allowed",
        )
    item = DisputedItem.objects.select_related("category", "subcategory").get(pk=item.pk, case=case)
    before = str(item.subcategory or item.category)
    item.category, item.subcategory = category, subcategory
    try:
        item.full_clean()
    except ValidationError as error:
        raise Refused(
            *(Problem(m, where=field) for field, messages in error.message_dict.items() for m in messages),
            code="invalid",
        ) from error
    if (after := str(item.subcategory or item.category)) != before:
        item.save(update_fields=["category", "subcategory"])
        note = f"item {item.position}: treatment category corrected from {before} to {after}"
        CaseEvent.record(case, by=by, note=note, from_status=case.status)  # no status change
    return item


@transaction.atomic
def case_register(*, case: Case, by: AbstractBaseUser, note: str = "application received") -> Case:
    """Validate and save a new, unsaved case under the next case number of this year; `note` is its first event's.

    Raises PermissionDenied unless `by` is a coordinator and ValidationError when the case is invalid.
    """
    require_coordinator(by)
    case.full_clean(exclude=["case_number"])
    case.case_number = case_number_next(year=timezone.localdate().year)
    case.save()
    CaseEvent.record(case, by=by, note=note)
    return case


@transaction.atomic
def case_confirm_eligibility(*, case: Case, by: AbstractBaseUser, eligible: bool, reason: str = "") -> Case:
    """Record the coordinator's eligibility decision; an ineligible case closes with `reason`.

    Raises PermissionDenied for a non-coordinator, Refused unless the case is received (code
    "not_allowed") and when an ineligible case has no reason (code "reason_missing").
    """
    if eligible:
        return case_transition(case, "confirm_eligible", by=by, note=reason or "eligible")
    case = case_lock(case, "confirm_ineligible", by=by)
    if not reason.strip():
        raise Refused(Problem("Give the reason the application is ineligible.", where="reason"), code="reason_missing")
    return case_transition(case, "confirm_ineligible", by=by, note=reason, closed_reason=reason)


@transaction.atomic
def case_request_records(
    *, case: Case, by: AbstractBaseUser, sent_on: dt.date | None = None, electronic: bool = True
) -> Case:
    """Send the notice of assignment and request for information; start the records clock.

    Raises PermissionDenied for a non-coordinator and Refused (code "not_allowed") unless the case is eligible.
    """
    sent_on = sent_on or timezone.localdate()
    due = deadlines.records_due(sent_on, case.priority, electronic=electronic)
    return case_transition(
        case, "request_records", by=by, note=f"records requested, due {due:%m/%d/%Y}", records_due_date=due
    )


@transaction.atomic
def case_complete_records(*, case: Case, by: AbstractBaseUser, on: dt.date | None = None) -> Case:
    """Mark the records complete on `on` and compute the decision due date from the priority.

    Raises PermissionDenied for a non-coordinator and Refused (code "not_allowed") unless the case awaits records.
    """
    on = on or timezone.localdate()
    due = deadlines.decision_due(on, case.priority)
    return case_transition(
        case,
        "complete_records",
        by=by,
        note=f"records complete, decision due {due:%m/%d/%Y}",
        records_complete_date=on,
        decision_due_date=due,
    )
