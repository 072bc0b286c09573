"""Published determinations imported as issued historical cases (DESIGN.md section 8).

Each letter is read with reviews.published and written in one transaction: a letter that cannot
be read or saved leaves nothing behind. The published letters name no reviewer and no party, so
the case's parties are one shared "not published" placeholder each, and its reviewer is an
inactive profile holding exactly the credentials the letter states (one profile per distinct set
of credentials), which is what the letter renders again.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from .. import published, treatment_rules
from ..models import (
    US_STATES,
    BoardCertification,
    Case,
    CaseEvent,
    Citation,
    DisputedItem,
    Guideline,
    License,
    Organization,
    Provider,
    Reviewer,
    Specialty,
    TreatmentCategory,
)
from ..permissions import require_coordinator

NOT_PUBLISHED = "Not published"
STATE_CODES = {name.casefold(): code for code, name in US_STATES.items()}
FAR_FUTURE = dt.date(9999, 12, 31)  # a published credential is stated as held on the decision date


@dataclass(frozen=True)
class ImportOutcome:
    source: str
    status: str  # "imported", "replaced", "skipped" or "failed"
    case_number: str = ""
    reason: str = ""
    line: int | None = None


class _Refused(Exception):
    pass


def determination_import(*, text: str, source: str, by: AbstractBaseUser, update: bool = False) -> ImportOutcome:
    """Import one published determination as an issued case; never raises for a bad letter.

    An imported case number already on file is skipped, or replaced with `update` (only an
    imported case is ever replaced). Raises PermissionDenied unless `by` is a coordinator.
    """
    require_coordinator(by)
    try:
        letter = published.parse(text)
    except published.UnreadableLetter as error:
        return ImportOutcome(source, "failed", reason=str(error), line=error.line)
    number = letter.header.get("case_number")
    if not number:
        return ImportOutcome(source, "failed", reason="no case number in the letter")
    try:
        with transaction.atomic():
            existing = Case.objects.select_for_update().filter(case_number=number).first()
            if existing and not existing.imported_from:
                raise _Refused(f"{number} is a case of this organisation, never replaced by an import")
            if existing and not update:
                return ImportOutcome(source, "skipped", number, "already imported (use --update to replace it)")
            _write(letter, source=source, by=by, existing=existing)
    except (_Refused, ValidationError) as error:
        reason = "; ".join(getattr(error, "messages", [str(error)]))
        return ImportOutcome(source, "failed", number, reason)
    return ImportOutcome(source, "replaced" if existing else "imported", number)


def _write(letter: published.PublishedLetter, *, source: str, by, existing: Case | None) -> Case:
    header = letter.header
    fields = {
        "priority": header.get("priority", "Standard").lower(),
        "date_of_injury": letter.date("date_of_injury"),
        "ur_decision_date": letter.date("ur_denial_date"),
        "application_received_date": letter.date("application_received"),
        "date_assigned": letter.date("date_assigned"),
        "decision_date": letter.date("decision_date"),
        "reviewer": _reviewer(letter),
        "clinical_case_summary": letter.summary,
        "imported_from": source,
        "issuing_organization": letter.organization_name,
        "issuing_organization_short": letter.organization_short_name,
    }
    if existing is None:
        case = Case(
            case_number=header["case_number"],
            status=Case.Status.ISSUED,  # a historical determination, issued by its organisation
            employee_name=NOT_PUBLISHED,
            claim_number="",
            employer=_placeholder(Organization.Kind.EMPLOYER),
            claims_administrator=_placeholder(Organization.Kind.CLAIMS_ADMINISTRATOR),
            requesting_provider=Provider.objects.get_or_create(name=NOT_PUBLISHED, npi="")[0],
            **fields,
        )
    else:
        case = existing
        for name, value in fields.items():
            setattr(case, name, value)
        case.items.all().delete()
    case.full_clean(exclude=["claim_number"])
    case.save()
    catalogue = _Catalogue()
    for position, entry in enumerate(letter.items, start=1):
        category, subcategory = _category(entry.request)
        item = DisputedItem(
            case=case,
            position=position,
            request_text=entry.request,
            category=category,
            subcategory=subcategory,
            ur_action=DisputedItem.URAction.MODIFIED if entry.authorized_part else DisputedItem.URAction.DENIED,
            authorized_part=entry.authorized_part,
            eligible_scope=entry.eligible_scope,
            remaining_part=entry.remaining_part,
            decision=entry.decision,
            ca_cited_no_evidence=entry.ca.no_evidence,
            review_cited_no_evidence=entry.review.no_evidence,
            rationale=entry.rationale,
        )
        item.full_clean(exclude=["case"])
        item.save()
        for role, line in ((Citation.Role.CLAIMS_ADMINISTRATOR, entry.ca), (Citation.Role.REVIEW, entry.review)):
            for n, cited in enumerate(line.citations, start=1):
                guideline, sections = catalogue.resolve(cited, letter.layout)
                Citation.objects.create(
                    item=item, role=role, position=n, guideline=guideline, sections=sections, pages=cited.pages
                )
    CaseEvent.record(case, by=by, note=f"{'re-imported' if existing else 'imported'} from {source}")
    return case


def _placeholder(kind: str) -> Organization:
    return Organization.objects.get_or_create(kind=kind, name=NOT_PUBLISHED)[0]


def _category(request: str) -> tuple[TreatmentCategory, TreatmentCategory | None]:
    name, sub = treatment_rules.classify(request)
    category = TreatmentCategory.objects.filter(parent=None, name__iexact=name).first()
    if category is None:
        category = TreatmentCategory.objects.create(name=name)
    if sub is None:
        return category, None
    subcategory = category.subcategories.filter(name__iexact=sub).first()
    return category, subcategory or TreatmentCategory.objects.create(name=sub, parent=category)


def _reviewer(letter: published.PublishedLetter) -> Reviewer:
    """The inactive profile holding exactly the credentials the letter states."""
    codes = []
    for state in letter.states:
        if (code := STATE_CODES.get(state.casefold())) is None:
            raise _Refused(f"unknown state of licensure {state!r}")
        codes.append(code)
    profile = (codes, letter.certifications, letter.subspecialties, letter.more_than_five_years, letter.weekly_hours)
    key = hashlib.sha256(repr(profile).encode()).hexdigest()[:12]
    username = f"published-{key}"
    existing = Reviewer.objects.filter(user__username=username).first()
    if existing:
        return existing
    user = get_user_model().objects.create(username=username, first_name="Published", last_name="reviewer")
    user.set_unusable_password()
    user.is_active = False
    user.save()
    years = 30 if letter.more_than_five_years else 5  # the letters say "more than five years" or less
    reviewer = Reviewer.objects.create(
        user=user,
        degree=Reviewer.Degree.MD,
        practice_start_year=letter.date("decision_date").year - years if letter.header else 1990,
        weekly_hours=letter.weekly_hours,
        capacity=0,
        active=False,
    )
    for n, code in enumerate(codes, start=1):
        License.objects.create(reviewer=reviewer, state=code, number=f"PUBLISHED-{key}-{n}", expires_on=FAR_FUTURE)
    parent = None
    for name in letter.certifications:
        is_sub = name in letter.subspecialties
        specialty = Specialty.objects.filter(name__iexact=name).first() or Specialty.objects.create(
            name=name, parent=parent if is_sub else None
        )
        if not is_sub:
            parent = parent or specialty
        BoardCertification.objects.create(
            reviewer=reviewer, specialty=specialty, board="As published", certified_on=dt.date(1990, 1, 1)
        )
    return reviewer


class _Catalogue:
    """The guideline catalogue, read once per letter, growing with what the letters cite and it lacks."""

    def __init__(self):
        self.guidelines = {g.citation_name: g for g in Guideline.objects.all()}

    def resolve(self, cited: published.PublishedCitation, layout: str) -> tuple[Guideline, str]:
        """(guideline, sections) of a printed citation; a guideline not in the catalogue is added."""
        names = [n for n, g in self.guidelines.items() if g.is_mtus == cited.mtus]
        if cited.mtus and layout == "2016":
            name, sections = cited.text, cited.sections
        elif cited.mtus:  # 2014: "MTUS Chronic Pain Treatment Guidelines Physical Medicine"
            name, sections = published.split_known_name(cited.text, names, separator=" ")
        elif layout == "2014":
            name, sections = cited.text, cited.sections
        else:
            name, sections = published.split_known_name(cited.text, names)
        if name not in self.guidelines:
            source = Guideline.Source.MTUS if cited.mtus else _source_of(name)
            self.guidelines[name] = Guideline.objects.create(
                source=source, title=name, edition="as published", citation_name=name
            )
        return self.guidelines[name], sections


def _source_of(name: str) -> str:
    if "ODG" in name or "Official Disability" in name:
        return Guideline.Source.ODG
    if "ACOEM" in name:
        return Guideline.Source.ACOEM
    return Guideline.Source.OTHER_GUIDELINE
