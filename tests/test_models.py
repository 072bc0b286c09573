"""The domain model's invariants: every constraint refused by the database and, where it can see it, by full_clean."""

import datetime as dt
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from reviews.models import (
    BoardCertification,
    Case,
    CaseDocument,
    CaseEvent,
    CaseExclusion,
    CaseStatus,
    Citation,
    Diagnosis,
    DisputedItem,
    Guideline,
    Holiday,
    Letter,
    License,
    Organization,
    Provider,
    Reviewer,
    Specialty,
    TreatmentCategory,
    icd10_validator,
    normalize_name,
    npi_validator,
    remaining_part_suggestion,
)
from tests.factories import (
    AffiliationFactory,
    BoardCertificationFactory,
    CaseDocumentFactory,
    CaseFactory,
    CitationFactory,
    DiagnosisFactory,
    DisputedItemFactory,
    GuidelineFactory,
    LetterFactory,
    LicenseFactory,
    OrganizationFactory,
    ProviderFactory,
    ReviewerFactory,
    SpecialtyFactory,
    TreatmentCategoryFactory,
    UserFactory,
)

S = CaseStatus
Kind = Organization.Kind


@contextmanager
def refused_by_database(constraint: str, *, sqlite_columns: str = ""):
    """Expect the block to raise IntegrityError for `constraint`, rolled back to a savepoint.

    PostgreSQL names every violated constraint; SQLite names a check constraint but reports a
    unique one by its columns ("reviews_license.state, reviews_license.number"), so unique
    constraints pass those too.
    """
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        yield
    reason = sqlite_columns if connection.vendor == "sqlite" and sqlite_columns else constraint
    assert reason in str(excinfo.value)


