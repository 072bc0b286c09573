"""The coordinator's changes to a case's disputed items and diagnoses once intake is over.

Before the reviewer accepts the case these are plain corrections. From acceptance on the reviewer
relies on them (the admin shows them read-only): each change is recorded as a case event, marks a
changed or added item for the reviewer's look (its decision, citations and rationale are kept),
tells the reviewer by e-mail, and sends a submitted case back to the reviewer. After approval the
determination is final and nothing here changes it.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..models import ITEM_FIELDS, Case, Diagnosis, DisputedItem, modified_request_parts
from .errors import Problem, Refused
from .outbox import outbox_enqueue
from .workflow import case_lock, case_require_status, case_transition

S = Case.Status

DIAGNOSIS_FIELDS = ["icd10_code", "description"]


def _lock(case: Case, by: AbstractBaseUser) -> Case:
    """The case locked for a change (one at a time, and none beside a transition), checked before anything
    changes: PermissionDenied for a non-coordinator, Refused ("not_allowed") once approved or closed."""
    case = case_lock(case, "change_dispute", by=by)
    case_require_status(case, "change_dispute")
    return case


def _reason(reason: str) -> str:
    if not reason.strip():
        raise Refused(Problem("Say why this changes: the reviewer and the timeline read it.", where="reason"))
    return reason.strip()


def _shown(record, field: str) -> str:
    """A field's value as the pages show it: the label of a choice, the name of a related record."""
    display = getattr(record, f"get_{field}_display", None)
    try:
        value = display() if display else getattr(record, field)
    except ObjectDoesNotExist:  # a related record not chosen yet (a new item)
        value = None
    return f"“{value}”" if value not in (None, "") else "nothing"


def _apply(record, fields: dict) -> list[str]:
    """Set `fields` on `record` and validate it; returns what changed, in words ('request: “a” → “b”').

    Raises Refused, with each problem on its field, when the record would be invalid.
    """
    before = {name: _shown(record, name) for name in fields}
    for name, value in fields.items():
        setattr(record, name, value)
    try:
        record.full_clean(exclude=["case"])
    except ValidationError as error:
        raise Refused(
            *(Problem(message, where=field) for field, messages in error.message_dict.items() for message in messages),
            code="invalid",
        ) from None
    labels = {name: record._meta.get_field(name).verbose_name for name in fields}
    return [f"{labels[n]}: {before[n]} → {_shown(record, n)}" for n in fields if _shown(record, n) != before[n]]


def _changed(case: Case, *, by: AbstractBaseUser, change: str, reason: str) -> Case:
    """The event of a change; once the reviewer has accepted the case, their notice, and a submitted case
    goes back to them with the change as the quality review's comments."""
    note = f"{change}. Reason: {reason}"
    if case.status == Case.Status.SUBMITTED:
        case = case_transition(
            case, "return_to_reviewer", by=by, note=f"returned to the reviewer: {note}", qa_comments=note
        )
    else:
        case = case_transition(case, "change_dispute", by=by, note=note)
    if case.status in S.ACCEPTED_BY_REVIEWER:
        outbox_enqueue(task="reviews.tasks.notify_reviewer_dispute_changed", args=[case.pk], key=f"case:{case.pk}")
    return case


def _flag(case: Case, by: AbstractBaseUser, what: str, reason: str) -> str:
    """The note a changed item carries for its reviewer; empty before the reviewer accepted the case."""
    if case.status not in S.ACCEPTED_BY_REVIEWER:
        return ""
    who = by.get_full_name() or by.get_username()
    return f"{what} by {who} on {timezone.localdate():%m/%d/%Y}. Reason: {reason}"


