"""The coordinator's case list: filters, search, sorting, pagination, columns, access and query budget."""

import datetime as dt
import re
from unittest import mock

import pytest

from reviews.models import Case, Organization
from tests.factories import (
    CaseFactory,
    DisputedItemFactory,
    OrganizationFactory,
    ReviewerFactory,
    TreatmentCategoryFactory,
)
from tests.test_dashboard import DAY, TODAY, case_at, freeze_clock

S, P = Case.Status, Case.Priority


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    """Every test here runs on Wednesday 10/14/2026 at 10:00 in California (see test_dashboard)."""
    freeze_clock(monkeypatch)


def listed(client, query=""):
    """The case numbers on the page for `query`, in order."""
    response = client.get(f"/cases/{query}")
    assert response.status_code == 200, response.content[:2000]
    return [case.case_number for case in response.context["page"]]


@pytest.fixture
def as_coordinator(client, coordinator):
    client.force_login(coordinator)
    return client


def test_the_list_shows_open_cases_expedited_first_then_by_due_date_without_due_date_last(as_coordinator):
    no_due = case_at(S.RECEIVED)
    later = case_at(S.IN_REVIEW, due=TODAY + 9 * DAY)
    sooner = case_at(S.ASSIGNED, due=TODAY + 2 * DAY)
    expedited_later = case_at(S.IN_REVIEW, priority=P.EXPEDITED, due=TODAY + 3 * DAY)
    expedited_no_due = case_at(S.RECEIVED, priority=P.EXPEDITED)
    case_at(S.ISSUED, due=TODAY - 30 * DAY, decision_date=TODAY - 31 * DAY)
    case_at(S.WITHDRAWN)

    assert listed(as_coordinator) == [
        expedited_later.case_number,
        expedited_no_due.case_number,
        sooner.case_number,
        later.case_number,
        no_due.case_number,
    ]


def test_the_columns_link_the_case_and_show_parties_reviewer_items_and_time_left(as_coordinator):
    ca = OrganizationFactory(kind=Organization.Kind.CLAIMS_ADMINISTRATOR, name="Pacific Claims Management")
    reviewer = ReviewerFactory(user__first_name="Grace", user__last_name="Hopper")
    case = case_at(
        S.IN_REVIEW,
        priority=P.EXPEDITED,
        due=TODAY - 2 * DAY,
        reviewer=reviewer,
        claims_administrator=ca,
        employee_name="Jane Listed",
    )
    for position in (1, 2, 3):
        DisputedItemFactory(case=case, position=position)

    response = as_coordinator.get("/cases/")
    html = response.content.decode()

    assert response.context["page"][0].item_count == 3
    assert f'<a href="/cases/{case.case_number}/">{case.case_number}</a>' in html
    assert "Pacific Claims Management" in html
    assert "Grace Hopper" in html
    assert "Jane Listed" in html
    assert "Expedited" in html
    assert re.search(r'class="text-nowrap text-danger">10/12/2026</span>\s*<span class="[^"]*text-danger', html)
    assert "2 days overdue" in html


def test_the_priority_reads_the_same_in_the_list_and_on_the_case_page(as_coordinator):
    formulary = case_at(S.RECEIVED, priority=P.FORMULARY)
    standard = case_at(S.RECEIVED, priority=P.STANDARD)
    badge = '<span class="badge text-bg-info fw-normal">Formulary</span>'

    listed_html = as_coordinator.get("/cases/").content.decode()
    assert badge in listed_html
    assert '<span class="badge text-bg-light border fw-normal">Standard</span>' in listed_html  # a column: every row
    assert badge in as_coordinator.get(f"/cases/{formulary.case_number}/").content.decode()
    # A case's own page marks only the exceptions.
    assert "Standard</span>" not in as_coordinator.get(f"/cases/{standard.case_number}/").content.decode()


def test_a_decided_case_shows_when_it_was_decided_rather_than_overdue(as_coordinator):
    case_at(S.APPROVED, due=TODAY - 20 * DAY, decision_date=TODAY - 22 * DAY)
    html = as_coordinator.get("/cases/").content.decode()
    assert "decided 09/22/2026" in html
    assert "days overdue" not in html


