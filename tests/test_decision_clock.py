"""The decision clock stops at the decision: no "days left" on a decided or closed case, wherever the clock shows."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews.models import Case
from tests.factories import CaseFactory, DisputedItemFactory

S = Case.Status


def _case(status, *, reviewer=None, decided=None, due_in=10):
    today = timezone.localdate()
    case = CaseFactory(
        status=status,  # a fixture written at its stage
        reviewer=reviewer,
        date_assigned=today - dt.timedelta(days=20) if reviewer else None,
        records_complete_date=dt.date(2026, 10, 9),
        decision_due_date=today + dt.timedelta(days=due_in),
        decision_date=decided,
    )
    DisputedItemFactory(case=case, position=1)
    return case


def test_an_open_case_counts_down_to_its_decision_due_date(client, coordinator):
    case = _case(S.READY_FOR_ASSIGNMENT, due_in=12)
    client.force_login(coordinator)
    html = client.get(reverse("reviews:case_detail", args=[case.case_number])).content.decode()
    assert f'Decision due <span class="text-nowrap">{case.decision_due_date:%m/%d/%Y}</span>' in html
    assert "12 days left" in html


@pytest.mark.parametrize("view", ["case_detail", "case_qa"])
def test_an_issued_case_shows_its_decision_date_not_the_days_left(client, coordinator, reviewer, view):
    decided = timezone.localdate() - dt.timedelta(days=3)
    case = _case(S.ISSUED, reviewer=reviewer, decided=decided, due_in=27)
    client.force_login(coordinator)
    response = client.get(reverse(f"reviews:{view}", args=[case.case_number]))
    html = response.content.decode()
    assert f"Decided {decided:%m/%d/%Y}" in html
    assert "days left" not in html and "overdue" not in html


def test_the_reviewers_workspace_of_an_issued_case_shows_the_decision_date(client, reviewer):
    decided = timezone.localdate() - dt.timedelta(days=1)
    case = _case(S.ISSUED, reviewer=reviewer, decided=decided, due_in=29)
    client.force_login(reviewer.user)
    html = client.get(reverse("reviews:case_workspace", args=[case.case_number])).content.decode()
    assert f"Decided {decided:%m/%d/%Y}" in html and "days left" not in html


@pytest.mark.parametrize(("status", "label"), [(S.WITHDRAWN, "Withdrawn"), (S.INELIGIBLE, "Ineligible (closed)")])
def test_a_case_closed_without_a_decision_says_so_instead_of_counting(client, coordinator, status, label):
    case = _case(status, due_in=5)
    client.force_login(coordinator)
    html = client.get(reverse("reviews:case_detail", args=[case.case_number])).content.decode()
    assert f"Closed without a decision: {label}" in html
    assert "days left" not in html