def full_clean_errors(instance, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as excinfo:
        instance.full_clean(**kwargs)
    return excinfo.value.message_dict


def violated(constraint: str) -> dict[str, list[str]]:
    """The error full_clean gives for a violated CheckConstraint (or conditional UniqueConstraint)."""
    return {"__all__": [f"Constraint “{constraint}” is violated."]}


def unsaved_case(**fields) -> Case:
    """A valid case whose related rows exist, not saved itself."""
    defaults = {
        "employer": OrganizationFactory(kind=Kind.EMPLOYER),
        "claims_administrator": OrganizationFactory(kind=Kind.CLAIMS_ADMINISTRATOR),
        "requesting_provider": ProviderFactory(),
    }
    return CaseFactory.build(**{**defaults, **fields})


# Specialty


def test_a_specialty_that_is_its_own_parent_is_refused_by_the_database(db):
    specialty = SpecialtyFactory()
    with refused_by_database("specialty_not_own_parent"):
        Specialty.objects.filter(pk=specialty.pk).update(parent=F("id"))
    specialty.refresh_from_db()
    assert specialty.parent_id is None


def test_a_specialty_that_is_its_own_parent_is_refused_by_full_clean(db):
    specialty = SpecialtyFactory()
    specialty.parent = specialty
    assert full_clean_errors(specialty) == violated("specialty_not_own_parent")


def test_a_subspecialty_under_another_specialty_is_accepted(db):
    parent = SpecialtyFactory()
    child = Specialty(name="Interventional Spine", parent=parent)
    child.full_clean()
    child.save()
    assert str(Specialty.objects.get(pk=child.pk)) == "Physical Medicine and Rehabilitation / Interventional Spine"


def test_two_specialties_with_one_name_are_refused(db):
    SpecialtyFactory(name="Orthopaedic Surgery")
    assert "name" in full_clean_errors(Specialty(name="Orthopaedic Surgery"))
    with refused_by_database("reviews_specialty_name_key", sqlite_columns="reviews_specialty.name"):
        Specialty.objects.create(name="Orthopaedic Surgery")
    assert Specialty.objects.filter(name="Orthopaedic Surgery").count() == 1


# Reviewer


def test_a_reviewer_in_practice_before_1940_is_refused_by_the_database(db):
    reviewer = ReviewerFactory()
    with refused_by_database("reviewer_practice_year_plausible"):
        Reviewer.objects.filter(pk=reviewer.pk).update(practice_start_year=1939)
    reviewer.refresh_from_db()
    assert reviewer.practice_start_year == 2005


def test_a_reviewer_in_practice_before_1940_is_refused_by_full_clean(db):
    reviewer = ReviewerFactory.build(user=UserFactory(), practice_start_year=1939)
    assert full_clean_errors(reviewer) == {
        "practice_start_year": ["Ensure this value is greater than or equal to 1940."]
    }


def test_a_reviewer_working_more_than_100_hours_a_week_is_refused_by_the_database(db):
    reviewer = ReviewerFactory()
    with refused_by_database("reviewer_weekly_hours_plausible"):
        Reviewer.objects.filter(pk=reviewer.pk).update(weekly_hours=101)
    reviewer.refresh_from_db()
    assert reviewer.weekly_hours == 24


def test_a_reviewer_working_more_than_100_hours_a_week_is_refused_by_full_clean(db):
    reviewer = ReviewerFactory.build(user=UserFactory(), weekly_hours=101)
    assert full_clean_errors(reviewer) == {"weekly_hours": ["Ensure this value is less than or equal to 100."]}


def test_a_reviewer_in_practice_since_1940_working_100_hours_is_accepted(db):
    reviewer = ReviewerFactory.build(user=UserFactory(), practice_start_year=1940, weekly_hours=100)
    reviewer.full_clean()
    reviewer.save()
    assert Reviewer.objects.filter(pk=reviewer.pk, practice_start_year=1940, weekly_hours=100).exists()


# License


def test_a_second_licence_with_the_same_state_and_number_is_refused_by_the_database(db):
    LicenseFactory(state="CA", number="A123456")
    with refused_by_database("license_unique_state_number", sqlite_columns="reviews_license.state"):
        LicenseFactory(state="CA", number="A123456")
    assert License.objects.filter(number="A123456").count() == 1


def test_a_second_licence_with_the_same_state_and_number_is_refused_by_full_clean(db):
    LicenseFactory(state="CA", number="A123456")
    duplicate = LicenseFactory.build(reviewer=ReviewerFactory(), state="CA", number="A123456")
    assert full_clean_errors(duplicate) == {"__all__": ["License with this State and Number already exists."]}


def test_the_same_licence_number_in_another_state_is_accepted(db):
    LicenseFactory(state="CA", number="A123456")
    LicenseFactory(state="NV", number="A123456")
    assert License.objects.filter(number="A123456").count() == 2


@pytest.mark.parametrize("state", ["ca", "C1", "C"])
def test_a_licence_state_that_is_not_two_capital_letters_is_refused_by_the_database(db, state):
    licence = LicenseFactory()
    with refused_by_database("license_state_is_two_letters"):
        License.objects.filter(pk=licence.pk).update(state=state)
    licence.refresh_from_db()
    assert licence.state == "CA"


def test_a_licence_state_in_lower_case_is_refused_by_full_clean(db):
    licence = LicenseFactory.build(reviewer=ReviewerFactory(), state="ca")
    assert full_clean_errors(licence) == {"state": ["Value 'ca' is not a valid choice."]}


def test_a_licence_of_no_us_state_is_refused_by_full_clean(db):
    licence = LicenseFactory.build(reviewer=ReviewerFactory(), state="ZZ")
    assert full_clean_errors(licence) == {"state": ["Value 'ZZ' is not a valid choice."]}


# BoardCertification


def test_a_second_certification_in_the_same_specialty_is_refused_by_the_database(db):
    certification = BoardCertificationFactory()
    with refused_by_database(
        "certification_unique_per_specialty", sqlite_columns="reviews_boardcertification.reviewer_id"
    ):
        BoardCertificationFactory(reviewer=certification.reviewer, specialty=certification.specialty)
    assert BoardCertification.objects.filter(reviewer=certification.reviewer).count() == 1


def test_a_second_certification_in_the_same_specialty_is_refused_by_full_clean(db):
    certification = BoardCertificationFactory()
    duplicate = BoardCertificationFactory.build(reviewer=certification.reviewer, specialty=certification.specialty)
    assert full_clean_errors(duplicate) == {
        "__all__": ["Board certification with this Reviewer and Specialty already exists."]
    }


@pytest.mark.parametrize("expires_on", [dt.date(2005, 6, 1), dt.date(2005, 5, 31)], ids=["same day", "day before"])
def test_a_certification_expiring_on_or_before_its_date_is_refused_by_the_database(db, expires_on):
    certification = BoardCertificationFactory(certified_on=dt.date(2005, 6, 1))
    with refused_by_database("certification_expires_after_certified"):
        BoardCertification.objects.filter(pk=certification.pk).update(expires_on=expires_on)
    certification.refresh_from_db()
    assert certification.expires_on is None


def test_a_certification_expiring_before_its_date_is_refused_by_full_clean(db):
    certification = BoardCertificationFactory(certified_on=dt.date(2005, 6, 1))
    certification.expires_on = dt.date(2005, 5, 31)
    assert full_clean_errors(certification) == violated("certification_expires_after_certified")


def test_a_certification_expiring_the_day_after_it_was_granted_is_accepted(db):
    certification = BoardCertificationFactory(certified_on=dt.date(2005, 6, 1))
    certification.expires_on = dt.date(2005, 6, 2)
    certification.full_clean()
    certification.save()
    assert BoardCertification.objects.get(pk=certification.pk).expires_on == dt.date(2005, 6, 2)


# Organization


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("ACME, Inc.", "acme"),
        ("Acme Inc", "acme"),
        ("The Acme Co.", "acme"),
        ("Société Générale, LLC", "societe generale"),
        ("Smith & Jones, LLP", "smith jones"),
        ("  Pacific   Claims  Ltd ", "pacific claims"),
    ],
)
def test_organization_names_are_normalized_for_matching(name, normalized):
    assert normalize_name(name) == normalized


def test_acme_inc_matches_the_saved_acme_comma_inc(db):
    acme = OrganizationFactory(kind=Kind.EMPLOYER, name="ACME, Inc.")
    assert Organization.objects.get(pk=acme.pk).normalized_name == "acme"
    assert list(Organization.objects.filter(normalized_name=normalize_name("Acme Inc"))) == [acme]


def test_renaming_an_organization_renormalizes_its_name(db):
    org = OrganizationFactory(kind=Kind.EMPLOYER, name="ACME, Inc.")
    org.name = "Zenith Insurance Company"
    org.save()
    assert Organization.objects.get(pk=org.pk).normalized_name == "zenith insurance company"


def test_renaming_an_organization_with_update_fields_renormalizes_its_name(db):
    org = OrganizationFactory(kind=Kind.EMPLOYER, name="ACME, Inc.")
    org.name = "Zenith Insurance Company"
    org.save(update_fields=["name"])
    assert Organization.objects.get(pk=org.pk).normalized_name == "zenith insurance company"


def test_acme_inc_is_refused_by_the_database_when_acme_comma_inc_exists_with_the_same_kind(db):
    OrganizationFactory(kind=Kind.EMPLOYER, name="ACME, Inc.")
    with refused_by_database("organization_unique_kind_name", sqlite_columns="reviews_organization.kind"):
        OrganizationFactory(kind=Kind.EMPLOYER, name="Acme Inc")
    assert Organization.objects.filter(normalized_name="acme").count() == 1


