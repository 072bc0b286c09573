"""The precedent library: search by words and filters, the overturn statistics, public copies, the workspace panel."""

import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse

from reviews import models
from reviews.models import Case, Citation, DisputedItem, Guideline
from reviews.precedents import chart, item_words, ranked_rows
from tests.factories import (
    BoardCertificationFactory,
    CaseFactory,
    CitationFactory,
    DisputedItemFactory,
    GuidelineFactory,
    SpecialtyFactory,
    TreatmentCategoryFactory,
    UserFactory,
)

S = Case.Status
SEARCH = reverse("reviews:precedent_search")
CHART = reverse("reviews:precedent_chart")


@pytest.fixture
def odg(db):
    return GuidelineFactory(
        source=Guideline.Source.ODG,
        title="ODG (Official Disability Guidelines)",
        edition="",
        citation_name="ODG (Official Disability Guidelines)",
    )


def decided(
    request_text,
    rationale="",
    *,
    reviewer,
    decision="upheld",
    category="Therapies",
    subcategory=None,
    guideline=None,
    status=S.ISSUED,
    on=dt.date(2026, 6, 1),
    **case_fields,
):
    """An item decided in a case at `status` (issued unless said), citing `guideline` or stating no evidence."""
    parent = TreatmentCategoryFactory(name=category)
    case = CaseFactory(
        status=status,  # made at its stage, as the importer makes historical cases
        reviewer=reviewer,
        decision_date=on if status == S.ISSUED else None,
        **case_fields,
    )
    item = DisputedItemFactory(
        case=case,
        position=1,
        request_text=request_text,
        rationale=rationale or f"The records do not support {request_text}.",
        decision=decision,
        category=parent,
        subcategory=TreatmentCategoryFactory(name=subcategory, parent=parent) if subcategory else None,
        review_cited_no_evidence=guideline is None,
    )
    if guideline is not None:
        CitationFactory(item=item, guideline=guideline, sections="Acupuncture", pages="8, 9")
    return item


def found(**filters) -> list[str]:
    return list(DisputedItem.objects.precedents(**filters).order_by("pk").values_list("request_text", flat=True))


# The search.


def test_the_search_finds_decided_items_of_issued_cases_by_words_of_the_request_or_the_rationale(reviewer):
    decided("Acupuncture 6 sessions", "Chronic radiculopathy without improvement.", reviewer=reviewer)
    decided("Physical therapy 8 sessions", "Radiculopathy persists after therapy.", reviewer=reviewer)
    decided("Acupuncture 12 sessions", reviewer=reviewer, status=S.IN_REVIEW)  # not issued
    undecided = decided("Acupuncture 4 sessions", reviewer=reviewer)
    DisputedItem.objects.filter(pk=undecided.pk).update(decision="")

    assert found(words="acupuncture") == ["Acupuncture 6 sessions"]
    assert found(words="radiculopathy") == ["Acupuncture 6 sessions", "Physical therapy 8 sessions"]
    assert found(words="radiculopathy acupuncture") == ["Acupuncture 6 sessions"]
    assert len(found()) == 2


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram similarity needs PostgreSQL (pg_trgm)")
@pytest.mark.parametrize("misspelt", ["tramodol", "Tramadoll", "tramadal"])
def test_a_misspelled_drug_name_finds_its_precedents_by_trigram_similarity(reviewer, misspelt):
    decided("Tramadol ER 150 mg #30", reviewer=reviewer)
    decided("Trazodone 50 mg #30", reviewer=reviewer)
    decided("Physical therapy 8 sessions", reviewer=reviewer)

    assert found(words=misspelt) == ["Tramadol ER 150 mg #30"]


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search vector is kept by a PostgreSQL trigger")
def test_the_search_vector_follows_the_texts_whatever_writes_them(reviewer):
    item = decided("Lumbar MRI", "No red flags.", reviewer=reviewer)
    assert found(words="myelopathy") == []

    DisputedItem.objects.filter(pk=item.pk).update(rationale="Signs of myelopathy on examination.")  # no save()
    assert found(words="myelopathy") == ["Lumbar MRI"]

    item.refresh_from_db()
    item.rationale = "No red flags."
    item.save()  # the stale vector the instance carries is not what is stored
    assert found(words="myelopathy") == []


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the publication date is kept by PostgreSQL triggers")
def test_an_item_joins_the_library_when_its_case_is_issued_and_a_stale_instance_cannot_take_it_out(reviewer):
    item = decided("Lumbar MRI", reviewer=reviewer, status=S.APPROVED)
    stale = DisputedItem.objects.get(pk=item.pk)
    assert found() == [] and stale.published_on is None

    Case.objects.filter(pk=item.case_id).update(status=S.ISSUED, decision_date=dt.date(2026, 7, 1))
    assert found() == ["Lumbar MRI"]
    assert found(decided_from=dt.date(2026, 7, 1), decided_to=dt.date(2026, 7, 1)) == ["Lumbar MRI"]

    stale.body_part = "Lumbar spine"
    stale.save()  # carries published_on=None from before the issue
    assert DisputedItem.objects.get(pk=item.pk).published_on == dt.date(2026, 7, 1)

    Case.objects.filter(pk=item.case_id).update(decision_date=dt.date(2026, 7, 2))
    assert DisputedItem.objects.values_list("published_on", flat=True).get(pk=item.pk) == dt.date(2026, 7, 2)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="ranking needs PostgreSQL")
