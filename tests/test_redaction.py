"""The public copy's removals: names as names, never as words; numbers and addresses; the published examples."""

import re
from collections import Counter
from pathlib import Path

import pytest

from reviews import letters, redaction
from reviews.management.commands.seed_demo import PUBLISHED_EXAMPLES
from tests.factories import CaseFactory, DisputedItemFactory, OrganizationFactory, ProviderFactory, ReviewerFactory

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _case(*, employee="Teresa Young", provider="Dr. Sam Shoulder", summary="", request="", rationale="", **fields):
    fields.setdefault("requesting_provider", ProviderFactory(name=provider))
    case = CaseFactory(employee_name=employee, clinical_case_summary=summary, reviewer=ReviewerFactory(), **fields)
    DisputedItemFactory(case=case, position=1, request_text=request or "Physical therapy", decision="upheld")
    if rationale:
        case.items.update(rationale=rationale)
    return letters.letter_queryset().get(pk=case.pk)


def _public(case, layout="2016"):
    return letters.letter_context(case=case, layout=layout, public=True)


def _removed(case, text):
    return [s.text for s in redaction.redactor_for(case).spans(text) if s.removed]


# Names that are also words.


def test_a_provider_named_shoulder_leaves_every_shoulder_of_the_letter_in_place(db):
    case = _case(
        provider="Dr. Sam Shoulder",
        summary="The patient has right shoulder pain. Dr. Shoulder requested surgery; Sam Shoulder, MD saw her.",
        request="Right shoulder arthroscopy with rotator cuff repair, right",
        rationale="The MTUS Shoulder Complaints chapter supports shoulder surgery after 3 months.",
    )

    public = _public(case)
    text = letters.render_letter(case=case, fmt="text", layout="2016", public=True)

    assert public["summary"] == "The patient has right shoulder pain.  requested surgery;  saw her."
    [item] = public["items"]
    assert item.lead == "Right shoulder arthroscopy with rotator cuff repair, right:"
    assert item.rationale == "The MTUS Shoulder Complaints chapter supports shoulder surgery after 3 months."
    assert "Right shoulder arthroscopy with rotator cuff repair, right: Upheld" in text
    assert "Sam" not in text and "Dr. Shoulder" not in text


@pytest.mark.parametrize(
    ("employee", "word", "named"),
    [
        ("Teresa Young", "young", "Ms. Young"),
        ("Peter Hand", "hand", "Mr. Hand"),
        ("Anna Rose", "rose", "Anna Rose"),
        ("Jack Black", "black", "Mr. Black"),
        ("Lena Walker", "walker", "L. Walker"),
        ("Donna May", "may", "Donna May"),
        ("Kim Shoulder", "shoulder", "Shoulder, Kim"),
    ],
)
def test_an_employee_named_with_a_word_loses_the_name_and_keeps_the_word(db, employee, word, named):
    summary = (
        f"{named} is a 40-year-old with {word} findings. The {word} finding was noted twice: {word} again. "
        f"{named}'s report followed."
    )
    case = _case(employee=employee, provider="Dr. Nadia Okonkwo", summary=summary)

    public = _public(case)["summary"]

    tail = " report followed."
    assert public == f" is a 40-year-old with {word} findings. The {word} finding was noted twice: {word} again. {tail}"
    assert Counter(re.findall(rf"\b{word}\b", public)) == Counter({word: 3})


@pytest.mark.parametrize(
    "text",
    [
        "Young patients recover faster.",  # a sentence's first word
        "Decision based on Non-MTUS Citation Official Disability Guidelines (ODG), Shoulder Chapter.",
        "ACOEM, Forearm, Wrist, and Hand Complaints.",
        "She was seen on May 5, 2016 and again in May.",
        "Walker use was advised; Black box warning reviewed; Rose Bengal stain.",
    ],
)
def test_a_name_that_is_also_a_word_alone_is_kept_and_shown_as_a_possible_mention(db, text):
    case = _case(employee="Donna May Rose", provider="Dr. Sam Shoulder")
    case.employee_name = "Walker Black Young"  # first names and surnames that are all words
    hand = _case(employee="Rose Walker", provider="Dr. Peter Hand")

    for c in (case, hand):
        spans = redaction.redactor_for(c).spans(text)
        assert redaction.apply(text, spans) == text
        assert all(s.state == redaction.POSSIBLE for s in spans)


