"""Case numbers: CM<yy>-<7 digits>, consecutive, a sequence per year, and safe under concurrent intake."""

import datetime as dt
import re
import threading

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from reviews import services
from reviews.models import Case, CaseNumberSequence, Organization
from reviews.permissions import COORDINATORS
from tests.factories import OrganizationFactory, ProviderFactory, UserFactory

D = dt.date


def intake_fields(**overrides) -> dict:
    """What case_create needs besides `by`; the parties are created here."""
    return {
        "employee_name": "Jane Employee",
        "claim_number": "CLM-000123",
        "date_of_injury": D(2024, 3, 4),
        "ur_decision_date": D(2026, 10, 1),
        "application_received_date": D(2026, 10, 8),
        "employer": OrganizationFactory(kind=Organization.Kind.EMPLOYER),
        "claims_administrator": OrganizationFactory(kind=Organization.Kind.CLAIMS_ADMINISTRATOR),
        "requesting_provider": ProviderFactory(),
        "diagnoses": [{"icd10_code": "M51.26", "description": "Lumbar disc displacement"}],
        "items": [],
        **overrides,
    }


@pytest.fixture
def today(monkeypatch):
    """Set the date intake numbers by: the services read django.utils.timezone.localdate()."""
    real_localdate = timezone.localdate

    def set_today(day: dt.date):
        # Only "today" is pinned; converting a given datetime still works.
        monkeypatch.setattr(
            timezone, "localdate", lambda *args, **kwargs: real_localdate(*args, **kwargs) if args or kwargs else day
        )

    set_today(D(2026, 11, 27))
    return set_today


def test_a_case_number_is_cm_the_two_digit_year_and_seven_digits(db):
    assert services.case_number_next(year=2026) == "CM26-0000001"
    assert services.case_number_next(year=2030) == "CM30-0000001"
    assert services.case_number_next(year=2100) == "CM00-0000001"


def test_case_numbers_of_a_year_are_consecutive(db):
    numbers = [services.case_number_next(year=2026) for _ in range(3)]
    assert numbers == ["CM26-0000001", "CM26-0000002", "CM26-0000003"]
    assert CaseNumberSequence.objects.get(year=2026).last_value == 3


def test_each_year_has_its_own_sequence(db):
    services.case_number_next(year=2026)
    services.case_number_next(year=2026)
    assert services.case_number_next(year=2027) == "CM27-0000001"
    assert services.case_number_next(year=2026) == "CM26-0000003"
    assert dict(CaseNumberSequence.objects.values_list("year", "last_value")) == {2026: 3, 2027: 1}


def test_intake_gives_consecutive_numbers_in_the_format(coordinator, today):
    numbers = [services.case_create(by=coordinator, **intake_fields()).case_number for _ in range(3)]
    assert numbers == ["CM26-0000001", "CM26-0000002", "CM26-0000003"]
    assert all(re.fullmatch(r"CM\d{2}-\d{7}", number) for number in numbers)
    assert list(Case.objects.order_by("case_number").values_list("case_number", flat=True)) == numbers


def test_the_sequence_restarts_on_new_years_day(coordinator, today):
    today(D(2026, 12, 31))
    last_of_2026 = [services.case_create(by=coordinator, **intake_fields()).case_number for _ in range(2)]
    today(D(2027, 1, 1))
    first_of_2027 = services.case_create(by=coordinator, **intake_fields()).case_number

    assert last_of_2026 == ["CM26-0000001", "CM26-0000002"]
    assert first_of_2027 == "CM27-0000001"


def test_an_intake_rolled_back_after_numbering_does_not_consume_a_number(coordinator, today):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.case_create(by=coordinator, **intake_fields())
        raise RuntimeError("the caller's transaction fails after the case was numbered")
    assert not Case.objects.exists()

    assert services.case_create(by=coordinator, **intake_fields()).case_number == "CM26-0000001"


def test_an_intake_refused_for_an_invalid_diagnosis_does_not_consume_a_number(coordinator, today):
    # The case is numbered and saved before the diagnosis fails validation: all of it rolls back.
    bad = intake_fields(diagnoses=[{"icd10_code": "M5126", "description": "no dot"}])
    with pytest.raises(ValidationError):
        services.case_create(by=coordinator, **bad)
    assert not Case.objects.exists()

    assert services.case_create(by=coordinator, **intake_fields()).case_number == "CM26-0000001"


def test_an_intake_refused_for_inconsistent_dates_does_not_consume_a_number(coordinator, today):
    with pytest.raises(ValidationError):
        services.case_create(by=coordinator, **intake_fields(date_of_injury=D(2026, 10, 2)))
    assert not Case.objects.exists()

    assert services.case_create(by=coordinator, **intake_fields()).case_number == "CM26-0000001"


def test_an_intake_by_a_reviewer_is_refused_without_consuming_a_number(coordinator, reviewer, today):
    with pytest.raises(PermissionDenied):
        services.case_create(by=reviewer.user, **intake_fields())
    assert not Case.objects.exists()

    assert services.case_create(by=coordinator, **intake_fields()).case_number == "CM26-0000001"


INTAKES = 20


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises all writers, so it cannot show the race (set DATABASE_URL)",
)
# Threads need committed rows and their own connections, hence a transactional test. An earlier
# transactional test's flush may have removed the groups the data migration made, so the test makes
# the one it needs instead of relying on them (or on serialized_rollback, which the browser tests'
# event loop can defeat).
@pytest.mark.django_db(transaction=True)
def test_twenty_intakes_at_once_get_twenty_distinct_consecutive_numbers(today):
    today(D(2027, 3, 1))
    Group.objects.get_or_create(name=COORDINATORS)
    coordinator_id = UserFactory(username="alice", groups=[COORDINATORS]).pk
    fields = intake_fields()
    barrier = threading.Barrier(INTAKES)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def intake():
        try:
            by = get_user_model().objects.get(pk=coordinator_id)
            barrier.wait(timeout=30)  # every thread has its connection; now all intake together
            numbers.append(services.case_create(by=by, **fields).case_number)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=intake) for _ in range(INTAKES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sorted(numbers) == [f"CM27-{n:07d}" for n in range(1, INTAKES + 1)]
    assert Case.objects.filter(case_number__startswith="CM27-").count() == INTAKES
    assert CaseNumberSequence.objects.get(year=2027).last_value == INTAKES


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises all writers, so it cannot show the race (set DATABASE_URL)",
)
@pytest.mark.django_db(transaction=True)
def test_three_intakes_of_one_dispute_at_once_make_one_case_and_two_refusals():
    from reviews.services.errors import Refused
    from tests.factories import TreatmentCategoryFactory

    Group.objects.get_or_create(name=COORDINATORS)
    coordinator_id = UserFactory(username="alice", groups=[COORDINATORS]).pk
    category = TreatmentCategoryFactory(name="Rehabilitation")
    fields = intake_fields(
        items=[{"request_text": "Physical therapy 2x6", "category": category, "ur_action": "denied"}]
    )
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def intake():
        try:
            by = get_user_model().objects.get(pk=coordinator_id)
            barrier.wait(timeout=30)
            services.case_create(by=by, **fields)
            outcomes.append("created")
        except Refused as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=intake) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["created", "duplicate_dispute", "duplicate_dispute"]
    assert Case.objects.filter(claim_number="CLM-000123").count() == 1