def test_a_case_closed_without_a_decision_shows_its_due_date_without_a_clock(as_coordinator):
    case_at(S.WITHDRAWN, due=TODAY - 20 * DAY)
    html = as_coordinator.get("/cases/?status=all").content.decode()
    assert '<span class="text-nowrap">09/24/2026</span></td>' in html  # neither red nor counting
    assert "overdue</span>" not in html


def test_a_case_without_items_counts_zero(as_coordinator):
    case_at(S.RECEIVED)
    assert as_coordinator.get("/cases/").context["page"][0].item_count == 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=in_review", ["in_review"]),
        ("?status=closed", ["issued", "withdrawn"]),
        ("?status=all", ["received", "in_review", "issued", "withdrawn"]),
        ("", ["received", "in_review"]),
    ],
)
def test_the_status_filter_picks_one_status_the_closed_ones_or_all(as_coordinator, query, expected):
    by_status = {
        "received": case_at(S.RECEIVED),
        "in_review": case_at(S.IN_REVIEW, due=TODAY + 5 * DAY),
        "issued": case_at(S.ISSUED, due=TODAY - 5 * DAY, decision_date=TODAY - 6 * DAY),
        "withdrawn": case_at(S.WITHDRAWN),
    }
    assert sorted(listed(as_coordinator, query)) == sorted(by_status[s].case_number for s in expected)


def test_the_priority_filter_keeps_one_priority(as_coordinator):
    formulary = case_at(S.RECEIVED, priority=P.FORMULARY)
    case_at(S.RECEIVED, priority=P.STANDARD)
    case_at(S.RECEIVED, priority=P.EXPEDITED)
    assert listed(as_coordinator, "?priority=formulary") == [formulary.case_number]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("overdue", ["yesterday"]),
        ("today", ["today"]),
        ("soon", ["today", "monday"]),  # today to the third business day (Monday 10/19)
        ("week", ["today", "monday", "in_7_days"]),
        ("none", ["no_due"]),
    ],
)
def test_the_due_window_filter(as_coordinator, window, expected):
    cases = {
        "yesterday": case_at(S.IN_REVIEW, due=TODAY - DAY),
        "today": case_at(S.IN_REVIEW, due=TODAY),
        "monday": case_at(S.IN_REVIEW, due=dt.date(2026, 10, 19)),
        "in_7_days": case_at(S.IN_REVIEW, due=TODAY + 7 * DAY),
        "later": case_at(S.IN_REVIEW, due=TODAY + 8 * DAY),
        "no_due": case_at(S.RECEIVED),
    }
    # Closed or decided cases are never overdue nor due.
    case_at(S.ISSUED, due=TODAY - DAY, decision_date=TODAY - 2 * DAY)
    case_at(S.APPROVED, due=TODAY, decision_date=TODAY)
    assert sorted(listed(as_coordinator, f"?due={window}")) == sorted(cases[k].case_number for k in expected)


def test_the_category_filter_lists_a_case_once_whatever_its_items_in_the_category(as_coordinator):
    injection = TreatmentCategoryFactory(name="Injection")
    surgery = TreatmentCategoryFactory(name="Surgery")
    two_injections = case_at(S.RECEIVED)
    DisputedItemFactory(case=two_injections, category=injection, position=1)
    DisputedItemFactory(case=two_injections, category=injection, position=2)
    mixed = case_at(S.RECEIVED)
    DisputedItemFactory(case=mixed, category=surgery, position=1)
    DisputedItemFactory(case=mixed, category=injection, position=2)
    DisputedItemFactory(case=case_at(S.RECEIVED), category=surgery, position=1)

    response = as_coordinator.get(f"/cases/?category={injection.pk}")

    assert sorted(c.case_number for c in response.context["page"]) == sorted(
        [two_injections.case_number, mixed.case_number]
    )
    assert response.context["page"].paginator.count == 2
    # The count column still counts every item of the case.
    assert {c.case_number: c.item_count for c in response.context["page"]}[mixed.case_number] == 2


def test_the_reviewer_filter_keeps_that_reviewers_cases(as_coordinator, reviewer, other_reviewer):
    mine = case_at(S.IN_REVIEW, reviewer=reviewer, due=TODAY + DAY)
    case_at(S.IN_REVIEW, reviewer=other_reviewer, due=TODAY + DAY)
    case_at(S.RECEIVED)
    assert listed(as_coordinator, f"?reviewer={reviewer.pk}") == [mine.case_number]


