"""The coordinator's dashboard: counts, the due lists in due order with the time left, waiting lists, reviewer load."""

import datetime as dt
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from reviews.deadlines import time_left
from reviews.models import Case, CaseQuerySet, Holiday, Reviewer
from reviews.views.home import CASES_SHOWN
from tests.factories import CaseFactory, ReviewerFactory

S, P = Case.Status, Case.Priority
CALIFORNIA = ZoneInfo("America/Los_Angeles")
# A Wednesday morning in California, with no holiday in the next week: due soon runs to Monday 10/19.
NOW = dt.datetime(2026, 10, 14, 10, 0, tzinfo=CALIFORNIA)
TODAY = NOW.date()
DAY = dt.timedelta(days=1)


def freeze_clock(monkeypatch):
    """Stop the clock at NOW for the views (and everything else that asks django.utils.timezone)."""
    monkeypatch.setattr(timezone, "now", lambda: NOW.astimezone(dt.UTC))


@pytest.fixture
def frozen_now(monkeypatch):
    freeze_clock(monkeypatch)
    return NOW


def case_at(status=S.RECEIVED, *, priority=P.STANDARD, due=None, reviewer=None, **fields) -> Case:
    """A case already at `status` (a fixture, as seed_demo does): the workflow itself is tested elsewhere."""
    if due is not None:
        fields.setdefault("records_complete_date", dt.date(2026, 10, 8))  # the factory's application date
    if reviewer is None and status in S.HAS_REVIEWER:
        reviewer = ReviewerFactory()
    return CaseFactory(status=status, priority=priority, decision_due_date=due, reviewer=reviewer, **fields)


def get_dashboard(client, user):
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.context["dashboard"]


def numbers(rows):
    return [case.case_number for case in rows["cases"]]


def test_overdue_lists_undecided_open_cases_due_before_today_expedited_first_then_by_due_date(
    client, coordinator, frozen_now
):
    late_standard = case_at(S.IN_REVIEW, due=TODAY - 5 * DAY)
    later_standard = case_at(S.ASSIGNED, due=TODAY - 1 * DAY)
    late_expedited = case_at(S.IN_REVIEW, priority=P.EXPEDITED, due=TODAY - 1 * DAY)
    case_at(S.IN_REVIEW, due=TODAY)  # due today: not overdue until midnight in California
    case_at(S.ISSUED, due=TODAY - 9 * DAY, decision_date=TODAY - 10 * DAY)  # closed
    case_at(S.APPROVED, due=TODAY - 3 * DAY, decision_date=TODAY - 4 * DAY)  # decided, the letter is on its way

    overdue = get_dashboard(client, coordinator)["overdue"]

    assert numbers(overdue) == [late_expedited.case_number, late_standard.case_number, later_standard.case_number]
    assert overdue["total"] == 3
    assert [case.time_left.label for case in overdue["cases"]] == ["1 day overdue", "5 days overdue", "1 day overdue"]
    assert {case.time_left.tone for case in overdue["cases"]} == {"danger"}


def test_due_soon_runs_from_today_to_the_third_business_day_with_hours_for_expedited_cases(
    client, coordinator, frozen_now
):
    expedited_tomorrow = case_at(S.IN_REVIEW, priority=P.EXPEDITED, due=TODAY + DAY)
    expedited_today = case_at(S.ASSIGNED, priority=P.EXPEDITED, due=TODAY)
    standard_today = case_at(S.IN_REVIEW, due=TODAY)
    formulary_friday = case_at(S.READY_FOR_ASSIGNMENT, priority=P.FORMULARY, due=TODAY + 2 * DAY)
    standard_monday = case_at(S.SUBMITTED, due=dt.date(2026, 10, 19))  # the third business day
    case_at(S.IN_REVIEW, due=dt.date(2026, 10, 20))  # the fourth: not yet
    case_at(S.IN_REVIEW, due=TODAY - DAY)  # overdue, listed there

    dashboard = get_dashboard(client, coordinator)
    due_soon = dashboard["due_soon"]

    assert dashboard["soon_until"] == dt.date(2026, 10, 19)
    assert numbers(due_soon) == [
        expedited_today.case_number,
        expedited_tomorrow.case_number,
        standard_today.case_number,
        formulary_friday.case_number,
        standard_monday.case_number,
    ]
    assert [case.time_left.label for case in due_soon["cases"]] == [
        "14 h left",  # 10:00 to midnight
        "38 h left",
        "due today",
        "2 days left",
        "5 days left",
    ]
    assert due_soon["total"] == 5


