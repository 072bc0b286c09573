"""Intake: the new-case page (parties on file or new, diagnoses, disputed items) and its autocomplete endpoints."""

import re

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from reviews.models import ITEM_FIELDS, Case, CaseEvent, Diagnosis, DisputedItem, Organization, Provider
from reviews.services import cases as case_services
from tests.factories import (
    CaseFactory,
    OrganizationFactory,
    ProviderFactory,
    SpecialtyFactory,
    TreatmentCategoryFactory,
)

URL = "/cases/new/"
ORG_SEARCH = "/organizations/search/"
PROVIDER_SEARCH = "/providers/search/"
Kind = Organization.Kind


@pytest.fixture
def categories(db):
    rehab = TreatmentCategoryFactory(name="Rehabilitation")
    injection = TreatmentCategoryFactory(name="Injection")
    return {
        "rehab": rehab,
        "therapy": TreatmentCategoryFactory(name="Occupational therapy", parent=rehab),
        "injection": injection,
        "epidural": TreatmentCategoryFactory(name="Epidural steroid injection", parent=injection),
    }


def management(prefix, total):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "50",
    }


def item(n, **fields):
    """The POST fields of disputed item row `n` (blank unless given)."""
    values = dict.fromkeys(ITEM_FIELDS, "") | fields
    return {f"items-{n}-{name}": value for name, value in values.items()}


def valid_data(categories, **changes):
    """A complete intake: new parties, two diagnoses and a blank row, a modified and a denied item."""
    data = {
        "priority": "standard",
        "employee_name": "Jane Employee",
        "employee_birth_date": "1967-05-02",
        "employee_sex": "F",
        "claim_number": "05-12345",
        "adj_number": "ADJ1234567",
        "date_of_injury": "2007-02-21",
        "ur_decision_date": "2026-10-01",
        "application_received_date": "2026-10-08",
        "remand_of": "",
        "employer_name": "Sunrise Bakeries",
        "claims_administrator_name": "State Compensation Insurance Fund",
        "ur_organization_name": "",
        "provider_name": "Dr. Linda Marsh",
        "provider_npi": "1234567890",
        "employee_attorney_name": "",
        **management("diagnoses", 3),
        "diagnoses-0-icd10_code": "M51.26",
        "diagnoses-0-description": "Lumbar disc displacement",
        "diagnoses-1-icd10_code": "G89.4",
        "diagnoses-1-description": "Chronic pain syndrome",
        "diagnoses-2-icd10_code": "",
        "diagnoses-2-description": "",
        **management("items", 2),
        **item(
            0,
            request_text="Additional occupational therapy 2x6 weeks (12 sessions) low back, right shoulder",
            category=categories["rehab"].pk,
            subcategory=categories["therapy"].pk,
            body_part="Low back",
            ur_action="modified",
            authorized_part="6 sessions",
        ),
        **item(
            1,
            request_text="Lumbar epidural steroid injection L4-5",
            category=categories["injection"].pk,
            subcategory=categories["epidural"].pk,
            body_part="Lumbar spine",
            side="bilateral",
            spinal_level="L4-5",
            ur_action="denied",
        ),
    }
    return data | changes


def snapshot():
    """Rows in every table of the project: a refused intake must leave each count as it was."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def field_html(response, field_id):
    """The HTML of one field's crispy wrapper (label, input, its messages), up to the next field."""
    content = response.content.decode()
    start = content.index(f'id="div_id_{field_id}"')
    end = content.find('id="div_id_', start + 1)
    return content[start : end if end > 0 else None]


@pytest.fixture
def alice(client, coordinator):
    """A client signed in as the coordinator (before any snapshot: signing in writes a session row)."""
    client.force_login(coordinator)
    return client


# The page