@transaction.atomic
def dispute_item_save(
    *, case: Case, by: AbstractBaseUser, reason: str, position: int | None = None, **fields
) -> DisputedItem:
    """Change the item at `position` (its request and details, ITEM_FIELDS), or add one when `position` is None.

    Once the reviewer has accepted the case the item keeps its decision, citations and rationale,
    is marked for the reviewer's look (`coordinator_change`) and gets a new version, so a panel
    open on the old request is refused as stale. Returns the item. Raises PermissionDenied for a
    non-coordinator; Refused: the case approved or closed ("not_allowed"), no reason, an invalid item
    ("invalid", problems on their fields), nothing changed ("unchanged"); DisputedItem.DoesNotExist
    for an unknown position.
    """
    case = _lock(case, by)
    reason = _reason(reason)
    if position is None:
        last = case.items.aggregate(last=Max("position"))["last"] or 0
        item = DisputedItem(case=case, position=last + 1)
        _apply(item, _with_modified_parts(fields))
        change = f"item {item.position} added: {item.request_text}"
        item.coordinator_change = _flag(case, by, "Added", reason)
    else:
        item = case.items.get(position=position)
        changes = _apply(
            item, _with_modified_parts({name: fields.get(name, getattr(item, name)) for name in ITEM_FIELDS})
        )
        if not changes:
            raise Refused("Nothing was changed.", code="unchanged")
        change = f"item {item.position} changed: {'; '.join(changes)}"
        # Changed again before the reviewer looked: they read every change.
        earlier = [item.coordinator_change] if item.coordinator_change else []
        flag = _flag(case, by, f"Changed ({'; '.join(changes)})", reason)
        item.coordinator_change = "\n".join(note for note in (*earlier, flag) if note)
        item.version += 1
    item.save()
    _changed(case, by=by, change=change, reason=reason)
    return item


def _with_modified_parts(fields: dict) -> dict:
    """A modified request's IMR-eligible part worked out as intake does (models.modified_request_parts)."""
    scope, remaining = modified_request_parts(
        ur_action=fields.get("ur_action", ""),
        request_text=fields.get("request_text", ""),
        authorized_part=fields.get("authorized_part", ""),
        eligible_scope=fields.get("eligible_scope", ""),
        remaining_part=fields.get("remaining_part", ""),
    )
    return {**fields, "eligible_scope": scope, "remaining_part": remaining}


@transaction.atomic
def dispute_item_remove(*, case: Case, by: AbstractBaseUser, reason: str, position: int) -> Case:
    """Remove the item at `position` with its citations; the others keep their positions (a reviewer's
    open panels name items by position). Returns the case.

    Raises what dispute_item_save raises, and Refused ("last_item") for the case's only item: a case
    without a dispute is withdrawn or terminated instead.
    """
    case = _lock(case, by)
    reason = _reason(reason)
    item = case.items.get(position=position)
    if not case.items.exclude(pk=item.pk).exists():
        raise Refused(
            "This is the case's only disputed item. To end the dispute, withdraw or terminate the case.",
            code="last_item",
        )
    item.delete()  # one by one with its citations: each deletion is in their history
    return _changed(case, by=by, change=f"item {position} removed: {item.request_text}", reason=reason)


@transaction.atomic
def dispute_diagnosis_save(
    *, case: Case, by: AbstractBaseUser, reason: str, position: int | None = None, **fields
) -> Diagnosis:
    """Change the diagnosis at `position` (code and text), or add one when `position` is None.

    Returns the diagnosis. Raises what dispute_item_save raises (Diagnosis.DoesNotExist for an unknown position).
    """
    case = _lock(case, by)
    reason = _reason(reason)
    others = case.diagnoses.exclude(position=position) if position is not None else case.diagnoses.all()
    if "icd10_code" in fields and others.filter(icd10_code=fields["icd10_code"]).exists():
        raise Refused(Problem(f"{fields['icd10_code']} is already listed.", where="icd10_code"), code="invalid")
    if position is None:
        last = case.diagnoses.aggregate(last=Max("position"))["last"] or 0
        diagnosis = Diagnosis(case=case, position=last + 1)
        _apply(diagnosis, fields)
        change = f"diagnosis {diagnosis} added"
    else:
        diagnosis = case.diagnoses.get(position=position)
        if not (changes := _apply(diagnosis, fields)):
            raise Refused("Nothing was changed.", code="unchanged")
        change = f"diagnosis {diagnosis.position} changed: {'; '.join(changes)}"
    diagnosis.save()
    _changed(case, by=by, change=change, reason=reason)
    return diagnosis


@transaction.atomic
def dispute_diagnosis_remove(*, case: Case, by: AbstractBaseUser, reason: str, position: int) -> Case:
    """Remove the diagnosis at `position`. Returns the case; raises what dispute_item_save raises."""
    case = _lock(case, by)
    reason = _reason(reason)
    diagnosis = case.diagnoses.get(position=position)
    diagnosis.delete()
    return _changed(case, by=by, change=f"diagnosis {diagnosis} removed", reason=reason)