def test_acme_inc_is_refused_by_full_clean_when_acme_comma_inc_exists_with_the_same_kind(db):
    OrganizationFactory(kind=Kind.EMPLOYER, name="ACME, Inc.")
    errors = full_clean_errors(Organization(kind=Kind.EMPLOYER, name="Acme Inc"))
    messages = [message for field_messages in errors.values() for message in field_messages]
    assert "An organisation of this kind with this name is already on file." in messages, errors


def test_the_same_name_for_another_kind_of_organization_is_accepted(db):
    OrganizationFactory(kind=Kind.EMPLOYER, name="ACME, Inc.")
    administrator = Organization(kind=Kind.CLAIMS_ADMINISTRATOR, name="Acme Inc")
    administrator.full_clean()
    administrator.save()
    assert Organization.objects.filter(normalized_name="acme").count() == 2


def test_an_organization_name_without_letters_or_digits_is_refused_by_full_clean(db):
    assert full_clean_errors(Organization(kind=Kind.EMPLOYER, name="Inc., LLC")) == {
        "name": ["Enter a name with at least one letter or digit."]
    }


# Provider and the NPI


@pytest.mark.parametrize("npi", ["1234567893", "0000000000"])
def test_a_ten_digit_npi_passes_the_validator(npi):
    npi_validator(npi)


@pytest.mark.parametrize("npi", ["123456789", "12345678901", "123456789X", "123-456-78", " 1234567893"])
def test_an_npi_that_is_not_ten_digits_fails_the_validator(npi):
    with pytest.raises(ValidationError, match="An NPI is exactly ten digits."):
        npi_validator(npi)


def test_an_npi_that_is_not_ten_digits_is_refused_by_the_database(db):
    provider = ProviderFactory(npi="1234567893")
    with refused_by_database("provider_npi_ten_digits"):
        Provider.objects.filter(pk=provider.pk).update(npi="12345")
    provider.refresh_from_db()
    assert provider.npi == "1234567893"


def test_an_npi_that_is_not_ten_digits_is_refused_by_full_clean(db):
    assert full_clean_errors(ProviderFactory.build(npi="12345")) == {"npi": ["An NPI is exactly ten digits."]}


def test_two_providers_with_one_npi_are_refused_by_the_database(db):
    ProviderFactory(npi="1234567893")
    with refused_by_database("provider_unique_npi", sqlite_columns="reviews_provider.npi"):
        ProviderFactory(npi="1234567893")
    assert Provider.objects.filter(npi="1234567893").count() == 1


def test_two_providers_with_one_npi_are_refused_by_full_clean(db):
    ProviderFactory(npi="1234567893")
    assert full_clean_errors(ProviderFactory.build(npi="1234567893")) == violated("provider_unique_npi")


def test_many_providers_without_an_npi_are_accepted(db):
    for _ in range(2):
        provider = ProviderFactory.build(npi="")
        provider.full_clean()
        provider.save()
    assert Provider.objects.filter(npi="").count() == 2


# Affiliation: exactly one party


def _party(name, organization, provider):
    return {
        "organization": organization if "organization" in name else None,
        "provider": provider if "provider" in name else None,
        "employee_name": "Jane Employee" if "employee" in name else "",
    }


@pytest.mark.parametrize(
    "parties",
    ["none", "organization+provider", "organization+employee", "provider+employee", "organization+provider+employee"],
)
def test_an_affiliation_without_exactly_one_party_is_refused_by_the_database(db, parties):
    reviewer = ReviewerFactory()
    with refused_by_database("affiliation_exactly_one_party"):
        AffiliationFactory(reviewer=reviewer, **_party(parties, OrganizationFactory(), ProviderFactory()))
    assert not reviewer.affiliations.exists()


@pytest.mark.parametrize(
    "parties",
    ["none", "organization+provider", "organization+employee", "provider+employee", "organization+provider+employee"],
)
def test_an_affiliation_without_exactly_one_party_is_refused_by_full_clean(db, parties):
    affiliation = AffiliationFactory.build(
        reviewer=ReviewerFactory(), **_party(parties, OrganizationFactory(), ProviderFactory())
    )
    assert full_clean_errors(affiliation) == violated("affiliation_exactly_one_party")


@pytest.mark.parametrize("parties", ["organization", "provider", "employee"])
def test_an_affiliation_with_exactly_one_party_is_accepted(db, parties):
    affiliation = AffiliationFactory.build(
        reviewer=ReviewerFactory(), **_party(parties, OrganizationFactory(), ProviderFactory())
    )
    affiliation.full_clean()
    affiliation.save()
    assert affiliation.reviewer.affiliations.count() == 1


# TreatmentCategory


def test_two_top_level_categories_with_one_name_are_refused_by_the_database(db):
    TreatmentCategory.objects.create(name="Therapies")
    with refused_by_database("treatment_category_unique_top_name", sqlite_columns="reviews_treatmentcategory.name"):
        TreatmentCategory.objects.create(name="Therapies")
    assert TreatmentCategory.objects.filter(name="Therapies").count() == 1


def test_two_top_level_categories_with_one_name_are_refused_by_full_clean(db):
    TreatmentCategory.objects.create(name="Therapies")
    assert full_clean_errors(TreatmentCategory(name="Therapies")) == violated("treatment_category_unique_top_name")