def test_a_coordinator_gets_the_empty_intake_form_with_both_formsets(client, coordinator, categories):
    client.force_login(coordinator)
    response = client.get(URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="diagnoses-TOTAL_FORMS" value="2"' in content
    assert 'name="items-TOTAL_FORMS" value="1"' in content
    # The empty forms "add another" clones, and the script that clones them (no inline script).
    assert 'name="items-__prefix__-request_text"' in content
    assert 'name="diagnoses-__prefix__-icd10_code"' in content
    assert '<script src="/static/js/intake.js" defer></script>' in content
    assert "<script>" not in content
    assert ' style="' not in content
    # Subcategories are grouped by category, so a browser can offer only the chosen category's.
    assert '<optgroup label="Rehabilitation">' in content
    assert 'data-autocomplete-url="/organizations/search/?kind=employer"' in content


def test_a_complete_intake_creates_the_case_with_its_parties_diagnoses_and_items(alice, coordinator, categories):
    response = alice.post(URL, valid_data(categories))

    case = Case.objects.get()
    assert re.fullmatch(r"CM\d{2}-\d{7}", case.case_number)
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.case_number}/"
    followed = alice.get(response["Location"])
    assert f"Case {case.case_number} created." in [str(m) for m in followed.context["messages"]]

    assert case.status == Case.Status.RECEIVED
    assert (case.employee_name, case.employee_sex, case.claim_number) == ("Jane Employee", "F", "05-12345")
    assert str(case.date_of_injury) == "2007-02-21"
    assert str(case.ur_decision_date) == "2026-10-01"
    assert str(case.application_received_date) == "2026-10-08"
    assert (case.employer.kind, case.employer.name) == (Kind.EMPLOYER, "Sunrise Bakeries")
    assert case.claims_administrator.kind == Kind.CLAIMS_ADMINISTRATOR
    assert (case.requesting_provider.name, case.requesting_provider.npi) == ("Dr. Linda Marsh", "1234567890")
    assert case.ur_organization is None and case.employee_attorney is None and case.remand_of is None

    assert list(case.diagnoses.values_list("position", "icd10_code")) == [(1, "M51.26"), (2, "G89.4")]
    items = list(case.items.order_by("position"))
    assert [i.position for i in items] == [1, 2]
    assert (items[0].ur_action, items[0].authorized_part) == ("modified", "6 sessions")
    assert items[0].subcategory == categories["therapy"]
    assert (items[1].category, items[1].side, items[1].spinal_level) == (categories["injection"], "bilateral", "L4-5")

    event = CaseEvent.objects.get(case=case)
    assert (event.actor, event.to_status) == (coordinator, Case.Status.RECEIVED)


def test_case_numbers_follow_each_other(alice, categories):
    alice.post(URL, valid_data(categories))
    alice.post(URL, valid_data(categories, claim_number="05-99999"))
    first, second = Case.objects.order_by("pk").values_list("case_number", flat=True)
    assert int(second[-7:]) == int(first[-7:]) + 1
    # The second intake found the parties the first one added.
    assert Organization.objects.count() == 2
    assert Provider.objects.count() == 1


def test_parties_on_file_are_picked_by_name_however_it_is_typed(alice, categories):
    acme = OrganizationFactory(kind=Kind.EMPLOYER, name="Acme Inc")
    fund = OrganizationFactory(kind=Kind.CLAIMS_ADMINISTRATOR, name="State Compensation Insurance Fund")
    marsh = ProviderFactory(name="Linda Marsh, MD", npi="1234567890")
    data = valid_data(
        categories, employer_name="ACME, Inc.", claims_administrator_name="state compensation insurance fund"
    )
    before = Organization.objects.count(), Provider.objects.count()

    assert alice.post(URL, data | {"provider_npi": ""}).status_code == 302

    case = Case.objects.get()
    assert (case.employer, case.claims_administrator, case.requesting_provider) == (acme, fund, marsh)
    assert (Organization.objects.count(), Provider.objects.count()) == before
    assert Organization.objects.get(pk=acme.pk).name == "Acme Inc"  # the name on file is kept


def test_a_name_on_file_for_another_kind_of_party_is_a_new_party(alice, categories):
    OrganizationFactory(kind=Kind.CLAIMS_ADMINISTRATOR, name="Acme Inc")
    alice.post(URL, valid_data(categories, employer_name="ACME, Inc."))
    employer = Case.objects.get().employer
    assert (employer.kind, employer.name) == (Kind.EMPLOYER, "ACME, Inc.")
    assert Organization.objects.filter(normalized_name="acme").count() == 2


def test_optional_parties_typed_as_new_names_are_added_with_their_kind(alice, categories):
    data = valid_data(categories, ur_organization_name="Coast UR Services", employee_attorney_name="Ramos & Lee, LLP")
    alice.post(URL, data)
    case = Case.objects.get()
    assert (case.ur_organization.kind, case.ur_organization.name) == (Kind.UR_ORGANIZATION, "Coast UR Services")
    assert (case.employee_attorney.kind, case.employee_attorney.name) == (Kind.LAW_FIRM, "Ramos & Lee, LLP")


