"""The rules of assignment (DESIGN.md section 5): who may review a case, and in which order.

One function, `eligibility_problems`, decides; the assignment page, the assignment service
and the admin all go through it, so no path can give a case to a conflicted, unlicensed,
uncertified or overloaded reviewer. Reads are batched: ranking every reviewer for a case
costs a fixed number of queries whatever the number of reviewers.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from .models import (
    US_STATES,
    Affiliation,
    BoardCertification,
    Case,
    CaseExclusion,
    License,
    Reviewer,
    normalize_name,
)


@dataclass(frozen=True)
class CaseFacts:
    """What the rules need to know about a case, loaded once."""

    items: list[tuple[int, str, str, set[int]]]  # (position, request text, category, accepted specialty ids)
    organizations: dict[int, str]  # party organisation id -> its role on the case
    provider_ids: set[int]
    employee_name: str
    employee_birth_date: dt.date | None
    remanded_reviewer_id: int | None
    current_reviewer_id: int | None
    excluded_reviewer_ids: set[int]
    provider_specialty_ids: set[int]


@dataclass
class Candidate:
    reviewer: Reviewer
    problems: list[str]
    exact_specialty: bool
    california: bool  # holds a valid California licence: ranked first among equals
    load: int
    free_from: dt.date | None = None  # due date of the reviewer's next case: when they free up
    specialties: list[str] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return not self.problems


def case_facts(case: Case) -> CaseFacts:
    """Load the parties, item categories, remand and exclusions of `case` (4 queries)."""
    items = [
        (item.position, item.request_text, item.category.name, {s.pk for s in item.category.accepted_specialties.all()})
        for item in case.items.select_related("category").prefetch_related("category__accepted_specialties")
    ]
    organizations = {
        org_id: role
        for org_id, role in (
            (case.employer_id, "the employer"),
            (case.claims_administrator_id, "the claims administrator"),
            (case.ur_organization_id, "the utilization review organisation"),
            (case.employee_attorney_id, "the employee's attorney"),
            (case.requesting_provider.group_id, "the requesting provider's group"),
        )
        if org_id
    }
    specialty = case.requesting_provider.specialty
    return CaseFacts(
        items=items,
        organizations=organizations,
        provider_ids={case.requesting_provider_id},
        employee_name=normalize_name(case.employee_name),
        employee_birth_date=case.employee_birth_date,
        remanded_reviewer_id=case.remand_of.reviewer_id if case.remand_of_id else None,
        current_reviewer_id=case.reviewer_id,
        excluded_reviewer_ids=set(CaseExclusion.objects.filter(case=case).values_list("reviewer_id", flat=True)),
        provider_specialty_ids={specialty.pk, specialty.parent_id} - {None} if specialty else set(),
    )


def reviewers_for_ranking(reviewer_ids=None):
    """Active reviewers with their valid credentials, affiliations and open load (4 queries: the reviewers with
    their load read per reviewer from an index, never by joining every case they ever had; then licences,
    certifications, affiliations)."""
    queryset = Reviewer.objects.filter(active=True)
    if reviewer_ids is not None:
        queryset = Reviewer.objects.filter(pk__in=reviewer_ids)
    return (
        queryset.select_related("user")
        .prefetch_related(
            Prefetch("licenses", queryset=License.objects.order_by("state")),
            Prefetch(
                "certifications",
                queryset=BoardCertification.objects.select_related("specialty__parent"),
            ),
            Prefetch("affiliations", queryset=Affiliation.objects.all()),
        )
        .with_open_load()
        .order_by("user__last_name", "user__first_name")
    )


def valid_licenses(reviewer: Reviewer, today: dt.date) -> list[License]:
    """The reviewer's active, unexpired US state licences (any state qualifies unless a program requires CA)."""
    return [
        lic
        for lic in reviewer.licenses.all()
        if lic.status == License.Status.ACTIVE and lic.expires_on >= today and lic.state in US_STATES
    ]