def test_two_subcategories_with_one_name_under_one_parent_are_refused_by_the_database(db):
    therapies = TreatmentCategoryFactory(name="Therapies")
    TreatmentCategory.objects.create(name="Occupational therapy", parent=therapies)
    with refused_by_database(
        "treatment_category_unique_sub_name", sqlite_columns="reviews_treatmentcategory.parent_id"
    ):
        TreatmentCategory.objects.create(name="Occupational therapy", parent=therapies)
    assert therapies.subcategories.count() == 1


def test_two_subcategories_with_one_name_under_one_parent_are_refused_by_full_clean(db):
    therapies = TreatmentCategoryFactory(name="Therapies")
    TreatmentCategory.objects.create(name="Occupational therapy", parent=therapies)
    duplicate = TreatmentCategory(name="Occupational therapy", parent=therapies)
    assert full_clean_errors(duplicate) == {"__all__": ["Treatment category with this Parent and Name already exists."]}


def test_a_subcategory_name_may_repeat_under_another_parent_and_at_the_top(db):
    therapies = TreatmentCategoryFactory(name="Therapies")
    programs = TreatmentCategoryFactory(name="Programs")
    for category in (
        TreatmentCategory(name="Aquatic therapy", parent=therapies),
        TreatmentCategory(name="Aquatic therapy", parent=programs),
        TreatmentCategory(name="Aquatic therapy"),
    ):
        category.full_clean()
        category.save()
    assert TreatmentCategory.objects.filter(name="Aquatic therapy").count() == 3


# Holiday


def test_two_holidays_on_one_date_are_refused(db):
    Holiday.objects.filter(date=dt.date(2030, 12, 25)).delete()
    Holiday.objects.create(date=dt.date(2030, 12, 25), name="Christmas Day")
    assert "date" in full_clean_errors(Holiday(date=dt.date(2030, 12, 25), name="Christmas"))
    with refused_by_database("reviews_holiday_date_key", sqlite_columns="reviews_holiday.date"):
        Holiday.objects.create(date=dt.date(2030, 12, 25), name="Christmas")
    assert Holiday.objects.get(date=dt.date(2030, 12, 25)).name == "Christmas Day"


# Case


def test_two_cases_with_one_number_are_refused(db):
    CaseFactory(case_number="CM26-0000042")
    assert full_clean_errors(unsaved_case(case_number="CM26-0000042")) == {
        "case_number": ["Case with this Case number already exists."]
    }
    with refused_by_database("reviews_case_case_number_key", sqlite_columns="reviews_case.case_number"):
        CaseFactory(case_number="CM26-0000042")
    assert Case.objects.filter(case_number="CM26-0000042").count() == 1


@pytest.mark.parametrize("number", ["CM26-123", "CM2026-00001", "XX26-0000001", "cm26-0000001", "CM26 0000001", ""])
def test_a_malformed_case_number_is_refused_by_the_database(db, number):
    case = CaseFactory(case_number="CM26-0000001")
    with refused_by_database("case_number_format"):
        Case.objects.filter(pk=case.pk).update(case_number=number)
    assert Case.objects.get(pk=case.pk).case_number == "CM26-0000001"


def test_a_malformed_case_number_is_refused_by_full_clean(db):
    assert full_clean_errors(unsaved_case(case_number="CM26-123")) == violated("case_number_format")


def test_a_case_whose_injury_follows_the_ur_decision_is_refused_by_the_database(db):
    case = CaseFactory(ur_decision_date=dt.date(2026, 10, 1))
    with refused_by_database("case_injury_on_or_before_ur_decision"):
        Case.objects.filter(pk=case.pk).update(date_of_injury=dt.date(2026, 10, 2))
    assert Case.objects.get(pk=case.pk).date_of_injury == dt.date(2024, 3, 4)


def test_a_case_whose_injury_follows_the_ur_decision_is_refused_by_full_clean(db):
    case = unsaved_case(date_of_injury=dt.date(2026, 10, 2), ur_decision_date=dt.date(2026, 10, 1))
    assert full_clean_errors(case) == {
        "date_of_injury": ["The date of injury must be on or before the UR decision date."]
    }


def test_a_case_whose_ur_decision_follows_the_application_is_refused_by_the_database(db):
    case = CaseFactory(ur_decision_date=dt.date(2026, 10, 1), application_received_date=dt.date(2026, 10, 8))
    with refused_by_database("case_ur_decision_on_or_before_application"):
        Case.objects.filter(pk=case.pk).update(ur_decision_date=dt.date(2026, 10, 9))
    assert Case.objects.get(pk=case.pk).ur_decision_date == dt.date(2026, 10, 1)


def test_a_case_whose_ur_decision_follows_the_application_is_refused_by_full_clean(db):
    case = unsaved_case(ur_decision_date=dt.date(2026, 10, 9), application_received_date=dt.date(2026, 10, 8))
    assert full_clean_errors(case) == {
        "ur_decision_date": ["The UR decision date must be on or before the application received date."]
    }


def test_a_case_injured_decided_and_applied_for_on_one_day_is_accepted(db):
    day = dt.date(2026, 10, 1)
    case = unsaved_case(date_of_injury=day, ur_decision_date=day, application_received_date=day)
    case.full_clean()
    case.save()
    assert Case.objects.filter(pk=case.pk, date_of_injury=day, application_received_date=day).exists()


def test_records_complete_before_the_application_are_refused_by_the_database(db):
    case = CaseFactory(application_received_date=dt.date(2026, 10, 8))
    with refused_by_database("case_records_complete_after_application"):
        Case.objects.filter(pk=case.pk).update(records_complete_date=dt.date(2026, 10, 7))
    assert Case.objects.get(pk=case.pk).records_complete_date is None