def test_the_organisation_filter_matches_the_employer_or_the_claims_administrator_by_name(as_coordinator):
    grocers = OrganizationFactory(kind=Organization.Kind.EMPLOYER, name="Acme Grocers, Inc.")
    claims = OrganizationFactory(kind=Organization.Kind.CLAIMS_ADMINISTRATOR, name="Acme Claims Services")
    lawyers = OrganizationFactory(kind=Organization.Kind.LAW_FIRM, name="Acme Law Group")
    as_employer = case_at(S.RECEIVED, employer=grocers)
    as_administrator = case_at(S.RECEIVED, claims_administrator=claims)
    case_at(S.RECEIVED, employee_attorney=lawyers)  # an attorney is not an organisation this filter looks at
    case_at(S.RECEIVED)

    assert listed(as_coordinator, "?organization=ACME+grocers") == [as_employer.case_number]
    assert listed(as_coordinator, "?organization=acme+claims") == [as_administrator.case_number]
    assert sorted(listed(as_coordinator, "?organization=Acme,")) == sorted(
        [as_employer.case_number, as_administrator.case_number]
    )
    # Only punctuation or legal suffixes: nothing to match on, so no filter.
    assert len(listed(as_coordinator, "?organization=Inc.")) == 4


@pytest.mark.parametrize(
    ("q", "who"),
    [
        ("CM26-0099", "jane"),  # part of the case number
        ("clm-777", "jane"),  # the claim number, any case
        ("rivera", "jane"),  # the employee's name
        ("jane rivera", "jane"),
        ("rivera jane", "jane"),  # every word, in any field, in any order
        ("jane 0099", "jane"),
        ("nobody", None),
    ],
)
def test_search_finds_a_case_by_case_number_claim_number_or_employee_name(as_coordinator, q, who):
    jane = CaseFactory(case_number="CM26-0099001", claim_number="CLM-777-A", employee_name="Jane Rivera")
    CaseFactory(case_number="CM26-0012345", claim_number="CLM-123", employee_name="John Smith")
    expected = [jane.case_number] if who else []
    assert listed(as_coordinator, f"?q={q.replace(' ', '+')}") == expected


def test_filters_combine(as_coordinator, reviewer):
    match = case_at(S.IN_REVIEW, priority=P.EXPEDITED, reviewer=reviewer, due=TODAY + DAY, employee_name="Ann Lee")
    case_at(S.IN_REVIEW, priority=P.STANDARD, reviewer=reviewer, due=TODAY + DAY, employee_name="Ann Lee")
    case_at(S.IN_REVIEW, priority=P.EXPEDITED, due=TODAY + DAY, employee_name="Ann Lee")
    assert listed(as_coordinator, f"?priority=expedited&reviewer={reviewer.pk}&due=soon&q=lee") == [match.case_number]


def test_sorting_by_due_date_either_way_keeps_cases_without_a_due_date_last(as_coordinator):
    expedited = case_at(S.IN_REVIEW, priority=P.EXPEDITED, due=TODAY + 5 * DAY)
    early = case_at(S.IN_REVIEW, due=TODAY + DAY)
    late = case_at(S.IN_REVIEW, due=TODAY + 9 * DAY)
    none = case_at(S.RECEIVED)

    assert listed(as_coordinator, "?sort=due") == [c.case_number for c in (early, expedited, late, none)]
    assert listed(as_coordinator, "?sort=-due") == [c.case_number for c in (late, expedited, early, none)]


def test_the_due_date_header_flips_the_sort_and_keeps_the_filters(as_coordinator):
    html = as_coordinator.get("/cases/?priority=standard&sort=due&page=2").content.decode()
    assert 'href="?priority=standard&amp;sort=-due"' in html
    html = as_coordinator.get("/cases/?priority=standard").content.decode()
    assert 'href="?priority=standard&amp;sort=due"' in html
    html = as_coordinator.get("/cases/?priority=standard&sort=-due").content.decode()
    assert 'href="?priority=standard"' in html  # back to expedited first
    assert '<input type="hidden" name="sort" value="-due"' in html  # filtering keeps the order