def test_a_match_in_the_request_ranks_above_a_match_in_the_rationale_and_excerpts_are_highlighted(reviewer):
    decided("Physical therapy 8 sessions", "Aquatic therapy was tried before; gabapentin helped.", reviewer=reviewer)
    decided("Gabapentin 600 mg #90", "Neuropathic pain documented.", reviewer=reviewer)

    rows, _ = ranked_rows(DisputedItem.objects.precedents(words="gabapentin"), words="gabapentin", start=0, stop=20)

    assert [r.request_text for r in rows] == ["Gabapentin 600 mg #90", "Physical therapy 8 sessions"]
    assert "\u27e6gabapentin\u27e7 helped" in rows[1].headline


def test_a_search_ranks_its_most_recent_matches_when_the_newest_decisions_hold_enough_else_all(
    client, reviewer, monkeypatch
):
    """Ranking reads every ranked match: a common phrase or word ranks its most recent matches, not 200,000;
    one whose matches are not among the newest decisions is rare enough to be ranked in full."""
    monkeypatch.setattr(models, "RANKED_AT_MOST", 3)
    monkeypatch.setattr(models, "RECENT_SPAN", 2)  # the newest 6 decisions for 3 matches
    for day in range(1, 26):
        decided(f"Physical therapy {day} sessions", reviewer=reviewer, on=dt.date(2026, 1, day))
    for day in range(1, 11):
        decided(f"Acupuncture {day} sessions", reviewer=reviewer, on=dt.date(2025, 3, day))

    rows, found = ranked_rows(
        DisputedItem.objects.precedents(words="physical therapy"), words="physical therapy", start=0, stop=20
    )
    assert found == 3 and sorted(r.request_text for r in rows) == [
        f"Physical therapy {d} sessions" for d in (23, 24, 25)
    ]
    _, found = ranked_rows(DisputedItem.objects.precedents(words="acupuncture"), words="acupuncture", start=0, stop=20)
    assert found == 10

    client.force_login(reviewer.user)
    for words in ("physical therapy", "therapy"):
        page = client.get(SEARCH, {"q": words}).content.decode()
        assert "3+ found: the 3 most recent are ranked; add words or filters to rank them all" in page
    rare = client.get(SEARCH, {"q": "acupuncture"}).content.decode()
    assert "10 found" in rare and "most recent are ranked" not in rare
    monkeypatch.setattr(models, "CHARTED_AT_MOST", 5)
    assert "of the 5 most recent items" in client.get(CHART, {"q": "therapy"}).content.decode()
    assert "of 10 items" in client.get(CHART, {"q": "acupuncture"}).content.decode()
    past_the_end = client.get(SEARCH, {"q": "physical therapy", "page": "2"})  # 25 match, 3 are ranked
    assert len(past_the_end.context["rows"]) == 3  # the last page of the ranked ones