def test_records_complete_before_the_application_are_refused_by_full_clean(db):
    case = CaseFactory(application_received_date=dt.date(2026, 10, 8))
    case.records_complete_date = dt.date(2026, 10, 7)
    assert full_clean_errors(case) == violated("case_records_complete_after_application")


def test_a_decision_due_date_without_complete_records_is_refused_by_the_database(db):
    case = CaseFactory()
    with refused_by_database("case_due_date_needs_records_complete"):
        Case.objects.filter(pk=case.pk).update(decision_due_date=dt.date(2026, 11, 30))
    assert Case.objects.get(pk=case.pk).decision_due_date is None


def test_a_decision_due_date_without_complete_records_is_refused_by_full_clean(db):
    case = CaseFactory()
    case.decision_due_date = dt.date(2026, 11, 30)
    assert full_clean_errors(case) == violated("case_due_date_needs_records_complete")


@pytest.mark.parametrize("status", [S.ASSIGNED, S.ACCEPTED, S.IN_REVIEW, S.RETURNED, S.SUBMITTED, S.APPROVED, S.ISSUED])
def test_a_case_with_a_reviewer_status_but_no_reviewer_is_refused_by_the_database(db, status):
    case = CaseFactory()
    with refused_by_database("case_reviewer_set_once_assigned"):
        Case.objects.filter(pk=case.pk).update(status=status)
    assert Case.objects.get(pk=case.pk).status == S.RECEIVED


def test_a_case_with_a_reviewer_status_but_no_reviewer_is_refused_by_full_clean(db):
    assert full_clean_errors(unsaved_case(status=S.ASSIGNED)) == violated("case_reviewer_set_once_assigned")


def test_an_assigned_case_with_its_reviewer_is_accepted(db, reviewer):
    case = unsaved_case(status=S.ASSIGNED, reviewer=reviewer)
    case.full_clean()
    case.save()
    assert Case.objects.filter(pk=case.pk, status=S.ASSIGNED, reviewer=reviewer).exists()


def test_a_case_that_is_a_remand_of_itself_is_refused_by_the_database(db):
    case = CaseFactory()
    with refused_by_database("case_not_remand_of_itself"):
        Case.objects.filter(pk=case.pk).update(remand_of=F("id"))
    assert Case.objects.get(pk=case.pk).remand_of_id is None


def test_a_case_that_is_a_remand_of_itself_is_refused_by_full_clean(db):
    case = CaseFactory()
    case.remand_of = case
    assert full_clean_errors(case) == violated("case_not_remand_of_itself")


def test_a_remand_of_an_earlier_case_is_accepted(db):
    earlier = CaseFactory()
    remand = unsaved_case(remand_of=earlier)
    remand.full_clean()
    remand.save()
    assert list(earlier.remands.all()) == [remand]


def test_excluding_a_reviewer_from_a_case_twice_is_refused(db, reviewer, coordinator):
    case = CaseFactory()
    CaseExclusion.objects.create(case=case, reviewer=reviewer, reason="declined", created_by=coordinator)
    duplicate = CaseExclusion(case=case, reviewer=reviewer, reason="conflict", created_by=coordinator)
    assert full_clean_errors(duplicate) == {"__all__": ["Case exclusion with this Case and Reviewer already exists."]}
    with refused_by_database("exclusion_unique_per_case", sqlite_columns="reviews_caseexclusion.case_id"):
        duplicate.save()
    assert list(case.exclusions.values_list("reason", flat=True)) == ["declined"]


# Case status: only the state machine writes it


def test_the_status_of_a_case_cannot_be_assigned_directly(db):
    case = CaseFactory()
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        case.status = S.ISSUED
    assert case.status == S.RECEIVED
    assert Case.objects.get(pk=case.pk).status == S.RECEIVED


def test_a_loaded_case_can_be_refreshed_although_its_status_is_protected(db):
    case = CaseFactory()
    Case.objects.filter(pk=case.pk).update(status=S.ELIGIBLE)
    case.refresh_from_db()
    assert case.status == S.ELIGIBLE
    with pytest.raises(AttributeError):
        case.status = S.RECEIVED


# The steps beside the main path on the model (the transition table is tests/test_transitions.py).


@pytest.mark.parametrize("closing", ["withdraw", "terminate"])
@pytest.mark.parametrize("status", S.BEFORE_DECISION)
def test_a_case_closed_without_a_determination_reopens_at_the_step_it_was_closed_at(closing, status):
    case = Case(status=status)
    getattr(case, closing)()
    assert case.closed_from == status
    case.reopen()
    assert (case.status, case.closed_from) == (status, "")


def test_an_ineligible_case_reopens_as_received():
    case = Case(status=S.RECEIVED)
    case.confirm_ineligible()
    case.reopen()
    assert case.status == S.RECEIVED


@pytest.mark.parametrize("status", [s for s in S if s not in (S.INELIGIBLE, S.WITHDRAWN, S.TERMINATED)])
def test_only_a_case_closed_without_a_determination_can_be_reopened(status):
    case = Case(status=status, closed_from=S.IN_REVIEW)
    with pytest.raises(TransitionNotAllowed):
        case.reopen()


def test_an_expedited_case_cannot_be_expedited_again_nor_an_imported_determination_remanded():
    with pytest.raises(TransitionNotAllowed):
        Case(status=S.IN_REVIEW, priority=Case.Priority.EXPEDITED).expedite()
    with pytest.raises(TransitionNotAllowed):
        Case(status=S.ISSUED, imported_from="letters/2016-01.txt").remand()


def test_no_transition_moves_an_issued_case_to_another_status():
    case = Case(status=S.ISSUED)
    assert [(t.name, t.target) for t in case.get_available_status_transitions()] == [("remand", None)]


