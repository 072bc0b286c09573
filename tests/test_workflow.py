"""The intake-to-assignment services: eligibility, the records request, complete records."""

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from reviews import services
from reviews.models import Case, CaseEvent, CaseStatus, Holiday
from reviews.services.errors import Refused
from tests.factories import (
    CaseFactory,
    CoordinatorFactory,
    OrganizationFactory,
    ProviderFactory,
    TreatmentCategoryFactory,
    UserFactory,
)

S = CaseStatus
D = dt.date


@pytest.fixture(autouse=True)
def calendar(db):
    """Weekends only, plus Veterans Day (Wed 11/11/2026): the clocks below were worked out on that calendar."""
    Holiday.objects.all().delete()
    Holiday.objects.create(date=D(2026, 11, 11), name="Veterans Day")


def received(**fields) -> Case:
    """A received case: CaseFactory writes no intake event, so a case's events are the service's."""
    return CaseFactory(application_received_date=D(2026, 10, 8), **fields)


def eligible(by, **fields) -> Case:
    return services.case_confirm_eligibility(case=received(**fields), by=by, eligible=True)


def awaiting_records(by, **fields) -> Case:
    return services.case_request_records(case=eligible(by, **fields), by=by, sent_on=D(2026, 10, 16))


def events(case: Case) -> list[tuple]:
    return list(case.events.order_by("id").values_list("from_status", "to_status", "actor", "note"))


def snapshot(case: Case) -> tuple:
    """What a refused service must leave untouched: the row and the timeline."""
    row = Case.objects.values().get(pk=case.pk)
    return row, CaseEvent.objects.filter(case=case).count()


@pytest.fixture(params=["reviewer", "plain user", "inactive coordinator", "anonymous"])
def outsider(request, db):
    if request.param == "reviewer":
        return request.getfixturevalue("reviewer").user
    if request.param == "plain user":
        return UserFactory(username="mallory")
    if request.param == "inactive coordinator":
        return CoordinatorFactory(username="dora", is_active=False)
    return AnonymousUser()


# Eligibility


def test_confirming_a_received_case_eligible_records_the_event(coordinator):
    case = services.case_confirm_eligibility(case=received(), by=coordinator, eligible=True)

    stored = Case.objects.get(pk=case.pk)
    assert stored.status == S.ELIGIBLE
    assert stored.closed_reason == ""
    assert events(stored) == [(S.RECEIVED, S.ELIGIBLE, coordinator.pk, "eligible")]


def test_the_admin_may_confirm_eligibility(admin_user):
    case = services.case_confirm_eligibility(case=received(), by=admin_user, eligible=True)
    assert Case.objects.get(pk=case.pk).status == S.ELIGIBLE
    assert events(case) == [(S.RECEIVED, S.ELIGIBLE, admin_user.pk, "eligible")]


def test_an_ineligible_case_is_closed_with_its_reason(coordinator):
    reason = "The UR decision was not a denial, modification or delay of a treatment request."
    case = services.case_confirm_eligibility(case=received(), by=coordinator, eligible=False, reason=reason)

    stored = Case.objects.get(pk=case.pk)
    assert stored.status == S.INELIGIBLE
    assert stored.closed_reason == reason
    assert not Case.objects.open().filter(pk=stored.pk).exists()
    assert events(stored) == [(S.RECEIVED, S.INELIGIBLE, coordinator.pk, reason)]


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_an_ineligible_case_needs_a_reason(coordinator, reason):
    case = received()
    before = snapshot(case)

    with pytest.raises(Refused, match="reason"):
        services.case_confirm_eligibility(case=case, by=coordinator, eligible=False, reason=reason)

    assert snapshot(case) == before
    assert Case.objects.get(pk=case.pk).status == S.RECEIVED