def test_the_chart_writes_its_counts_with_thousands_separators():
    shares = {"category": [{"label": "Therapies", "n": 1000, "overturned": 250}], "guideline": [], "specialty": []}
    page = render_to_string("reviews/includes/_precedent_stats.html", {"chart": chart(shares), "recent_only": True})
    assert "of the 1,000 most recent items (250 overturned)" in " ".join(page.split())
    shares["category"][0].update(n=12500, overturned=5000)
    page = render_to_string("reviews/includes/_precedent_stats.html", {"chart": chart(shares), "recent_only": False})
    assert "of 12,500 items (5,000 overturned)" in " ".join(page.split())


def test_filters_alone_rank_and_chart_their_most_recent_matches(client, reviewer, monkeypatch):
    """A category alone matches a share of the whole library, which grows with every decision issued."""
    monkeypatch.setattr(models, "RANKED_AT_MOST", 3)
    monkeypatch.setattr(models, "CHARTED_AT_MOST", 4)
    for day in range(1, 7):
        decided(f"Physical therapy {day} sessions", reviewer=reviewer, on=dt.date(2026, 1, day))
    category = DisputedItem.objects.values_list("category_id", flat=True).first()
    client.force_login(reviewer.user)

    response = client.get(SEARCH, {"category": category})
    assert [r.item.request_text for r in response.context["rows"]] == [
        f"Physical therapy {d} sessions" for d in (6, 5, 4)
    ]
    assert "3+ found: the 3 most recent are ranked" in response.content.decode()
    assert "of the 4 most recent items" in client.get(CHART, {"category": category}).content.decode()
    monkeypatch.setattr(models, "RANKED_AT_MOST", 10)
    monkeypatch.setattr(models, "CHARTED_AT_MOST", 10)
    assert "6 found" in client.get(SEARCH, {"category": category}).content.decode()
    assert "of 6 items" in client.get(CHART, {"category": category}).content.decode()


NORCO, ACUPUNCTURE, LYRICA = "Norco 10/325 mg #90", "Acupuncture 6 sessions", "Lyrica 75 mg"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("category", [NORCO, LYRICA]),
        ("subcategory", [NORCO]),
        ("decision", [NORCO]),
        ("guideline", [NORCO]),
        ("specialty", [NORCO]),
        ("subspecialty", [NORCO]),
        ("decided_from", [NORCO]),
        ("decided_to", [ACUPUNCTURE]),
    ],
)
def test_each_filter_keeps_only_the_precedents_it_names(reviewer, other_reviewer, odg, filters, expected):
    spine = SpecialtyFactory(name="Interventional Spine", parent=SpecialtyFactory(name="Anesthesiology"))
    BoardCertificationFactory(reviewer=reviewer, specialty=spine, board="ABA")
    BoardCertificationFactory(reviewer=other_reviewer, specialty=SpecialtyFactory(name="Pain Medicine"), board="ABA")
    norco = decided(
        NORCO,
        reviewer=reviewer,
        decision="overturned",
        category="Pharmaceuticals",
        subcategory="Opioids",
        guideline=odg,
        on=dt.date(2026, 3, 10),
    )
    decided(ACUPUNCTURE, reviewer=other_reviewer, on=dt.date(2025, 3, 10))
    decided(
        LYRICA,
        reviewer=other_reviewer,
        category="Pharmaceuticals",
        subcategory="Anticonvulsants",
        on=dt.date(2025, 12, 31),
    )
    name, value = {
        "category": ("category", norco.category),
        "subcategory": ("subcategory", norco.subcategory),
        "decision": ("decision", "overturned"),
        "guideline": ("guideline", odg),
        "specialty": ("specialty", spine.parent),  # bob is certified in a subspecialty of it
        "subspecialty": ("specialty", spine),
        "decided_from": ("decided_from", dt.date(2026, 1, 1)),
        "decided_to": ("decided_to", dt.date(2025, 6, 1)),
    }[filters]

    assert sorted(found(**{name: value})) == sorted(expected)