# Diagnosis and the ICD-10 validator


@pytest.mark.parametrize("code", ["M51.26", "M54.5", "M25.511", "S72.001A", "G89.29", "M51", "Z79.891", "U07.1"])
def test_a_well_formed_icd10_code_passes_the_validator(code):
    icd10_validator(code)


@pytest.mark.parametrize("code", ["m51.26", "M5126", "M51.", "M51.26789", "5M1.26", "M5.26", "M51-26", "M51.26 ", ""])
def test_a_malformed_icd10_code_fails_the_validator(code):
    with pytest.raises(ValidationError, match="Enter an ICD-10 code"):
        icd10_validator(code)


def test_a_malformed_icd10_code_is_refused_by_the_database(db):
    diagnosis = DiagnosisFactory(icd10_code="M51.26")
    with refused_by_database("diagnosis_icd10_shape"):
        Diagnosis.objects.filter(pk=diagnosis.pk).update(icd10_code="M5126")
    diagnosis.refresh_from_db()
    assert diagnosis.icd10_code == "M51.26"


def test_a_malformed_icd10_code_is_refused_by_full_clean(db):
    diagnosis = DiagnosisFactory.build(case=CaseFactory(), icd10_code="m51.26")
    assert full_clean_errors(diagnosis) == {
        "icd10_code": ["Enter an ICD-10 code such as M51.26 (letter, two characters, dot, detail)."]
    }


def test_two_diagnoses_in_one_position_of_a_case_are_refused(db):
    first = DiagnosisFactory(position=1)
    duplicate = DiagnosisFactory.build(case=first.case, position=1, icd10_code="M54.5")
    assert full_clean_errors(duplicate) == {"__all__": ["Diagnosis with this Case and Position already exists."]}
    with refused_by_database("diagnosis_unique_position", sqlite_columns="reviews_diagnosis.case_id"):
        duplicate.save()
    assert list(first.case.diagnoses.values_list("icd10_code", flat=True)) == ["M51.26"]


# DisputedItem


def test_two_items_in_one_position_of_a_case_are_refused(db):
    first = DisputedItemFactory(position=1)
    duplicate = DisputedItemFactory.build(case=first.case, position=1, category=first.category)
    assert full_clean_errors(duplicate) == {"__all__": ["Disputed item with this Case and Position already exists."]}
    with refused_by_database("item_unique_position", sqlite_columns="reviews_disputeditem.case_id"):
        duplicate.save()
    assert first.case.items.count() == 1


def test_a_decision_other_than_upheld_or_overturned_is_refused_by_the_database(db):
    item = DisputedItemFactory()
    with refused_by_database("item_decision_valid"):
        DisputedItem.objects.filter(pk=item.pk).update(decision="partially")
    item.refresh_from_db()
    assert item.decision == ""


def test_a_decision_other_than_upheld_or_overturned_is_refused_by_full_clean(db):
    item = DisputedItemFactory()
    item.decision = "partially"
    assert full_clean_errors(item) == {"decision": ["Value 'partially' is not a valid choice."]}


def test_a_modified_item_without_the_authorized_part_is_refused_by_the_database(db):
    item = DisputedItemFactory()
    with refused_by_database("item_modified_states_authorized_part"):
        DisputedItem.objects.filter(pk=item.pk).update(
            ur_action=DisputedItem.URAction.MODIFIED, eligible_scope="original"
        )
    item.refresh_from_db()
    assert item.ur_action == DisputedItem.URAction.DENIED


def test_a_modified_item_without_the_authorized_part_is_refused_by_full_clean(db):
    item = DisputedItemFactory()
    item.ur_action = DisputedItem.URAction.MODIFIED
    item.eligible_scope = DisputedItem.EligibleScope.ORIGINAL
    assert full_clean_errors(item) == {"authorized_part": ["UR modified this request: say what it authorised."]}


def test_a_modified_item_deciding_its_remaining_portion_is_accepted(db):
    item = DisputedItemFactory()
    item.ur_action = DisputedItem.URAction.MODIFIED
    item.authorized_part = "Physical therapy 6 sessions"
    item.eligible_scope = DisputedItem.EligibleScope.REMAINING
    item.remaining_part = "Physical therapy 2 sessions"
    item.full_clean()
    item.save()
    saved = DisputedItem.objects.get(pk=item.pk)
    assert saved.decided_request == "Physical therapy 2 sessions"


def test_a_modified_item_must_say_what_the_review_decides(db):
    item = DisputedItemFactory()
    item.ur_action = DisputedItem.URAction.MODIFIED
    item.authorized_part = "6 sessions"
    assert full_clean_errors(item) == {
        "eligible_scope": ["Say what the review decides: the remaining portion or the original request."]
    }
    with refused_by_database("item_scope_only_when_modified"):
        DisputedItem.objects.filter(pk=item.pk).update(ur_action="modified", authorized_part="6 sessions")


def test_deciding_the_remaining_portion_needs_the_portion(db):
    item = DisputedItemFactory()
    item.ur_action = DisputedItem.URAction.MODIFIED
    item.authorized_part = "6 sessions"
    item.eligible_scope = DisputedItem.EligibleScope.REMAINING
    assert full_clean_errors(item) == {
        "remaining_part": ["Write the remaining portion of the original request that the review decides."]
    }
    with refused_by_database("item_remaining_scope_states_portion"):
        DisputedItem.objects.filter(pk=item.pk).update(
            ur_action="modified", authorized_part="6 sessions", eligible_scope="remaining"
        )