@pytest.mark.parametrize("is_eligible", [True, False])
def test_only_a_coordinator_may_decide_eligibility(outsider, is_eligible):
    case = received()
    before = snapshot(case)

    with pytest.raises(PermissionDenied):
        services.case_confirm_eligibility(case=case, by=outsider, eligible=is_eligible, reason="not covered")

    assert snapshot(case) == before


@pytest.mark.parametrize("is_eligible", [True, False])
def test_eligibility_cannot_be_decided_twice(coordinator, is_eligible):
    case = eligible(coordinator)
    before = snapshot(case)

    with pytest.raises(Refused):
        services.case_confirm_eligibility(case=case, by=coordinator, eligible=is_eligible, reason="late")

    assert snapshot(case) == before
    assert Case.objects.get(pk=case.pk).status == S.ELIGIBLE


def test_the_service_works_from_the_stored_status_not_a_stale_instance(coordinator):
    stale = received()
    services.case_confirm_eligibility(case=stale, by=coordinator, eligible=True)
    assert stale.status == S.RECEIVED  # the caller's copy is out of date ...

    with pytest.raises(Refused):  # ... but the service locks and reads the row
        services.case_confirm_eligibility(case=stale, by=coordinator, eligible=False, reason="duplicate")

    assert Case.objects.get(pk=stale.pk).status == S.ELIGIBLE
    assert len(events(stale)) == 1


# The records request


@pytest.mark.parametrize(
    ("priority", "electronic", "due"),
    [
        (Case.Priority.STANDARD, True, D(2026, 10, 28)),  # Fri 10/16 + 12 = Wed 10/28
        (Case.Priority.STANDARD, False, D(2026, 11, 2)),  # Fri 10/16 + 15 = Sat 10/31 -> Mon 11/02
        (Case.Priority.FORMULARY, False, D(2026, 11, 2)),
        (Case.Priority.EXPEDITED, True, D(2026, 10, 17)),  # 24 hours
    ],
)
def test_requesting_records_starts_the_records_clock(coordinator, priority, electronic, due):
    case = eligible(coordinator, priority=priority)

    case = services.case_request_records(case=case, by=coordinator, sent_on=D(2026, 10, 16), electronic=electronic)

    stored = Case.objects.get(pk=case.pk)
    assert stored.status == S.AWAITING_RECORDS
    assert stored.records_due_date == due
    assert events(stored)[1:] == [
        (S.ELIGIBLE, S.AWAITING_RECORDS, coordinator.pk, f"records requested, due {due:%m/%d/%Y}")
    ]


def test_a_records_request_is_electronic_unless_stated(coordinator):
    case = services.case_request_records(case=eligible(coordinator), by=coordinator, sent_on=D(2026, 10, 16))
    assert Case.objects.get(pk=case.pk).records_due_date == D(2026, 10, 28)


def test_records_due_on_a_holiday_move_to_the_next_business_day(coordinator):
    # Fri 10/30/2026 + 12 (electronic) = Wed 11/11, Veterans Day -> Thu 11/12.
    case = services.case_request_records(case=eligible(coordinator), by=coordinator, sent_on=D(2026, 10, 30))
    assert Case.objects.get(pk=case.pk).records_due_date == D(2026, 11, 12)


def test_only_a_coordinator_may_request_records(coordinator, outsider):
    case = eligible(coordinator)
    before = snapshot(case)

    with pytest.raises(PermissionDenied):
        services.case_request_records(case=case, by=outsider, sent_on=D(2026, 10, 16))

    assert snapshot(case) == before


@pytest.mark.parametrize("make", [received, awaiting_records], ids=["received", "awaiting records"])
def test_records_are_requested_only_for_an_eligible_case(coordinator, make):
    case = make() if make is received else make(coordinator)
    before = snapshot(case)

    with pytest.raises(Refused):
        services.case_request_records(case=case, by=coordinator, sent_on=D(2026, 10, 20))

    assert snapshot(case) == before


# Complete records