def test_a_name_that_is_no_word_is_removed_wherever_it_is_capitalised(db):
    case = _case(employee="Teresa Nguyen", provider="Dr. Linda Okafor")

    assert _removed(case, "Nguyen reported pain. Okafor noted it. Teresa agreed. nguyen") == [
        "Nguyen",
        "Okafor",
        "Teresa",
    ]


def test_every_way_of_writing_a_persons_name_is_removed(db):
    case = _case(employee="Mary Ann Young", provider="Linda K. Marsh, MD")
    text = (
        "Mary Ann Young; Mary Young; Mary A. Young; M. Young; Ms. Young's claim; Young, Mary; M.A.Y.; "
        "Dr. Marsh; Linda Marsh; Linda K. Marsh, M.D.; L. Marsh; Marsh, MD; MARY YOUNG."
    )

    assert redaction.redactor_for(case).apply(text) == "; ; ; ;  claim; ; ; ; ; ; ; ; ."


def test_initials_that_are_an_abbreviation_too_are_only_a_possible_mention(db):
    case = _case(employee="Anna Marie", provider="Dr. Peter Moss")  # A.M., as in "8 A.M."

    spans = redaction.redactor_for(case).spans("Seen at 8 A.M. by P.M.")

    assert [(s.text, s.state) for s in spans] == [("A.M.", redaction.POSSIBLE), ("P.M.", redaction.POSSIBLE)]


def test_a_short_surname_in_capitals_is_read_as_the_abbreviation(db):
    case = _case(employee="Kevin Ng")

    assert _removed(case, "An NG tube was placed; Mr. Ng agreed, as Ng said.") == ["Mr. Ng", "Ng"]


def test_a_number_in_a_name_field_is_no_name(db):
    case = _case(provider="Dr. Provider 12")

    assert _removed(case, "12 sessions, then Dr. Provider reviewed them.") == ["Dr. Provider"]


def test_a_lower_case_word_is_never_removed_whatever_the_names(db):
    case = _case(employee="young hand", provider="dr. rose walker")

    assert _removed(case, "young hand, rose and walker") == []


# Organisations, numbers, addresses.


def test_the_employer_attorney_and_provider_group_are_removed_with_and_without_their_legal_suffix(db):
    group = OrganizationFactory(kind="provider_group", name="Sacramento Spine and Rehab Medical Group")
    case = _case(
        employer=OrganizationFactory(name="Golden State Grocers, Inc."),
        employee_attorney=OrganizationFactory(kind="law_firm", name="Reyes & Partners, Attorneys at Law"),
        requesting_provider=ProviderFactory(name="Dr. Daniel Cho", group=group),
    )
    text = (
        "She stocked shelves at Golden State Grocers, Inc. (Golden State Grocers warehouse), represented by "
        "Reyes & Partners, Attorneys at Law, treated at Sacramento Spine and Rehab Medical Group; golden state."
    )

    assert redaction.redactor_for(case).apply(text) == (
        "She stocked shelves at  ( warehouse), represented by , treated at ; golden state."
    )


def test_an_employer_whose_name_is_a_word_the_case_uses_stays_when_it_is_the_word(db):
    text = "Target Corporation employs her. Target heart rate was reached; target dose."
    case = _case(employer=OrganizationFactory(name="Target Corporation"), summary=text)

    spans = redaction.redactor_for(case).spans(text)
    assert [(s.text, s.state) for s in spans] == [("Target Corporation", "removed"), ("Target", "possible")]


def test_claim_adj_and_npi_numbers_are_removed_however_they_are_spaced(db):
    case = _case(claim_number="CLM-2016-004417", adj_number="ADJ1234567")
    case.requesting_provider.npi = "1609876543"

    text = "Claim CLM-2016-004417 (clm 2016 004417), case ADJ 1234567, NPI 1609876543; 12 sessions, 2016."

    assert redaction.redactor_for(case).apply(text) == "Claim  (), case , NPI ; 12 sessions, 2016."