def test_a_provider_on_file_without_an_npi_is_given_the_npi_typed(alice, categories):
    marsh = ProviderFactory(name="Linda Marsh", npi="")
    alice.post(URL, valid_data(categories))
    marsh.refresh_from_db()
    assert Case.objects.get().requesting_provider == marsh
    assert marsh.npi == "1234567890"
    assert Provider.objects.count() == 1


def test_a_namesake_with_another_npi_is_another_provider(alice, categories):
    other = ProviderFactory(name="Dr. Linda Marsh", npi="9999999999")
    alice.post(URL, valid_data(categories))
    provider = Case.objects.get().requesting_provider
    assert provider != other
    assert provider.npi == "1234567890"


def test_a_remand_names_the_earlier_case(alice, categories):
    earlier = CaseFactory(case_number="CM25-0000042")
    alice.post(URL, valid_data(categories, remand_of=" cm25-0000042 "))
    assert Case.objects.exclude(pk=earlier.pk).get().remand_of == earlier


def test_icd10_codes_are_stored_as_coders_mean_them(alice, categories):
    alice.post(URL, valid_data(categories, **{"diagnoses-0-icd10_code": " m5126 "}))
    assert Diagnosis.objects.order_by("position").first().icd10_code == "M51.26"


def test_blank_rows_between_items_are_skipped_and_positions_stay_consecutive(alice, categories):
    data = valid_data(categories) | management("items", 3) | item(1)
    data |= item(2, request_text="Functional capacity evaluation", category=categories["rehab"].pk, ur_action="delayed")
    alice.post(URL, data)
    items = DisputedItem.objects.order_by("position")
    assert [(i.position, i.request_text[:10]) for i in items] == [(1, "Additional"), (2, "Functional")]


# Bad input: a message next to the field, a 400, and nothing saved at all (not even a new party).

BAD_INPUT = {
    "the injury after the UR decision": (
        {"date_of_injury": "2026-10-02"},
        "date_of_injury",
        "The date of injury must be on or before the UR decision date.",
    ),
    "the UR decision after the application": (
        {"ur_decision_date": "2026-10-09"},
        "ur_decision_date",
        "The UR decision date must be on or before the application received date.",
    ),
    "an application received in the future": (
        {"application_received_date": "2099-01-01"},
        "application_received_date",
        "The application cannot be received in the future.",
    ),
    "a birth date after the injury": (
        {"employee_birth_date": "2008-01-01"},
        "employee_birth_date",
        "The birth date must be before the date of injury.",
    ),
    "an unknown ICD-10 shape": (
        {"diagnoses-1-icd10_code": "12.X"},
        "diagnoses-1-icd10_code",
        "Enter an ICD-10 code such as M51.26",
    ),
    "a diagnosis code without its text": (
        {"diagnoses-1-description": ""},
        "diagnoses-1-description",
        "This field is required.",
    ),
    "the same diagnosis twice": (
        {"diagnoses-1-icd10_code": "m51.26"},
        "diagnoses-1-icd10_code",
        "M51.26 is already listed above.",
    ),
    "a modified item without the authorised part": (
        {"items-0-authorized_part": ""},
        "items-0-authorized_part",
        "UR modified this request: say what it authorised.",
    ),
    "an authorised part for a denied item": (
        {"items-1-authorized_part": "3 sessions"},
        "items-1-authorized_part",
        "Leave this empty unless UR modified the request.",
    ),
    "an item without its UR action": ({"items-1-ur_action": ""}, "items-1-ur_action", "This field is required."),
    "a missing employer": ({"employer_name": ""}, "employer_name", "This field is required."),
    "a party name without a letter": ({"employer_name": "--"}, "employer_name", "at least one letter or digit"),
    "an NPI that is not ten digits": ({"provider_npi": "12345"}, "provider_npi", "An NPI is exactly ten digits."),
    "an unknown remanded case": ({"remand_of": "CM25-0009999"}, "remand_of", "No case has the number CM25-0009999."),
    "a remand that is not a case number": ({"remand_of": "42"}, "remand_of", "Enter a case number such as"),
}