@pytest.mark.parametrize(
    ("priority", "due"),
    [
        (Case.Priority.STANDARD, D(2026, 12, 6)),  # Fri 11/06 + 30 = Sun 12/06: our own clock does not move
        (Case.Priority.EXPEDITED, D(2026, 11, 9)),  # Fri 11/06 + 3 = Mon 11/09
        # Fri 11/06: Mon 9 (1), Tue 10 (2), Wed 11 Veterans Day, Thu 12 (3), Fri 13 (4), Mon 16 (5).
        (Case.Priority.FORMULARY, D(2026, 11, 16)),
    ],
)
def test_completing_the_records_starts_the_decision_clock(coordinator, priority, due):
    case = awaiting_records(coordinator, priority=priority)

    case = services.case_complete_records(case=case, by=coordinator, on=D(2026, 11, 6))

    stored = Case.objects.get(pk=case.pk)
    assert stored.status == S.READY_FOR_ASSIGNMENT
    assert stored.records_complete_date == D(2026, 11, 6)
    assert stored.decision_due_date == due
    assert [event[:3] for event in events(stored)] == [
        (S.RECEIVED, S.ELIGIBLE, coordinator.pk),
        (S.ELIGIBLE, S.AWAITING_RECORDS, coordinator.pk),
        (S.AWAITING_RECORDS, S.READY_FOR_ASSIGNMENT, coordinator.pk),
    ]
    assert events(stored)[-1][3] == f"records complete, decision due {due:%m/%d/%Y}"


def test_only_a_coordinator_may_complete_the_records(coordinator, outsider):
    case = awaiting_records(coordinator)
    before = snapshot(case)

    with pytest.raises(PermissionDenied):
        services.case_complete_records(case=case, by=outsider, on=D(2026, 11, 6))

    assert snapshot(case) == before


@pytest.mark.parametrize("make", [received, eligible], ids=["received", "eligible"])
def test_records_are_completed_only_for_a_case_awaiting_them(coordinator, make):
    case = make() if make is received else make(coordinator)
    before = snapshot(case)

    with pytest.raises(Refused):
        services.case_complete_records(case=case, by=coordinator, on=D(2026, 11, 6))

    assert snapshot(case) == before


def test_records_completed_twice_keep_the_first_date(coordinator):
    case = services.case_complete_records(case=awaiting_records(coordinator), by=coordinator, on=D(2026, 11, 6))
    before = snapshot(case)

    with pytest.raises(Refused):
        services.case_complete_records(case=case, by=coordinator, on=D(2026, 11, 20))

    assert snapshot(case) == before
    assert Case.objects.get(pk=case.pk).records_complete_date == D(2026, 11, 6)


# Intake


def test_intake_numbers_the_case_stores_its_diagnoses_and_items_in_order_and_records_the_event(coordinator):
    therapies = TreatmentCategoryFactory(name="Therapies")
    case = services.case_create(
        by=coordinator,
        employee_name="Jane Employee",
        claim_number="CLM-000123",
        date_of_injury=D(2007, 2, 21),
        ur_decision_date=D(2014, 8, 21),
        application_received_date=D(2014, 9, 2),
        employer=OrganizationFactory(kind="employer"),
        claims_administrator=OrganizationFactory(kind="claims_administrator"),
        requesting_provider=ProviderFactory(),
        diagnoses=[
            {"icd10_code": "M54.5", "description": "Low back pain"},
            {"icd10_code": "M25.511", "description": "Pain in right shoulder"},
        ],
        items=[
            {
                "request_text": "Additional occupational therapy 2x6 weeks (12 sessions) low back",
                "category": therapies,
                "ur_action": "denied",
            },
        ],
    )

    stored = Case.objects.get(pk=case.pk)
    assert stored.status == S.RECEIVED
    assert list(stored.diagnoses.values_list("position", "icd10_code")) == [(1, "M54.5"), (2, "M25.511")]
    assert list(stored.items.values_list("position", "category")) == [(1, therapies.pk)]
    assert events(stored) == [("", S.RECEIVED, coordinator.pk, "application received")]