def test_a_holiday_in_the_window_pushes_due_soon_one_business_day_further(client, coordinator, frozen_now):
    Holiday.objects.get_or_create(date=dt.date(2026, 10, 16), defaults={"name": "Test holiday"})
    tuesday = case_at(S.IN_REVIEW, due=dt.date(2026, 10, 20))

    dashboard = get_dashboard(client, coordinator)

    assert dashboard["soon_until"] == dt.date(2026, 10, 20)
    assert numbers(dashboard["due_soon"]) == [tuesday.case_number]


def test_the_dashboard_counts_cases_by_status_with_the_closed_ones_apart(client, coordinator, frozen_now):
    for status, n in ((S.RECEIVED, 3), (S.AWAITING_RECORDS, 2), (S.IN_REVIEW, 1), (S.ISSUED, 4), (S.WITHDRAWN, 1)):
        for _ in range(n):
            case_at(status)

    dashboard = get_dashboard(client, coordinator)

    open_counts = dict(dashboard["open_counts"])
    assert open_counts[S.RECEIVED] == 3
    assert open_counts[S.AWAITING_RECORDS] == 2
    assert open_counts[S.IN_REVIEW] == 1
    assert open_counts[S.SUBMITTED] == 0
    assert S.ISSUED not in open_counts
    assert dict(dashboard["closed_counts"]) == {S.ISSUED: 4, S.INELIGIBLE: 0, S.WITHDRAWN: 1, S.TERMINATED: 0}


def test_closed_counts_estimated_on_a_large_database_say_about(client, coordinator, frozen_now):
    estimate = ({S.ISSUED: 612_400, S.INELIGIBLE: 20_100, S.WITHDRAWN: 19_800, S.TERMINATED: 20_300}, set(S.CLOSED))
    client.force_login(coordinator)

    with mock.patch.object(CaseQuerySet, "closed_counts", return_value=estimate):
        body = client.get("/").content.decode()

    assert "Closed, about:" in body
    assert "Issued 612,400</a>" in body


def test_closed_counts_are_exact_below_the_estimate_threshold(db):
    for status in (S.ISSUED, S.ISSUED, S.WITHDRAWN):
        case_at(status)

    counts, estimated = Case.objects.closed_counts()

    assert counts == {S.ISSUED: 2, S.WITHDRAWN: 1}
    assert estimated == set()


def test_the_waiting_lists_show_cases_awaiting_records_assignment_and_quality_review(client, coordinator, frozen_now):
    records_later = case_at(S.AWAITING_RECORDS, records_due_date=TODAY + 10 * DAY)
    records_sooner = case_at(S.AWAITING_RECORDS, records_due_date=TODAY + 2 * DAY)
    records_expedited = case_at(S.AWAITING_RECORDS, priority=P.EXPEDITED, records_due_date=TODAY + DAY)
    ready = case_at(S.READY_FOR_ASSIGNMENT, due=TODAY + 20 * DAY)
    ready_expedited = case_at(S.READY_FOR_ASSIGNMENT, priority=P.EXPEDITED, due=TODAY + 3 * DAY)
    submitted = case_at(S.SUBMITTED, due=TODAY + 4 * DAY)
    case_at(S.IN_REVIEW, due=TODAY + 4 * DAY)

    dashboard = get_dashboard(client, coordinator)

    awaiting = dashboard["awaiting_records"]
    assert numbers(awaiting) == [
        records_expedited.case_number,
        records_sooner.case_number,
        records_later.case_number,
    ]
    assert [case.due_on for case in awaiting["cases"]] == [TODAY + DAY, TODAY + 2 * DAY, TODAY + 10 * DAY]
    assert awaiting["cases"][0].time_left.label == "38 h left"
    assert numbers(dashboard["ready_for_assignment"]) == [ready_expedited.case_number, ready.case_number]
    assert numbers(dashboard["submitted"]) == [submitted.case_number]


