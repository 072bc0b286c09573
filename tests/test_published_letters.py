"""Every published determination, entered as a coordinator and a reviewer would, comes out as published.

Each letter of reviews/fixtures/published (copies of shared/examples/letters) is read with
reviews.published, then entered through the services the pages use: intake with the items and
the claims administrator's citations, eligibility, records, assignment, the reviewer's summary,
decisions, citations and rationales, submission and approval. Its public copy in the 2016
layout, under the example's organisation name, must match the published text section by
section (difflib ratio at least 0.99 after collapsing whitespace), every decision line
identical. Set IMR_PUBLISHED_LETTERS to a folder of further published letters (.txt from
`pdftotext -layout`) to run the same check on them.
"""

import datetime as dt
import difflib
import os
from pathlib import Path

import pytest
from django.utils import timezone

from reviews import letters, published, services
from reviews.management.commands.seed_demo import GUIDELINES, PUBLISHED_EXAMPLES
from reviews.models import US_STATES, Case, Guideline, Specialty
from tests.factories import (
    BoardCertificationFactory,
    LicenseFactory,
    OrganizationFactory,
    ProviderFactory,
    ReviewerFactory,
    TreatmentCategoryFactory,
    UserFactory,
    confirm_public_copy,
)

FOLDERS = [PUBLISHED_EXAMPLES]
if extra := os.environ.get("IMR_PUBLISHED_LETTERS"):
    FOLDERS.append(Path(extra))
LETTERS = sorted(path for folder in FOLDERS for path in folder.glob("*.txt"))
# Sections our letter has and the published public copies leave out.
OURS_ONLY = ("DOCUMENTS REVIEWED", "APPEAL RIGHTS")
STATE_CODES = {name: code for code, name in US_STATES.items()}


def section(text: str, heading: str) -> str:
    """The text under `heading` up to the next heading of either letter, whitespace collapsed."""
    start = text.index(heading) + len(heading)
    ends = [text.find(h, start) for h in (*published.HEADINGS, *OURS_ONLY)]
    return published.collapse(text[start : min([e for e in ends if e >= 0] or [len(text)])])


def _catalogue() -> None:
    for source, title, edition, citation_name in GUIDELINES:
        Guideline.objects.get_or_create(
            title=title, edition=edition, defaults={"source": source, "citation_name": citation_name}
        )


def _guideline(citation: published.PublishedCitation) -> tuple[Guideline, str]:
    """The catalogue's guideline for a printed citation, added as an admin would when missing; and its sections."""
    if citation.mtus:
        name, sections = citation.text, citation.sections
        source = Guideline.Source.MTUS
    else:
        names = list(Guideline.objects.exclude(source=Guideline.Source.MTUS).values_list("citation_name", flat=True))
        name, sections = published.split_known_name(citation.text, names)
        source = (
            Guideline.Source.ODG if "ODG" in name or "Official Disability" in name else Guideline.Source.OTHER_GUIDELINE
        )
    guideline = Guideline.objects.filter(citation_name=name).first() or Guideline.objects.create(
        source=source, title=name, edition="as published", citation_name=name
    )
    return guideline, sections


def _citations(line: published.GuidelineLine) -> list[services.CitationInput]:
    found = []
    for citation in line.citations:
        guideline, sections = _guideline(citation)
        found.append(services.CitationInput(guideline=guideline, sections=sections, pages=citation.pages))
    return found


def enter(letter: published.PublishedLetter, coordinator) -> Case:
    """The published case, entered through the services from intake to approval."""
    decided = letter.date("decision_date")
    reviewer = ReviewerFactory(user=UserFactory(username="examplereviewer"), practice_start_year=2000, weekly_hours=24)
    for state in letter.states:
        expires = max(decided, timezone.localdate()) + dt.timedelta(days=365)
        LicenseFactory(reviewer=reviewer, state=STATE_CODES[state], expires_on=expires)
    specialties = [Specialty.objects.get_or_create(name=name)[0] for name in letter.certifications]
    for specialty in specialties:
        BoardCertificationFactory(reviewer=reviewer, specialty=specialty)
    category = TreatmentCategoryFactory(name="Rehabilitation")
    category.accepted_specialties.add(*specialties)
    _catalogue()

    items = []
    for item in letter.items:
        items.append(
            {
                "request_text": item.request,
                "category": category,
                "ur_action": "modified" if item.authorized_part else "denied",
                "authorized_part": item.authorized_part,
                "eligible_scope": item.eligible_scope,
                "remaining_part": item.remaining_part,
                "ca_cited_no_evidence": item.ca.no_evidence,
                "ca_citations": _citations(item.ca),
            }
        )
    case = services.case_create(
        by=coordinator,
        diagnoses=[{"icd10_code": "M54.5", "description": "Low back pain"}],
        items=items,
        priority=letter.header["priority"].lower(),
        employee_name="Quorra Zyxwvut",
        claim_number="PUB-0001",
        date_of_injury=letter.date("date_of_injury"),
        ur_decision_date=letter.date("ur_denial_date"),
        application_received_date=letter.date("application_received"),
        employer=OrganizationFactory(name="Xanthe Holdings"),
        claims_administrator=OrganizationFactory(name="Yarrow Claims", kind="claims_administrator"),
        requesting_provider=ProviderFactory(name="Dr. Wendeline Qarth"),
    )
    case = services.case_confirm_eligibility(case=case, by=coordinator, eligible=True)
    case = services.case_request_records(case=case, by=coordinator)
    case = services.case_complete_records(case=case, by=coordinator)
    case = services.case_assign_reviewer(case=case, reviewer=reviewer, by=coordinator)
    case = services.case_accept(case=case, by=reviewer.user, attested=True)
    services.case_summary_save(case=case, by=reviewer.user, text=letter.summary, version=0)
    for row, item in zip(case.items.order_by("position"), letter.items, strict=True):
        services.item_review_save(
            item=row,
            by=reviewer.user,
            version=row.version,
            decision=item.decision,
            ca_cited_no_evidence=item.ca.no_evidence,
            ca_citations=_citations(item.ca),
            review_citations=_citations(item.review),
            review_cited_no_evidence=item.review.no_evidence,
            rationale=item.rationale,
            internal_note="",
        )
    services.case_submit(case=case, by=reviewer.user)
    confirm_public_copy(case, by=coordinator)  # the proposals as they stand, as quality review confirms them
    services.case_approve(case=case, by=coordinator)
    # The published letter's own number and dates, where the services gave today's.
    Case.objects.filter(pk=case.pk).update(
        case_number=letter.header["case_number"],
        date_assigned=letter.date("date_assigned"),
        decision_date=decided,
    )
    return letters.letter_queryset().get(pk=case.pk)