def test_a_denied_item_has_no_remaining_portion(db):
    item = DisputedItemFactory(ur_action=DisputedItem.URAction.DENIED)
    item.remaining_part = "2 sessions"
    assert "remaining_part" in full_clean_errors(item)
    with refused_by_database("item_scope_only_when_modified"):
        DisputedItem.objects.filter(pk=item.pk).update(eligible_scope="remaining", remaining_part="2 sessions")


@pytest.mark.parametrize(
    ("original", "authorized", "remaining"),
    [
        (
            "Physical therapy to the low back eight sessions",
            "Physical therapy to the low back six sessions",
            "Physical therapy to the low back two sessions",
        ),
        (
            "Chiropractic treatment 12 visits for the cervical spine",
            "Chiropractic treatment 6 visits",
            "Chiropractic treatment 6 visits",
        ),
        (
            "Chirophysio therapy two times a week for four weeks (8 sessions)",
            "Chirophysio therapy, 6 sessions",
            "Chirophysio therapy, 2 sessions",
        ),
        ("Physical therapy 2x6 weeks lumbar spine", "Physical therapy 6 sessions", "Physical therapy 6 sessions"),
        ("Physical therapy 2 times a week for 4 weeks", "Physical therapy 2 times a week for 3 weeks (6 sessions)", ""),
        ("Norco 10/325 mg #90", "Norco 10/325 mg #45 for weaning", ""),
        ("Physical therapy 6 sessions", "Physical therapy 6 sessions", ""),
    ],
)
def test_the_remaining_portion_is_worked_out_only_when_both_texts_count_the_same_thing(original, authorized, remaining):
    assert remaining_part_suggestion(original, authorized) == remaining


def test_an_item_without_request_text_is_refused_by_the_database(db):
    item = DisputedItemFactory()
    with refused_by_database("item_request_text_required"):
        DisputedItem.objects.filter(pk=item.pk).update(request_text="")
    item.refresh_from_db()
    assert item.request_text == "Physical therapy 2x6 weeks lumbar spine"


def test_an_item_without_request_text_is_refused_by_full_clean(db):
    item = DisputedItemFactory()
    item.request_text = ""
    assert full_clean_errors(item) == {"request_text": ["This field cannot be blank."]}


def test_an_item_whose_subcategory_belongs_to_another_category_is_refused_by_full_clean(db):
    therapies = TreatmentCategoryFactory(name="Therapies")
    surgery = TreatmentCategoryFactory(name="Surgery")
    arthroscopy = TreatmentCategory.objects.create(name="Arthroscopy", parent=surgery)
    item = DisputedItemFactory(category=therapies)
    item.subcategory = arthroscopy
    assert full_clean_errors(item) == {"subcategory": ["Pick a subcategory of the chosen category."]}


# Guideline and Citation


def test_two_guidelines_with_one_title_and_edition_are_refused(db):
    GuidelineFactory()
    duplicate = Guideline(
        source=Guideline.Source.MTUS,
        title="MTUS Chronic Pain Medical Treatment Guidelines",
        edition="2009",
        citation_name="MTUS",
    )
    assert full_clean_errors(duplicate) == {"__all__": ["Guideline with this Title and Edition already exists."]}
    with refused_by_database("guideline_unique_title_edition", sqlite_columns="reviews_guideline.title"):
        duplicate.save()
    assert Guideline.objects.filter(title="MTUS Chronic Pain Medical Treatment Guidelines").count() == 1


@pytest.mark.parametrize(
    ("source", "rank"),
    [
        (Guideline.Source.MTUS, 1),
        (Guideline.Source.ACOEM, 2),
        (Guideline.Source.ODG, 2),
        (Guideline.Source.OTHER_GUIDELINE, 3),
        (Guideline.Source.STUDY, 4),
    ],
)
def test_the_search_sequence_ranks_mtus_then_acoem_and_odg_then_other_guidelines_then_studies(source, rank):
    assert Guideline(source=source).search_sequence == rank


def test_every_guideline_source_has_a_place_in_the_search_sequence():
    assert set(Guideline.SEARCH_SEQUENCE) == set(Guideline.Source)


def test_two_citations_in_one_position_of_an_item_and_role_are_refused(db):
    first = CitationFactory(role=Citation.Role.REVIEW, position=1)
    odg = GuidelineFactory(source=Guideline.Source.ODG, title="Official Disability Guidelines", edition="2014")
    duplicate = Citation(item=first.item, role=Citation.Role.REVIEW, position=1, guideline=odg)
    assert full_clean_errors(duplicate) == {"__all__": ["Citation with this Item, Role and Position already exists."]}
    with refused_by_database("citation_unique_position", sqlite_columns="reviews_citation.item_id"):
        duplicate.save()
    assert first.item.citations.count() == 1


def test_the_claims_administrator_and_the_review_may_each_cite_in_position_one(db):
    review = CitationFactory(role=Citation.Role.REVIEW, position=1)
    ca = Citation(item=review.item, role=Citation.Role.CLAIMS_ADMINISTRATOR, position=1, guideline=review.guideline)
    ca.full_clean()
    ca.save()
    assert review.item.citations.count() == 2


# CaseDocument


def test_a_document_of_zero_pages_is_refused_by_the_database(db):
    document = CaseDocumentFactory(page_count=3)
    with refused_by_database("document_page_count_positive"):
        CaseDocument.objects.filter(pk=document.pk).update(page_count=0)
    document.refresh_from_db()
    assert document.page_count == 3


def test_a_document_of_zero_pages_is_refused_by_full_clean(db):
    document = CaseDocumentFactory.build(case=CaseFactory(), page_count=0)
    assert full_clean_errors(document) == violated("document_page_count_positive")