def test_the_date_of_birth_and_the_parties_addresses_are_removed(db):
    import datetime as dt

    employer = OrganizationFactory(name="Acme Widgets", address="1200 J Street\nSacramento, CA 95814")
    case = _case(employer=employer, employee_birth_date=dt.date(1957, 3, 15))

    text = "Born 03/15/1957 (3/15/1957). Works at 1200 J Street, Sacramento, CA 95814; the J Street site. 02/21/2007."

    assert redaction.redactor_for(case).apply(text) == "Born  (). Works at ; the J Street site. 02/21/2007."


def test_any_name_after_a_title_is_removed_even_of_a_physician_not_on_file(db):
    case = _case()

    assert redaction.redactor_for(case).apply("The QME, Dr. Alan Brightwater, and Dr. Ruiz agreed.") == (
        "The QME, , and  agreed."
    )


def test_an_imported_determination_was_published_redacted_already_and_loses_nothing_more(db):
    case = _case(employee="Teresa Young", imported_from="CM16-0230651.txt")

    assert redaction.redactor_for(case).apply("Ms. Young, Dr. Shoulder and Dr. Ruiz.") == (
        "Ms. Young, Dr. Shoulder and Dr. Ruiz."
    )


# The coordinator's choices.


def test_a_kept_proposal_stays_everywhere_with_nothing_inside_it_removed(db):
    case = _case(employee="Teresa Young", provider="Dr. Sam Shoulder")
    patterns = redaction.case_patterns(case)

    text = "Dr. Sam Shoulder saw Ms. Young. Dr. Sam Shoulder agreed."

    assert redaction.Redactor(patterns, kept=["Dr. Sam Shoulder"]).apply(text) == (
        "Dr. Sam Shoulder saw . Dr. Sam Shoulder agreed."
    )


def test_an_added_removal_takes_the_text_exactly_as_typed(db):
    case = _case()
    patterns = redaction.case_patterns(case)

    text = "Valley Imaging read the MRI; valley imaging is a word pair; Young patients heal."

    assert redaction.Redactor(patterns, added=["Valley Imaging", "Young"]).apply(text) == (
        " read the MRI; valley imaging is a word pair;  patients heal."
    )


# The published examples.


def test_the_seeds_wording_leaves_the_published_double_space(db):
    case = _case(
        employee="Jane Demo-Example",
        provider="Dr. Linda Marsh",
        summary="The listed diagnoses per Dr. Linda Marsh are: 1. Lumbar disk displacement.",
    )

    assert _public(case, "2014")["summary"] == "The listed diagnoses per  are: 1. Lumbar disk displacement."


def _published_summaries():
    paths = [FIXTURES / "final-determination-example.txt", *sorted(PUBLISHED_EXAMPLES.glob("*.txt"))]
    assert len(paths) > 12, "the published examples moved"
    for path in paths:
        text = path.read_text()
        summary = text.split("including all medical records:", 1)[1].split("IMR ISSUES, DECISIONS AND RATIONALES")[0]
        yield pytest.param(" ".join(summary.split()), id=path.stem)


@pytest.mark.parametrize("summary", _published_summaries())
def test_the_public_copy_of_a_published_example_keeps_every_clinical_word_of_its_summary(db, summary):
    """The parties are named with the summary's own words (its capitalised ones first, "Chronic pain syndrome",
    then its commonest): only the sentence naming them loses anything."""
    lower = Counter(re.findall(r"\b[a-z]{4,}\b", summary))
    capitalised = [w for w in re.findall(r"\b[A-Z][a-z]{3,}\b", summary) if w.lower() in lower]
    names = list(dict.fromkeys([*capitalised, *(w.title() for w, _ in lower.most_common(6))]))[:6]
    employee, provider, employer = (
        f"{names[0]} {names[1]}",
        f"Dr. {names[2]} {names[3]}",
        f"{names[4]} {names[5]}, Inc.",
    )
    case = _case(
        employee=employee,
        provider=provider,
        employer=OrganizationFactory(name=employer),
        summary=f"{summary} Seen by {provider} for {employee} of {employer}",
    )

    assert _public(case)["summary"] == f"{summary} Seen by  for  of "
