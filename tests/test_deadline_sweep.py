"""The deadline sweep: one digest to the coordinators of cases newly due soon or overdue, never twice."""

import datetime as dt

import pytest
from django.utils import timezone

from reviews import tasks
from reviews.models import Case
from reviews.services import notifications
from tests.factories import CaseFactory, CoordinatorFactory

TODAY = dt.date(2026, 12, 1)  # a Tuesday: three business days ahead is Friday 12/04


def _due(days, **fields):
    return CaseFactory(
        decision_due_date=TODAY + dt.timedelta(days=days), records_complete_date=dt.date(2026, 10, 20), **fields
    )


@pytest.fixture
def cases(db):
    return {
        "overdue": _due(-2),
        "today": _due(0, priority=Case.Priority.EXPEDITED),
        "friday": _due(3),
        "next_week": _due(6),
        "decided": _due(-5, decision_date=TODAY - dt.timedelta(days=6)),
    }


def test_the_sweep_claims_overdue_and_due_soon_cases_once(cases):
    overdue, due_soon = notifications.deadline_sweep(today=TODAY)
    assert overdue == [cases["overdue"].pk]
    assert sorted(due_soon) == sorted([cases["today"].pk, cases["friday"].pk])
    assert notifications.deadline_sweep(today=TODAY) == ([], [])


def test_a_case_announced_overdue_is_never_announced_as_due_soon_later(cases):
    notifications.deadline_sweep(today=TODAY)
    Case.objects.filter(pk=cases["overdue"].pk).update(decision_due_date=TODAY + dt.timedelta(days=1))
    assert cases["overdue"].pk not in notifications.deadline_sweep(today=TODAY)[1]


def test_a_case_becomes_overdue_after_it_was_due_soon(cases):
    notifications.deadline_sweep(today=TODAY)
    overdue, due_soon = notifications.deadline_sweep(today=TODAY + dt.timedelta(days=1))
    assert overdue == [cases["today"].pk]
    # Wednesday 12/02 plus three business days is Monday 12/07, next week's due date.
    assert due_soon == [cases["next_week"].pk]


def test_closed_and_decided_cases_are_left_alone(cases):
    Case.objects.filter(pk=cases["overdue"].pk).update(status=Case.Status.WITHDRAWN)
    overdue, _ = notifications.deadline_sweep(today=TODAY)
    assert overdue == []


def test_the_digest_goes_to_every_active_coordinator_in_one_email_without_medical_details(cases, mailoutbox):
    CoordinatorFactory(username="c1", email="c1@example.org")
    CoordinatorFactory(username="c2", email="c2@example.org")
    CoordinatorFactory(username="gone", email="gone@example.org", is_active=False)
    overdue, due_soon = notifications.deadline_sweep(today=TODAY)
    assert notifications.deadline_digest_send(overdue_ids=overdue, due_soon_ids=due_soon) == 2
    (email,) = mailoutbox
    assert sorted(email.to) == ["c1@example.org", "c2@example.org"]
    assert "1 overdue, 2 due soon" in email.subject
    assert cases["overdue"].case_number in email.body
    assert cases["friday"].case_number in email.body
    assert cases["next_week"].case_number not in email.body
    assert cases["overdue"].employee_name not in email.body


def test_running_the_sweep_task_twice_sends_one_digest(
    cases, mailoutbox, django_capture_on_commit_callbacks, monkeypatch, run_relayed
):
    CoordinatorFactory(username="c1", email="c1@example.org")
    monkeypatch.setattr(timezone, "localdate", lambda *a: TODAY)
    # The digest task runs where the worker would run it: relayed right after the sweep's commit.
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.deadline_sweep()
    assert len(mailoutbox) == 1


def test_the_sweep_runs_every_fifteen_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["deadline-sweep"]
    assert entry["task"] == "reviews.tasks.deadline_sweep"
    assert entry["schedule"].minute == {0, 15, 30, 45}