def test_each_list_is_capped_and_links_to_the_whole_list_in_the_case_list(client, coordinator, frozen_now):
    for n in range(CASES_SHOWN + 5):
        case_at(S.IN_REVIEW, due=TODAY - (n + 1) * DAY)
    client.force_login(coordinator)

    response = client.get("/")

    overdue = response.context["dashboard"]["overdue"]
    assert len(overdue["cases"]) == CASES_SHOWN
    assert overdue["total"] == CASES_SHOWN + 5
    # The oldest first: the cap keeps the most overdue cases.
    assert overdue["cases"][0].decision_due_date == TODAY - (CASES_SHOWN + 5) * DAY
    assert f'href="/cases/?due=overdue">Showing {CASES_SHOWN} · see all {CASES_SHOWN + 5}<' in response.content.decode()


def test_reviewer_load_counts_open_cases_with_the_reviewer_against_capacity(
    client, coordinator, reviewer, other_reviewer, frozen_now
):
    reviewer.capacity = 3
    reviewer.save()
    for status in (S.ASSIGNED, S.ACCEPTED, S.IN_REVIEW, S.RETURNED, S.SUBMITTED):
        case_at(status, reviewer=reviewer, due=TODAY + 10 * DAY)
    for status in (S.APPROVED, S.ISSUED):  # no longer on the reviewer's desk
        case_at(status, reviewer=reviewer, due=TODAY - 10 * DAY, decision_date=TODAY - 11 * DAY)
    case_at(S.IN_REVIEW, reviewer=other_reviewer, due=TODAY + 10 * DAY)
    retired = ReviewerFactory(active=False)

    listed = get_dashboard(client, coordinator)["reviewer_loads"]
    loads = {r.pk: r for r in listed}

    assert retired.pk not in loads
    assert (loads[reviewer.pk].open_load, loads[reviewer.pk].capacity) == (5, 3)
    assert loads[reviewer.pk].at_capacity
    assert (loads[other_reviewer.pk].open_load, loads[other_reviewer.pk].at_capacity) == (1, False)
    assert len(listed) == len(loads)  # one row per reviewer, whatever their number of cases


def test_the_load_panel_reads_every_reviewers_load_in_one_query(reviewer, other_reviewer, django_assert_num_queries):
    reviewer.capacity = 3
    reviewer.save()
    for status in (S.ASSIGNED, S.IN_REVIEW, S.SUBMITTED):
        case_at(status, reviewer=reviewer, due=TODAY + 10 * DAY)
        case_at(status, reviewer=other_reviewer, due=TODAY + 10 * DAY)

    with django_assert_num_queries(1):
        panel = [
            (r.user.username, r.open_load, r.at_capacity, r.load_low, r.load_high)
            for r in Reviewer.objects.for_load_panel()
        ]

    # (open load, at capacity, the meter's green up to, red from): amber above three quarters of capacity.
    assert {row[0]: row[1:] for row in panel} == {
        reviewer.user.username: (3, True, 2, 2),
        other_reviewer.user.username: (3, False, 7, 9),
    }


def test_the_dashboard_page_shows_links_priorities_and_the_time_left(client, coordinator, frozen_now):
    case = case_at(S.IN_REVIEW, priority=P.EXPEDITED, due=TODAY - 2 * DAY, employee_name="Jane Overdue")
    client.force_login(coordinator)

    html = client.get("/").content.decode()

    assert f'href="/cases/{case.case_number}/"' in html
    assert "Jane Overdue" in html
    assert "Expedited" in html
    assert "2 days overdue" in html
    assert 'href="/cases/?status=in_review"' in html
    assert 'href="/cases/">Cases</a>' in html  # the navigation


def _fill_every_list(n: int, reviewers):
    """n cases spread over every dashboard list, each with its own parties and reviewer."""
    statuses = [S.IN_REVIEW, S.AWAITING_RECORDS, S.READY_FOR_ASSIGNMENT, S.SUBMITTED, S.ASSIGNED, S.ISSUED]
    for i in range(n):
        status = statuses[i % len(statuses)]
        due = None if status == S.AWAITING_RECORDS else TODAY + ((i % 9) - 4) * DAY
        case_at(
            status,
            priority=P.EXPEDITED if i % 4 == 0 else P.STANDARD,
            due=due,
            records_due_date=TODAY + DAY if status == S.AWAITING_RECORDS else None,
            reviewer=reviewers[i % len(reviewers)] if status in (S.IN_REVIEW, S.SUBMITTED, S.ASSIGNED) else None,
        )