def test_the_list_shows_fifty_cases_a_page_and_the_page_links_keep_the_filters(as_coordinator):
    cases = [case_at(S.IN_REVIEW, due=TODAY + (n % 20) * DAY) for n in range(60)]
    expected = [c.case_number for c in sorted(cases, key=lambda c: (c.decision_due_date, c.case_number))]

    first = as_coordinator.get("/cases/?status=in_review")
    second = as_coordinator.get("/cases/?status=in_review&page=2")
    beyond = as_coordinator.get("/cases/?status=in_review&page=99")

    assert [c.case_number for c in first.context["page"]] == expected[:50]
    assert [c.case_number for c in second.context["page"]] == expected[50:]
    assert beyond.context["page"].number == 2  # a page past the end shows the last one
    assert 'href="?status=in_review&amp;page=2"' in first.content.decode()
    assert "60 cases" in first.content.decode()


def test_a_filter_value_not_on_offer_is_refused_in_place(as_coordinator):
    case_at(S.RECEIVED)
    response = as_coordinator.get("/cases/?status=lost&reviewer=999999")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice. lost is not one of the available choices." in html
    assert "Select a valid choice. That choice is not one of the available choices." in html


def _many_cases(n):
    """n open cases, each with its own parties, reviewer and two items."""
    category = TreatmentCategoryFactory(name="Rehabilitation")
    for i in range(n):
        case = case_at(
            S.IN_REVIEW if i % 2 else S.READY_FOR_ASSIGNMENT,
            priority=P.EXPEDITED if i % 5 == 0 else P.STANDARD,
            due=TODAY + ((i % 11) - 3) * DAY,
        )
        DisputedItemFactory(case=case, category=category, position=1)
        DisputedItemFactory(case=case, category=category, position=2)


@pytest.mark.parametrize("cases", [5, 60])
def test_the_case_list_costs_the_same_eight_queries_with_5_or_60_cases(
    as_coordinator, django_assert_num_queries, cases
):
    _many_cases(cases)
    # 1 session, 2 user, 3 the user's groups (role), 4 count for the paginator, 5 the page of
    # cases with claims administrator, reviewer and item count, 6-7 the choices of the category
    # and reviewer filters, 8 the audit entry naming the cases shown.
    with django_assert_num_queries(8):
        response = as_coordinator.get("/cases/")
    assert len(response.context["page"]) == min(cases, 50)


def test_the_due_soon_filter_adds_only_the_holiday_query(as_coordinator, django_assert_num_queries):
    _many_cases(5)
    with django_assert_num_queries(9):
        # Every case matches, so the page query runs (an empty result skips it).
        response = as_coordinator.get("/cases/?due=soon&q=cm98&organization=organization")
    assert response.context["page"].paginator.count > 0


def test_anonymous_users_are_sent_to_log_in(client, db):
    response = client.get("/cases/?status=all")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/cases/%3Fstatus%3Dall"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_case_list_only_answers_get(as_coordinator, method):
    assert getattr(as_coordinator, method)("/cases/").status_code == 405


def test_past_its_limit_the_list_says_there_are_more_and_pages_only_that_far(as_coordinator):
    _many_cases(4)

    with mock.patch("reviews.views.cases.CASE_LIST_LIMIT", 3), mock.patch("reviews.views.cases.CASES_PER_PAGE", 2):
        response = as_coordinator.get("/cases/?page=9")

    assert "More than 3 cases: the first 3 are listed; narrow the filters or search for the rest" in (
        response.content.decode()
    )
    assert response.context["page"].number == 2  # the last page offered, however far the link asked
    assert len(response.context["page"]) == 1


def test_a_search_counts_to_a_lower_limit_and_asks_for_another_word(as_coordinator):
    _many_cases(4)

    with (
        mock.patch("reviews.views.cases.CASE_LIST_LIMIT", 3),
        mock.patch("reviews.views.cases.SEARCH_LIMIT", 2),
        mock.patch("reviews.views.cases.CASES_PER_PAGE", 2),
    ):
        listed_all = as_coordinator.get("/cases/").content.decode()
        searched = as_coordinator.get("/cases/?q=cm")  # every case number

    assert "More than 3 cases: the first 3 are listed" in listed_all
    assert "More than 2 cases: the first 2 are listed; add a word or a filter to find the rest" in (
        searched.content.decode()
    )
    assert len(searched.context["page"]) == 2