def test_a_guideline_only_the_claims_administrator_cited_does_not_count(reviewer, odg):
    item = decided("Acupuncture 6 sessions", reviewer=reviewer)
    CitationFactory(item=item, guideline=odg, role=Citation.Role.CLAIMS_ADMINISTRATOR)
    assert found(guideline=odg) == []


def test_the_statistics_count_the_share_overturned_by_category_guideline_and_specialty(reviewer, other_reviewer, odg):
    mtus = GuidelineFactory()
    BoardCertificationFactory(reviewer=other_reviewer, specialty=SpecialtyFactory(name="Pain Medicine"), board="ABA")
    decided("PT 1", reviewer=reviewer, decision="overturned", guideline=mtus)
    decided("PT 2", reviewer=reviewer, decision="upheld", guideline=mtus)
    decided("PT 3", reviewer=other_reviewer, decision="overturned", guideline=odg)
    decided("Norco", reviewer=other_reviewer, decision="upheld", category="Pharmaceuticals")
    both = decided("Lyrica", reviewer=reviewer, decision="overturned", category="Pharmaceuticals", guideline=mtus)
    CitationFactory(item=both, guideline=odg, position=2)
    decided("PT 4", reviewer=reviewer, decision="overturned", status=S.APPROVED)  # not issued: not counted

    shares = DisputedItem.objects.precedents().overturned_shares()

    def rows(name):
        return [(r["label"], r["n"], r["overturned"]) for r in shares[name]]

    assert rows("category") == [("Therapies", 3, 2), ("Pharmaceuticals", 2, 1)]
    assert rows("guideline") == [
        ("MTUS Chronic Pain Treatment Guidelines", 3, 2),
        ("ODG (Official Disability Guidelines)", 2, 2),
    ]
    assert rows("specialty") == [("Physical Medicine and Rehabilitation", 5, 3), ("Pain Medicine", 2, 1)]


def test_a_page_of_results_costs_seven_queries_and_the_statistics_five_however_many_precedents(
    reviewer, odg, django_assert_num_queries
):
    for n in range(25):
        decided(f"Acupuncture {n} sessions", reviewer=reviewer, guideline=odg)
    items = DisputedItem.objects.precedents(words="acupuncture")
    # Whether the newest decisions hold enough matches: the date they start from (1) and the walk (1); the
    # ranked ids with the number found (1); their rows with categories (1); their cases with the parties (1);
    # the review's citations (1); their cases' items, which the public copy's redaction reads (1).
    with django_assert_num_queries(7):
        rows, found = ranked_rows(items, words="acupuncture", start=20, stop=40)
        assert [len(r.review_citations) for r in rows] == [1] * 5 and found == 25
    # The newest decisions' date and the walk (as above); one GROUP BY each: categories, guidelines, specialties.
    with django_assert_num_queries(5):
        items.charted(words="acupuncture").overturned_shares()


@pytest.mark.parametrize(
    ("request_text", "words"),
    [
        ("Norco 10/325 mg #90", "Norco"),
        ("Physical therapy 2x6 weeks lumbar spine", "Physical therapy"),
        ("Right knee arthroscopy with partial meniscectomy", "knee arthroscopy"),
        ("Lumbar epidural steroid injection L5-S1", "Lumbar epidural steroid"),
        ("Acupuncture, 6 sessions", "Acupuncture"),
    ],
)
def test_the_words_of_an_item_name_its_treatment(request_text, words):
    assert item_words(DisputedItem(request_text=request_text)) == words


# The search page.