@pytest.mark.parametrize("cases", [5, 60])
def test_the_dashboard_costs_the_same_fourteen_queries_with_5_or_60_cases(
    client, coordinator, frozen_now, django_assert_num_queries, cases
):
    reviewers = [ReviewerFactory() for _ in range(4)]
    _fill_every_list(cases, reviewers)
    client.force_login(coordinator)
    # 1 session, 2 user, 3 the user's groups (role), 4 holidays of the due-soon window,
    # 5 open cases by status with the overdue and due-soon totals, 6 closed cases by status,
    # 7 overdue, 8 due soon, 9 waiting for records, 10 for assignment, 11 for quality review,
    # 12 reviewer load, 13 letters and notices needing attention, 14 postal copies to mail,
    # 15 the audit entry naming the cases shown; on PostgreSQL the closed counts first read the
    # table's statistics to choose between an estimate and a count.
    with django_assert_num_queries(15 + (connection.vendor == "postgresql")):
        response = client.get("/")
    assert response.status_code == 200
    assert response.context["dashboard"]["overdue"]["total"] > 0


def test_reviewers_get_no_dashboard_but_their_queue(client, reviewer, frozen_now):
    case_at(S.IN_REVIEW, due=TODAY - DAY)
    client.force_login(reviewer.user)

    response = client.get("/", follow=True)

    assert response.redirect_chain == [("/queue/", 302)]
    assert "dashboard" not in response.context
    assert b"Overdue" not in response.content


def test_anonymous_users_are_sent_to_log_in_before_the_dashboard(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_dashboard_only_answers_get(client, coordinator, method):
    client.force_login(coordinator)
    assert getattr(client, method)("/").status_code == 405


@pytest.mark.parametrize(
    ("due", "priority", "now", "label", "tone"),
    [
        (
            dt.date(2026, 10, 14),
            P.EXPEDITED,
            dt.datetime(2026, 10, 14, 23, 30, tzinfo=CALIFORNIA),
            "under 1 h left",
            "warning",
        ),
        (
            dt.date(2026, 10, 15),
            P.EXPEDITED,
            dt.datetime(2026, 10, 14, 0, 0, tzinfo=CALIFORNIA),
            "48 h left",
            "warning",
        ),
        (
            dt.date(2026, 10, 16),
            P.EXPEDITED,
            dt.datetime(2026, 10, 14, 0, 0, tzinfo=CALIFORNIA),
            "2 days left",
            "secondary",
        ),
        (
            dt.date(2026, 10, 15),
            P.STANDARD,
            dt.datetime(2026, 10, 14, 23, 0, tzinfo=CALIFORNIA),
            "1 day left",
            "secondary",
        ),
        (
            dt.date(2026, 10, 14),
            P.STANDARD,
            dt.datetime(2026, 10, 14, 23, 59, tzinfo=CALIFORNIA),
            "due today",
            "warning",
        ),
        # Just after midnight in California (07:00 UTC): the day before's due date has passed.
        (dt.date(2026, 10, 13), P.EXPEDITED, dt.datetime(2026, 10, 14, 7, 1, tzinfo=dt.UTC), "1 day overdue", "danger"),
        # 06:59 UTC is still the 13th in California.
        (
            dt.date(2026, 10, 13),
            P.EXPEDITED,
            dt.datetime(2026, 10, 14, 6, 59, tzinfo=dt.UTC),
            "under 1 h left",
            "warning",
        ),
    ],
)
def test_time_left_counts_to_the_end_of_the_due_day_in_california(due, priority, now, label, tone):
    left = time_left(due, expedited=priority == P.EXPEDITED, now=now)
    assert (left.label, left.tone) == (label, tone)


def test_time_left_is_empty_without_a_due_date():
    assert time_left(None, expedited=True, now=NOW) is None