@pytest.mark.parametrize(("changes", "field", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_refused_in_place_and_saves_nothing(alice, categories, changes, field, message):
    before = snapshot()
    response = alice.post(URL, valid_data(categories, **changes))
    assert response.status_code == 400
    assert snapshot() == before
    assert message in field_html(response, field)
    assert "Nothing was saved." in response.content.decode()


def test_a_subcategory_of_another_category_is_refused_in_place(alice, categories):
    before = snapshot()
    response = alice.post(URL, valid_data(categories, **{"items-1-subcategory": categories["therapy"].pk}))
    assert response.status_code == 400
    assert snapshot() == before
    assert "Pick a subcategory of the chosen category." in field_html(response, "items-1-subcategory")


def test_an_intake_without_any_item_is_refused(alice, categories):
    before = snapshot()
    data = valid_data(categories) | item(0) | item(1)
    response = alice.post(URL, data)
    assert response.status_code == 400
    assert snapshot() == before
    assert "Add at least one disputed item." in response.content.decode()
    assert list(response.context["items"].non_form_errors()) == ["Add at least one disputed item."]


def test_a_refused_intake_keeps_every_row_typed(alice, categories):
    data = valid_data(categories, date_of_injury="2026-12-01") | management("items", 3)
    data |= item(2, request_text="Home health aide 4 hours a day", category=categories["rehab"].pk, ur_action="denied")
    response = alice.post(URL, data)
    content = response.content.decode()
    assert 'name="items-TOTAL_FORMS" value="3"' in content
    assert "Home health aide 4 hours a day" in content
    assert 'value="Sunrise Bakeries"' in content


def test_an_ambiguous_provider_name_asks_for_the_npi(alice, categories):
    ProviderFactory(name="Dr. Linda Marsh", npi="")
    ProviderFactory(name="Linda Marsh, MD", npi="")
    before = snapshot()
    response = alice.post(URL, valid_data(categories, provider_npi=""))
    assert response.status_code == 400
    assert snapshot() == before
    assert "give the NPI to pick one" in field_html(response, "provider_name")


def test_an_npi_of_someone_else_is_refused_on_the_npi(alice, categories):
    ProviderFactory(name="Dr. Omar Haddad", npi="1234567890")
    before = snapshot()
    response = alice.post(URL, valid_data(categories))
    assert response.status_code == 400
    assert snapshot() == before
    assert "NPI 1234567890 belongs to Dr. Omar Haddad." in field_html(response, "provider_npi")


def test_a_refusal_by_the_service_rolls_back_the_new_parties_too(alice, categories, monkeypatch):
    # Form validation lets nothing wrong through; simulate a refusal the form cannot foresee
    # (a race) after the new parties and the case were written, inside the same transaction.
    real_case_create = case_services.case_create

    def refusing_case_create(**kwargs):
        real_case_create(**kwargs)
        raise ValidationError({"date_of_injury": "Refused by the service."})

    monkeypatch.setattr(case_services, "case_create", refusing_case_create)
    before = snapshot()
    response = alice.post(URL, valid_data(categories, ur_organization_name="Coast UR Services"))
    assert response.status_code == 400
    assert snapshot() == before
    assert "Refused by the service." in field_html(response, "date_of_injury")


# Who may use the page


def test_anonymous_users_are_sent_to_the_login_page(client, categories):
    response = client.post(URL, valid_data(categories))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Case.objects.exists()


def test_reviewers_may_not_create_cases(client, reviewer, categories):
    client.force_login(reviewer.user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, valid_data(categories)).status_code == 403
    assert not Case.objects.exists() and not Organization.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_not_allowed(client, coordinator, method):
    client.force_login(coordinator)
    assert getattr(client, method)(URL).status_code == 405


# Autocomplete


def test_organization_search_matches_normalised_names_of_one_kind(client, coordinator):
    acme = OrganizationFactory(kind=Kind.EMPLOYER, name="Acme Inc")
    OrganizationFactory(kind=Kind.EMPLOYER, name="Acme Widgets")
    OrganizationFactory(kind=Kind.EMPLOYER, name="Pacific Acme Holdings")
    OrganizationFactory(kind=Kind.CLAIMS_ADMINISTRATOR, name="Acme Claims Services")
    OrganizationFactory(kind=Kind.EMPLOYER, name="Sunrise Bakeries")
    client.force_login(coordinator)

    data = client.get(ORG_SEARCH, {"kind": "employer", "q": "ACME, Inc."}).json()
    # The exact match first, then names starting with the words, then names holding them.
    assert [r["name"] for r in data["results"]] == ["Acme Inc", "Acme Widgets", "Pacific Acme Holdings"]
    assert data["exact"] == {"id": acme.pk, "name": "Acme Inc"}

    data = client.get(ORG_SEARCH, {"kind": "claims_administrator", "q": "acme"}).json()
    assert [r["name"] for r in data["results"]] == ["Acme Claims Services"]
    assert data["exact"] is None


def test_organization_search_needs_every_word_and_answers_nothing_for_nothing(client, coordinator):
    OrganizationFactory(kind=Kind.EMPLOYER, name="Acme Widgets")
    client.force_login(coordinator)
    assert client.get(ORG_SEARCH, {"kind": "employer", "q": "widgets acme"}).json()["results"] != []
    assert client.get(ORG_SEARCH, {"kind": "employer", "q": "acme bakeries"}).json()["results"] == []
    assert client.get(ORG_SEARCH, {"kind": "employer", "q": " ,. "}).json() == {"results": [], "exact": None}


def test_organization_search_returns_at_most_ten_in_a_fixed_number_of_queries(
    client, coordinator, django_assert_num_queries
):
    for n in range(12):
        OrganizationFactory(kind=Kind.EMPLOYER, name=f"Acme {n:02d}")
    client.force_login(coordinator)
    # The session, the user, the user's groups, the search, the audit entry naming what was found.
    with django_assert_num_queries(5):
        data = client.get(ORG_SEARCH, {"kind": "employer", "q": "acme"}).json()
    assert len(data["results"]) == 10


def test_organization_search_refuses_an_unknown_kind(client, coordinator):
    client.force_login(coordinator)
    response = client.get(ORG_SEARCH, {"kind": "hospital", "q": "acme"})
    assert response.status_code == 400
    assert "Unknown kind" in response.json()["error"]


def test_provider_search_matches_names_and_npi_prefixes_and_tells_namesakes_apart(client, coordinator):
    pmr = SpecialtyFactory(name="Physical Medicine and Rehabilitation")
    marsh = ProviderFactory(name="Linda Marsh, MD", npi="1234567890", specialty=pmr)
    ProviderFactory(name="Dr. Lindsey Marshall", npi="")
    ProviderFactory(name="Dr. Omar Haddad", npi="5550001111")
    client.force_login(coordinator)

    data = client.get(PROVIDER_SEARCH, {"q": "lind marsh"}).json()
    assert [r["name"] for r in data["results"]] == ["Dr. Lindsey Marshall", "Linda Marsh, MD"]
    assert data["results"][1]["detail"] == "NPI 1234567890 · Physical Medicine and Rehabilitation"
    assert data["exact"] is None

    data = client.get(PROVIDER_SEARCH, {"q": "Dr. Linda Marsh"}).json()
    assert [r["name"] for r in data["results"]] == ["Linda Marsh, MD"]
    assert data["exact"] == {"id": marsh.pk, "name": "Linda Marsh, MD", "npi": "1234567890"}

    data = client.get(PROVIDER_SEARCH, {"q": "555"}).json()
    assert [r["name"] for r in data["results"]] == ["Dr. Omar Haddad"]


def test_provider_search_returns_at_most_ten(client, coordinator):
    for n in range(12):
        ProviderFactory(name=f"Dr. Kim {n:02d}")
    client.force_login(coordinator)
    assert len(client.get(PROVIDER_SEARCH, {"q": "kim"}).json()["results"]) == 10


@pytest.mark.parametrize("url", [ORG_SEARCH + "?kind=employer&q=acme", PROVIDER_SEARCH + "?q=marsh"])
def test_the_autocomplete_is_for_coordinators_only(client, reviewer, url):
    assert client.get(url).status_code == 302  # anonymous: to the login page
    assert client.get(url)["Location"].startswith("/accounts/login/")
    client.force_login(reviewer.user)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", [ORG_SEARCH + "?kind=employer&q=acme", PROVIDER_SEARCH + "?q=marsh"])
def test_the_autocomplete_answers_only_get(client, coordinator, url):
    client.force_login(coordinator)
    assert client.post(url).status_code == 405