def test_the_search_page_lists_request_decision_citation_and_excerpt_as_published(client, coordinator, reviewer, odg):
    decided(
        "Acupuncture 6 sessions for Maria Garcia",
        "Ms. Garcia reports <b>relief</b> after acupuncture; ODG supports a trial.",
        reviewer=reviewer,
        decision="overturned",
        guideline=odg,
        employee_name="Maria Garcia",
    )
    client.force_login(coordinator)

    response = client.get(SEARCH, {"q": "acupuncture"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Garcia" not in page  # the public copy's redaction, for every reader
    assert "Acupuncture 6 sessions for" in page and "Overturned" in page
    assert "Decision based on Non-MTUS Citation ODG (Official Disability Guidelines), Acupuncture, pg. 8, 9." in page
    assert "<b>relief" not in page  # escaped (SQLite's excerpt) or left out as markup (PostgreSQL's headline)
    assert "&lt;b&gt;relief&lt;/b&gt;" in page or connection.vendor == "postgresql"
    assert "<mark>acupuncture</mark>" in page.lower()
    assert "Share overturned" in page and "<svg" in client.get(CHART, {"q": "acupuncture"}).content.decode()


def test_coordinators_open_the_case_and_reviewers_the_public_copy(client, coordinator, reviewer, other_reviewer):
    item = decided("Acupuncture 6 sessions", reviewer=other_reviewer)
    number = item.case.case_number

    client.force_login(coordinator)
    assert reverse("reviews:case_detail", args=[number]) in client.get(SEARCH).content.decode()

    client.force_login(reviewer.user)
    page = client.get(SEARCH).content.decode()
    assert reverse("reviews:precedent_public_copy", args=[number]) in page
    assert reverse("reviews:case_detail", args=[number]) not in page


def test_the_search_page_shows_the_numbers_beside_the_chart(client, coordinator, reviewer):
    decided("PT 1", reviewer=reviewer, decision="overturned")
    decided("PT 2", reviewer=reviewer)
    decided("PT 3", reviewer=reviewer)
    decided("Norco", reviewer=reviewer, category="Pharmaceuticals", decision="overturned")
    client.force_login(coordinator)

    therapies = {"category": TreatmentCategoryFactory(name="Therapies").pk}
    page = client.get(SEARCH, therapies).content.decode()
    assert f'hx-get="{CHART}?category={therapies["category"]}"' in page and "Counting…" in page

    page = client.get(CHART, therapies).content.decode()  # once the results are shown
    assert "33 %</span> of 3 items (1 overturned)" in page
    assert '<rect class="imr-bar-fill" x="0" y="0" width="33" height="8"/>' in page
    assert "1/3" in page and "Norco" not in page


@pytest.mark.parametrize(("asked", "shown", "rows"), [("2", 2, 5), ("9", 2, 5), ("x", 1, 20), ("", 1, 20)])
def test_the_search_page_pages_twenty_at_a_time_and_a_page_past_the_end_gives_the_last(
    client, coordinator, reviewer, asked, shown, rows
):
    for i in range(25):
        decided(f"Acupuncture {i} sessions", reviewer=reviewer)
    client.force_login(coordinator)

    response = client.get(SEARCH, {"q": "acupuncture", "page": asked})

    assert response.context["page"].number == shown
    assert len(response.context["rows"]) == rows
    assert "25 found" in response.content.decode() and f"page {shown} of 2" in response.content.decode()


def test_with_nothing_asked_the_page_lists_the_newest_decisions_without_counting_or_charting_the_library(
    client, reviewer, django_assert_num_queries
):
    for day in range(1, 26):
        decided(f"Acupuncture {day} sessions", reviewer=reviewer, on=dt.date(2026, 1, day))
    client.force_login(reviewer.user)
    # Session, user, groups, reviewer (4); the newest ids (1), their rows (1), cases (1), citations (1)
    # and cases' items (1); the filter's choices (4); the audit entry naming the cases shown (1). No count,
    # no chart.
    with django_assert_num_queries(14):
        response = client.get(SEARCH)

    page = response.content.decode()
    newest = [row.request for row in response.context["rows"]][:2]
    assert newest == ["Acupuncture 25 sessions", "Acupuncture 24 sessions"]
    assert len(response.context["rows"]) == 20 and "the newest 20" in page
    assert "<svg" not in page and "Search by words or choose a filter" in page


def test_the_search_page_sends_anonymous_users_to_log_in_and_refuses_users_without_a_role(client, db):
    response = client.get(SEARCH)
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    client.force_login(UserFactory(username="nobody"))
    assert client.get(SEARCH).status_code == 403


def test_the_search_page_only_answers_get(client, coordinator):
    client.force_login(coordinator)
    assert client.post(SEARCH).status_code == 405


def test_a_filter_value_not_on_offer_answers_400_and_says_why(client, coordinator):
    client.force_login(coordinator)
    response = client.get(SEARCH, {"decision": "maybe", "decided_from": "yesterday"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.parametrize("n", [3, 30])
def test_the_search_page_costs_the_same_queries_with_3_or_30_precedents(
    client, reviewer, odg, django_assert_num_queries, n
):
    for i in range(n):
        decided(f"Acupuncture {i} sessions", reviewer=reviewer, guideline=odg, subcategory="Acupuncture")
    client.force_login(reviewer.user)
    # Session, user, groups, reviewer (4); the newest decisions' date and the walk (2); the ranked ids with
    # the number found (1), their rows (1), cases (1), citations (1) and cases' items (1); the filter's
    # choices: categories, subcategories, guidelines, specialties (4); the audit entry naming the cases shown (1).
    with django_assert_num_queries(16):
        response = client.get(SEARCH, {"q": "acupuncture"})
    assert response.status_code == 200
    # Session, user, groups, reviewer (4); the newest decisions' date and the walk (2); the chart's three groups (3).
    with django_assert_num_queries(9):
        assert client.get(CHART, {"q": "acupuncture"}).status_code == 200


# The public copy.


def test_a_reviewer_reads_another_reviewers_issued_determination_as_its_public_copy_and_the_read_is_logged(
    client, reviewer, other_reviewer
):
    item = decided("Acupuncture 6 sessions", "Mr. Okafor improved.", reviewer=other_reviewer)
    case = item.case
    Case.objects.filter(pk=case.pk).update(employee_name="John Okafor", clinical_case_summary="John Okafor, 50.")
    client.force_login(reviewer.user)

    response = client.get(reverse("reviews:precedent_public_copy", args=[case.case_number]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Okafor" not in page and "improved." in page and case.claim_number not in page
    assert other_reviewer.user.first_name not in page  # Charlie wrote it; the letter states qualifications only
    # Reads of cases only: signing in is an access entry of its own (on the user).
    entry = LogEntry.objects.get_for_object(case).get(action=LogEntry.Action.ACCESS, actor=reviewer.user)
    assert entry.additional_data == {"page": "public copy"}


@pytest.mark.parametrize("status", [S.IN_REVIEW, S.APPROVED, S.WITHDRAWN])
def test_a_determination_not_issued_has_no_public_copy_even_for_its_own_reviewer(client, reviewer, coordinator, status):
    item = decided("Acupuncture 6 sessions", reviewer=reviewer, status=status)
    url = reverse("reviews:precedent_public_copy", args=[item.case.case_number])
    for user in (reviewer.user, coordinator):
        client.force_login(user)
        assert client.get(url).status_code == 404
    assert not LogEntry.objects.get_for_object(item.case).filter(action=LogEntry.Action.ACCESS).exists()


def test_the_public_copy_refuses_anonymous_users_users_without_a_role_and_other_methods(client, reviewer):
    url = reverse("reviews:precedent_public_copy", args=[decided("PT", reviewer=reviewer).case.case_number])
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    client.force_login(UserFactory(username="nobody"))
    assert client.get(url).status_code == 403
    client.force_login(reviewer.user)
    assert client.post(url).status_code == 405


def test_the_public_copy_costs_a_fixed_number_of_queries(client, reviewer, django_assert_num_queries):
    url = reverse("reviews:precedent_public_copy", args=[decided("PT", reviewer=reviewer).case.case_number])
    client.force_login(reviewer.user)
    # Session, user, groups, reviewer (4); the case with its parties (1); certifications, their
    # specialties, licences, items, citations, documents (6); the audit entry (1); the issued layout (1).
    with django_assert_num_queries(13):
        assert client.get(url).status_code == 200


# The workspace panel.


@pytest.fixture
def in_review(reviewer):
    """Bob's accepted case with two items: physical therapy (Therapies) and Norco (Pharmaceuticals)."""
    case = CaseFactory(status=S.ACCEPTED, reviewer=reviewer)
    DisputedItemFactory(case=case, position=1, request_text="Physical therapy 2x6 weeks lumbar spine")
    DisputedItemFactory(
        case=case,
        position=2,
        request_text="Norco 10/325 mg #90",
        category=TreatmentCategoryFactory(name="Pharmaceuticals"),
    )
    return case


def panel_url(case, **params):
    return reverse("reviews:case_precedents", args=[case.case_number]), params


def test_the_workspace_loads_the_panel_for_the_first_item(client, reviewer, in_review):
    client.force_login(reviewer.user)
    page = client.get(reverse("reviews:case_workspace", args=[in_review.case_number])).content.decode()
    assert f'hx-get="{reverse("reviews:case_precedents", args=[in_review.case_number])}?item=1"' in page


def test_the_panel_searches_with_the_items_treatment_words_and_category(client, reviewer, other_reviewer, in_review):
    decided("Norco 10/325 mg #60", reviewer=other_reviewer, category="Pharmaceuticals", decision="overturned")
    decided("Norco 5/325 mg #30", reviewer=other_reviewer, category="Therapies")  # another category
    decided("Physical therapy 8 sessions", reviewer=other_reviewer)
    client.force_login(reviewer.user)

    url, params = panel_url(in_review, item=2)
    response = client.get(url, params, headers={"HX-Request": "true", "HX-Target": "precedent-panel"})

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="q" value="Norco"' in page and "Norco 10/325 mg #60" in page
    assert "Norco 5/325" not in page and "Physical therapy 8" not in page
    assert "1 found" in page and f"{SEARCH}?q=Norco&amp;category=" in page
    assert 'target="_blank"' in page  # opens beside the workspace


def test_the_panels_own_form_replaces_only_the_results(client, reviewer, other_reviewer, in_review):
    decided("Physical therapy 8 sessions", reviewer=other_reviewer, decision="overturned")
    decided("Physical therapy 12 sessions", reviewer=other_reviewer)
    client.force_login(reviewer.user)

    url, params = panel_url(in_review, item=1, q="physical therapy", category="", decision="overturned")
    response = client.get(url, params, headers={"HX-Request": "true", "HX-Target": "precedent-results"})

    page = response.content.decode()
    assert page.lstrip().startswith('<div id="precedent-results">') and "<form" not in page
    assert "Physical therapy 8 sessions" in page and "12 sessions" not in page


def test_the_panel_is_only_for_the_cases_own_reviewer(client, reviewer, other_reviewer, coordinator, in_review):
    url, params = panel_url(in_review, item=1)
    response = client.get(url, params)
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    for outsider in (other_reviewer.user, coordinator):
        client.force_login(outsider)
        assert client.get(url, params).status_code == 404
    client.force_login(reviewer.user)
    assert client.get(url, {"item": 9}).status_code == 404
    assert client.post(url, params).status_code == 405


@pytest.mark.parametrize("n", [2, 20])
def test_the_panel_costs_the_same_queries_with_2_or_20_precedents(
    client, reviewer, other_reviewer, in_review, django_assert_num_queries, n
):
    for i in range(n):
        decided(f"Physical therapy {i} sessions", reviewer=other_reviewer)
    client.force_login(reviewer.user)
    url, params = panel_url(in_review, item=1)
    # Session, user, groups, reviewer (4); the case (1) and its items (1); the category asked for (1);
    # the newest decisions' date and the walk (2); the ranked ids with the number found (1), their rows (1),
    # cases (1), citations (1) and cases' items (1); the category choices (1); the audit entry naming the
    # cases shown (1).
    with django_assert_num_queries(16):
        assert client.get(url, params).status_code == 200


def test_the_panel_says_when_more_match_than_were_ranked(client, reviewer, other_reviewer, in_review, monkeypatch):
    monkeypatch.setattr(models, "RANKED_AT_MOST", 6)
    for day in range(1, 9):
        decided(f"Physical therapy {day} sessions", reviewer=other_reviewer, on=dt.date(2026, 1, day))
    client.force_login(reviewer.user)
    url, params = panel_url(in_review, item=1, q="physical therapy", category="", decision="")

    def shown():
        return client.get(
            url, params, headers={"HX-Request": "true", "HX-Target": "precedent-results"}
        ).content.decode()

    assert "5 of 6+ shown" in shown()
    monkeypatch.setattr(models, "RANKED_AT_MOST", 10)
    assert "5 of 8 shown" in shown()