def eligibility_problems(facts: CaseFacts, reviewer: Reviewer, today: dt.date) -> list[str]:
    """Every reason `reviewer` may not review the case; empty when eligible.

    `reviewer` must come from reviewers_for_ranking() (prefetched credentials and load).
    """
    problems = []
    if not reviewer.active:
        problems.append("inactive")

    licenses = list(reviewer.licenses.all())
    valid = valid_licenses(reviewer, today)
    if settings.IMR_REQUIRE_CALIFORNIA_LICENSE:
        licenses, valid = [lic for lic in licenses if lic.state == "CA"], [lic for lic in valid if lic.state == "CA"]
    if not valid:
        if not licenses:
            problems.append("no California licence" if settings.IMR_REQUIRE_CALIFORNIA_LICENSE else "no licence")
        else:  # say what is wrong with the licence that lapsed last
            lic = max(licenses, key=lambda lic: lic.expires_on)
            if lic.status != License.Status.ACTIVE:
                problems.append(f"{US_STATES.get(lic.state, lic.state)} licence {lic.get_status_display().lower()}")
            else:
                problems.append(f"licence expired on {lic.expires_on:%m/%d/%Y}")

    certified = set()
    for cert in reviewer.certifications.all():
        if cert.expires_on is None or cert.expires_on >= today:
            certified.add(cert.specialty_id)
            if cert.specialty.parent_id:
                certified.add(cert.specialty.parent_id)  # a subspecialist also holds the specialty
    # One reason for all the items (a case can have fifteen), naming their categories: what an admin maps.
    if uncovered := [(n, text, category) for n, text, category, accepted in facts.items if not accepted & certified]:
        categories = ", ".join(dict.fromkeys(category for _, _, category in uncovered))
        if len(uncovered) == 1:
            n, text, _ = uncovered[0]
            problems.append(f"no accepted specialty for item {n} “{_short(text)}” ({categories})")
        else:
            problems.append(f"no accepted specialty for items {_ranges([n for n, _, _ in uncovered])} ({categories})")

    for affiliation in reviewer.affiliations.all():
        if affiliation.organization_id in facts.organizations:
            problems.append(f"affiliated with {facts.organizations[affiliation.organization_id]}")
        elif affiliation.provider_id in facts.provider_ids:
            problems.append("affiliated with the requesting provider")
        elif affiliation.employee_name and normalize_name(affiliation.employee_name) == facts.employee_name:
            born = affiliation.employee_birth_date
            if born is None or facts.employee_birth_date is None or born == facts.employee_birth_date:
                problems.append(f"declared tie to the employee ({affiliation.get_kind_display().lower()})")

    if reviewer.pk == facts.current_reviewer_id:
        problems.append("holds this case now")
    if reviewer.pk == facts.remanded_reviewer_id:
        problems.append("reviewed the remanded case")
    if reviewer.pk in facts.excluded_reviewer_ids:
        problems.append("excluded from this case earlier")
    if reviewer.at_capacity:
        problems.append(f"at capacity ({reviewer.open_load} of {reviewer.capacity} open cases)")
    return problems


def rank_reviewers(case: Case) -> tuple[list[Candidate], list[Candidate]]:
    """The eligible reviewers in order (exact specialty, California licence, lowest load, earliest free), and the
    others with reasons."""
    today = timezone.localdate()
    facts = case_facts(case)
    candidates = []
    for reviewer in reviewers_for_ranking():
        specialty_ids = set()
        for cert in reviewer.certifications.all():
            specialty_ids |= {cert.specialty_id, cert.specialty.parent_id} - {None}
        candidates.append(
            Candidate(
                reviewer=reviewer,
                problems=eligibility_problems(facts, reviewer, today),
                exact_specialty=bool(specialty_ids & facts.provider_specialty_ids),
                california=any(lic.state == "CA" for lic in valid_licenses(reviewer, today)),
                load=reviewer.open_load,
                free_from=reviewer.next_due,
                specialties=[c.specialty.name for c in reviewer.certifications.all()],
            )
        )
    eligible = sorted(
        (c for c in candidates if c.eligible),
        key=lambda c: (not c.exact_specialty, not c.california, c.load, c.free_from or dt.date.min),
    )
    excluded = [c for c in candidates if not c.eligible]
    return eligible, excluded


def problems_for(case: Case, reviewer: Reviewer) -> list[str]:
    """The rules applied to one reviewer: what the service and the admin call before assigning."""
    today = timezone.localdate()
    loaded = reviewers_for_ranking(reviewer_ids=[reviewer.pk]).get()
    return eligibility_problems(case_facts(case), loaded, today)


def _ranges(numbers: list[int]) -> str:
    """ "1–4, 7" for [1, 2, 3, 4, 7]: consecutive item numbers as a range."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{run[0]}–{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