def test_a_document_of_unknown_page_count_is_accepted(db):
    document = CaseDocumentFactory.build(case=CaseFactory(), page_count=None)
    document.full_clean()
    document.save()
    assert CaseDocument.objects.filter(pk=document.pk, page_count__isnull=True).exists()


# Letter


def test_two_letters_of_one_kind_and_version_for_a_case_are_refused(db):
    first = LetterFactory()
    duplicate = LetterFactory.build(case=first.case)
    assert full_clean_errors(duplicate) == {"__all__": ["Letter with this Case, Kind and Version already exists."]}
    with refused_by_database("letter_unique_version", sqlite_columns="reviews_letter.case_id"):
        duplicate.save()
    assert first.case.letters.count() == 1


def test_a_public_copy_of_the_same_version_is_accepted(db):
    first = LetterFactory()
    public = LetterFactory.build(case=first.case, kind=Letter.Kind.PUBLIC_COPY)
    public.full_clean()
    public.save()
    assert first.case.letters.count() == 2


@pytest.mark.parametrize(
    "missing",
    [{"sha256": ""}, {"rendered_at": None}, {"sha256": "", "rendered_at": None}],
    ids=["hash", "time", "both"],
)
def test_a_ready_letter_without_its_hash_and_time_is_refused_by_the_database(db, missing):
    letter = LetterFactory()
    ready = {"status": Letter.Status.READY, "sha256": "a" * 64, "rendered_at": timezone.now(), **missing}
    with refused_by_database("letter_ready_has_hash_and_time"):
        Letter.objects.filter(pk=letter.pk).update(**ready)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.QUEUED


def test_a_ready_letter_without_its_hash_is_refused_by_full_clean(db):
    letter = LetterFactory.build(case=CaseFactory(), status=Letter.Status.READY, rendered_at=timezone.now())
    assert full_clean_errors(letter) == violated("letter_ready_has_hash_and_time")


def test_a_ready_letter_with_its_hash_and_time_is_accepted(db):
    letter = LetterFactory.build(
        case=CaseFactory(), status=Letter.Status.READY, sha256="a" * 64, rendered_at=timezone.now()
    )
    letter.full_clean()
    letter.save()
    assert Letter.objects.filter(pk=letter.pk, status=Letter.Status.READY).exists()


def test_a_corrected_letter_without_a_reason_is_refused_by_the_database(db):
    case = CaseFactory()
    LetterFactory(case=case)
    with refused_by_database("letter_correction_has_reason"):
        LetterFactory(case=case, version=2)
    assert case.letters.count() == 1


def test_a_corrected_letter_without_a_reason_is_refused_by_full_clean(db):
    first = LetterFactory()
    assert full_clean_errors(LetterFactory.build(case=first.case, version=2)) == violated(
        "letter_correction_has_reason"
    )


def test_a_corrected_letter_with_its_reason_is_accepted(db):
    first = LetterFactory()
    correction = LetterFactory.build(case=first.case, version=2, correction_reason="Wrong date of injury.")
    correction.full_clean()
    correction.save()
    assert list(first.case.letters.values_list("version", flat=True)) == [2, 1]


# CaseEvent: append-only


@pytest.fixture
def event(coordinator):
    return CaseEvent.record(CaseFactory(), by=coordinator, note="application received")


def test_recording_an_event_stores_the_actor_and_the_statuses(coordinator):
    case = CaseFactory()
    CaseEvent.record(case, by=coordinator, note="eligible", from_status=S.RECEIVED)
    assert list(case.events.values_list("actor", "from_status", "to_status", "note")) == [
        (coordinator.pk, S.RECEIVED, S.RECEIVED, "eligible")
    ]


def test_an_event_cannot_be_saved_again(event):
    event.note = "rewritten"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    assert CaseEvent.objects.get(pk=event.pk).note == "application received"


def test_an_event_cannot_be_deleted(event):
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    assert CaseEvent.objects.filter(pk=event.pk).exists()


def test_events_cannot_be_updated_in_bulk(event):
    with pytest.raises(TypeError, match="append-only"):
        CaseEvent.objects.filter(pk=event.pk).update(note="rewritten")
    event.note = "rewritten"
    # bulk_update opens atomic(savepoint=False): without a savepoint of our own the error would break the test's.
    with pytest.raises(TypeError, match="append-only"), transaction.atomic():
        CaseEvent.objects.bulk_update([event], ["note"])
    assert CaseEvent.objects.get(pk=event.pk).note == "application received"


def test_events_cannot_be_deleted_in_bulk(event):
    with pytest.raises(TypeError, match="append-only"):
        CaseEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(TypeError, match="append-only"):
        CaseEvent.objects.all().delete()
    assert CaseEvent.objects.filter(pk=event.pk).exists()


def test_events_reached_through_a_case_cannot_be_updated_or_deleted(event):
    with pytest.raises(TypeError, match="append-only"):
        event.case.events.update(note="rewritten")
    with pytest.raises(TypeError, match="append-only"):
        event.case.events.all().delete()
    assert CaseEvent.objects.get(pk=event.pk).note == "application received"


@pytest.mark.parametrize(
    ("body_part", "side", "level", "expected"),
    [
        ("Lumbar spine", "right", "L5-S1", "Lumbar spine · Right · L5-S1"),
        ("", "bilateral", "L4-5", "Bilateral · L4-5"),
        ("", "left", "", "Left"),
        ("", "", "", ""),
    ],
)
def test_an_items_location_leaves_out_what_is_not_given(body_part, side, level, expected):
    from reviews.models import DisputedItem

    assert DisputedItem(body_part=body_part, side=side, spinal_level=level).location == expected