@pytest.mark.parametrize("path", LETTERS, ids=[p.stem for p in LETTERS])
def test_the_public_copy_of_a_published_determination_entered_through_the_services_reads_as_published(
    path, coordinator, settings
):
    source = path.read_text()
    letter = published.parse(source)
    settings.IMR_ORGANIZATION_NAME = letter.organization_name
    settings.IMR_ORGANIZATION_SHORT_NAME = letter.organization_short_name
    case = enter(letter, coordinator)

    ours = letters.render_letter(case=case, fmt="text", layout="2016", public=True)
    assert published.parse(ours).header == letter.header
    for heading in published.HEADINGS:
        ratio = difflib.SequenceMatcher(None, section(ours, heading), section(source, heading), autojunk=False).ratio()
        assert ratio >= 0.99, (
            f"{heading}: {ratio:.4f}\nours:      {section(ours, heading)}\npublished: {section(source, heading)}"
        )
    assert [i.decision_line for i in published.parse(ours).items] == [i.decision_line for i in letter.items]


def test_the_examples_include_modified_requests_and_items_citing_no_evidence():
    # The check above covers both published forms only while the fixtures hold such letters.
    items = [item for path in LETTERS for item in published.parse(path.read_text()).items]
    assert any(item.eligible_scope == "remaining" for item in items)
    assert any(item.review.no_evidence for item in items) and any(item.ca.no_evidence for item in items)


# Every sentence the application writes itself, as the published letters word it.
FIXED_SENTENCES = [
    "sent the complete case file to an expert reviewer.",
    "He/she has no affiliation with the employer, employee, providers or the claims administrator.",
    "He/she has been in active clinical practice for more than five years and is currently working at least 24 hours"
    " a week in active practice.",
    "The expert reviewer was selected based on his/her clinical experience, education, background, and expertise in"
    " the same or similar specialties that evaluate and/or treat the medical condition and disputed items/Service.",
    "He/she is familiar with governing laws and regulations, including the strength of evidence hierarchy that applies"
    " to Independent Medical Review determinations.",
    "The Expert Reviewer has the following credentials: State(s) of Licensure:",
    "The expert reviewer developed the following clinical case summary based on a review of the case file, including"
    " all medical records:",
    "The Final Determination was based on decisions for the disputed items/services set forth below:",
    "Claims Administrator guideline: The Claims Administrator did not cite any medical evidence for its decision.",
    "guideline: The Expert Reviewer did not cite any medical evidence for its decision.",
    "guideline: The Expert Reviewer based their decision on recommendation(s) outside of the MTUS Guidelines.",
    "Claims Administrator guideline: The Claims Administrator based their decision on recommendation(s) outside of"
    " the MTUS Guidelines.",
    "was the original request.",
    "was authorized by the Claims Administrator. The remaining IMR eligible portion of the original request,",
    "Decision based on Non-MTUS Citation",
    ", Section(s):",
    "Decision rationale:",
]


@pytest.mark.parametrize("sentence", FIXED_SENTENCES)
def test_a_fixed_sentence_of_the_published_letters_is_written_word_for_word(sentence, coordinator, settings):
    path = next(p for p in LETTERS if sentence in published.collapse(p.read_text()))
    letter = published.parse(path.read_text())
    settings.IMR_ORGANIZATION_NAME = letter.organization_name
    settings.IMR_ORGANIZATION_SHORT_NAME = letter.organization_short_name
    ours = letters.render_letter(case=enter(letter, coordinator), fmt="text", layout="2016", public=True)
    assert sentence in published.collapse(ours)
