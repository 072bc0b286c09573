"""Intake written once: the New case page and the CSV importer refuse the same input with the same message."""

import pytest

from reviews import services
from reviews.models import Case
from tests.factories import CaseFactory, ProviderFactory, TreatmentCategoryFactory
from tests.test_imports import HEADER, csv_bytes, row
from tests.test_intake import URL, field_html, item, snapshot, valid_data


def csv_of(**changes) -> bytes:
    """A file of one case (test_imports' row), with the optional columns the page also has."""
    return csv_bytes(row(1, **changes), header=[*HEADER, "remand_of", "confirm_duplicate"])


@pytest.fixture
def categories(db):
    """The catalogue both helpers' cases need: the page's by primary key, the file's by name."""
    rehab = TreatmentCategoryFactory(name="Rehabilitation")
    injection = TreatmentCategoryFactory(name="Injection")
    return {
        "rehab": rehab,
        "therapy": TreatmentCategoryFactory(name="Occupational therapy", parent=rehab),
        "physical": TreatmentCategoryFactory(name="Physical therapy", parent=rehab),
        "injection": injection,
        "epidural": TreatmentCategoryFactory(name="Epidural steroid injection", parent=injection),
    }


# name: (page fields, CSV cells, the page's field (None: the page as a whole), the CSV column, the message)
SAME_REFUSALS = {
    "a birth date after the injury": (
        {"employee_birth_date": "2008-01-01"},
        {"employee_birth_date": "03/05/2024"},
        "employee_birth_date",
        "employee_birth_date",
        "The birth date must be before the date of injury.",
    ),
    "an application received in the future": (
        {"application_received_date": "2099-01-01"},
        {"application_received_date": "01/01/2099"},
        "application_received_date",
        "application_received_date",
        "The application cannot be received in the future.",
    ),
    "an injury after the UR decision": (
        {"date_of_injury": "2026-10-02"},
        {"date_of_injury": "10/02/2026"},
        "date_of_injury",
        "date_of_injury",
        "The date of injury must be on or before the UR decision date.",
    ),
    "a UR decision after the application": (
        {"ur_decision_date": "2026-10-09"},
        {"ur_decision_date": "10/09/2026"},
        "ur_decision_date",
        "ur_decision_date",
        "The UR decision date must be on or before the application received date.",
    ),
    "a date that is not on the calendar": (
        {"date_of_injury": "02/30/2024"},
        {"date_of_injury": "02/30/2024"},
        "date_of_injury",
        "date_of_injury",
        "Enter a date as MM/DD/YYYY or YYYY-MM-DD.",
    ),
    "a two-digit year": (
        {"date_of_injury": "3/4/24"},
        {"date_of_injury": "3/4/24"},
        "date_of_injury",
        "date_of_injury",
        "Enter a date as MM/DD/YYYY or YYYY-MM-DD.",
    ),
    "a missing employee name": (
        {"employee_name": ""},
        {"employee_name": ""},
        "employee_name",
        "employee_name",
        "This field is required.",
    ),
    "a name with an invisible control character": (
        {"employee_name": "Ann\u202eeL"},
        {"employee_name": "Ann\u202eeL"},
        "employee_name",
        "employee_name",
        "Remove the invisible control character (U+202E) from this name.",
    ),
    "a party name without a letter": (
        {"employer_name": "--"},
        {"employer": "--"},
        "employer_name",
        "employer",
        "Enter a name with at least one letter or digit.",
    ),
    "a physician named by a title alone": (
        {"provider_name": "Dr."},
        {"requesting_provider": "Dr."},
        "provider_name",
        "requesting_provider",
        "Enter the physician by name, not only a title or a degree.",
    ),
    "an NPI that is not ten digits": (
        {"provider_npi": "12345"},
        {"requesting_provider_npi": "12345"},
        "provider_npi",
        "requesting_provider_npi",
        "An NPI is exactly ten digits.",
    ),
    "an unknown remanded case": (
        {"remand_of": "CM25-0009999"},
        {"remand_of": "CM25-0009999"},
        "remand_of",
        "remand_of",
        "No case has the number CM25-0009999.",
    ),
    "a code that is not ICD-10": (
        {"diagnoses-1-icd10_code": "123"},
        {"diagnoses": "M51.26 Lumbar disc displacement; 123 Back pain"},
        "diagnoses-1-icd10_code",
        "diagnoses",
        "Enter an ICD-10 code such as M51.26",
    ),
    "the same diagnosis twice": (
        {"diagnoses-1-icd10_code": "m5126"},
        {"diagnoses": "M51.26 Lumbar disc displacement; m5126 Back pain"},
        "diagnoses-1-icd10_code",
        "diagnoses",
        "M51.26 is already listed above.",
    ),
    "a diagnosis without its text": (
        {"diagnoses-1-description": ""},
        {"diagnoses": "M51.26 Lumbar disc displacement; M54.2"},
        "diagnoses-1-description",
        "diagnoses",
        "This field is required.",
    ),
    "no diagnosis": (
        {f"diagnoses-{n}-{f}": "" for n in range(3) for f in ("icd10_code", "description")},
        {"diagnoses": ""},
        None,
        "diagnoses",
        "Add at least one diagnosis.",
    ),
    "a modified item without the authorised part": (
        {"items-0-authorized_part": ""},
        {"item_1_authorized_part": ""},
        "items-0-authorized_part",
        "item_1_authorized_part",
        "UR modified this request: say what it authorised.",
    ),
    "an authorised part for a denied item": (
        {"items-1-authorized_part": "3 sessions"},
        {"item_2_authorized_part": "3 sessions"},
        "items-1-authorized_part",
        "item_2_authorized_part",
        "Leave this empty unless UR modified the request.",
    ),
    "an item without its UR action": (
        {"items-1-ur_action": ""},
        {"item_2_ur_action": ""},
        "items-1-ur_action",
        "item_2_ur_action",
        "This field is required.",
    ),
    "a request longer than any published one": (
        {"items-1-request_text": "x" * 1001},
        {"item_2_request": "x" * 1001},
        "items-1-request_text",
        "item_2_request",
        "Ensure this value has at most 1000 characters (it has 1001).",
    ),
    "no disputed item": (
        item(0) | item(1),
        {f"item_{n}_{f}": "" for n in (1, 2) for f in ("request", "category", "subcategory", "body_part", "side",
                                                          "spinal_level", "ur_action", "authorized_part")},
        None,
        "item_1_request",
        "Add at least one disputed item.",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("page_changes", "csv_changes", "field", "column", "message"), SAME_REFUSALS.values(), ids=SAME_REFUSALS.keys()
)
def test_the_page_and_the_csv_importer_refuse_the_same_input_with_the_same_message(
    client, coordinator, categories, page_changes, csv_changes, field, column, message
):
    client.force_login(coordinator)
    before = snapshot()
    response = client.post(URL, valid_data(categories, **page_changes))
    assert response.status_code == 400
    assert message in (field_html(response, field) if field else response.content.decode())

    result = services.cases_import_csv(by=coordinator, file=csv_of(**csv_changes), filename="cases.csv")
    assert [e.line for e in result.errors] != [] and {e.line for e in result.errors} == {2}
    assert any(e.column == column and message in e.message for e in result.errors), result.errors
    assert snapshot() == before


def test_a_subcategory_of_another_category_is_refused_the_same_way_on_both_paths(client, coordinator, categories):
    client.force_login(coordinator)
    response = client.post(URL, valid_data(categories, **{"items-1-subcategory": categories["therapy"].pk}))
    message = "Pick a subcategory of the chosen category."
    assert message in field_html(response, "items-1-subcategory")
    result = services.cases_import_csv(by=coordinator, file=csv_of(item_2_subcategory="Physical therapy"))
    assert [(e.column, e.message) for e in result.errors] == [("item_2_subcategory", message)]
    assert not Case.objects.exists()


def test_an_npi_of_another_physician_is_refused_the_same_way_on_both_paths(client, coordinator, categories):
    ProviderFactory(name="Dr. Omar Haddad", npi="1234567890")
    client.force_login(coordinator)
    response = client.post(URL, valid_data(categories))
    message = "NPI 1234567890 belongs to Dr. Omar Haddad."
    assert message in field_html(response, "provider_npi")
    result = services.cases_import_csv(by=coordinator, file=csv_of(requesting_provider_npi="1234567890"))
    assert [(e.column, e.message) for e in result.errors] == [("requesting_provider_npi", message)]
    assert not Case.objects.exists()


def test_an_open_dispute_taken_in_again_needs_confirming_on_both_paths(client, coordinator, categories):
    """The same claim, UR decision date and request as an open case: refused, unless confirmed."""
    client.force_login(coordinator)
    first = CaseFactory(claim_number="CLM-0001", ur_decision_date=valid_data(categories)["ur_decision_date"])
    request = "Lumbar epidural steroid injection L4-5"
    first.items.create(position=1, request_text=request, category=categories["injection"], ur_action="denied")
    message = f"{first.case_number} is open for the same claim, UR decision date and request."

    page = client.post(URL, valid_data(categories, claim_number="clm-0001"))
    assert page.status_code == 400 and message in page.content.decode()
    assert 'name="confirm_duplicate"' in page.content.decode()
    cells = {"claim_number": "CLM-0001", "item_2_request": request}
    result = services.cases_import_csv(by=coordinator, file=csv_of(**cells))
    [error] = result.errors
    assert (error.line, error.column) == (2, "confirm_duplicate") and error.message.startswith(message)
    assert Case.objects.count() == 1

    confirmed = client.post(URL, valid_data(categories, claim_number="clm-0001", confirm_duplicate="on"))
    assert confirmed.status_code == 302
    result = services.cases_import_csv(by=coordinator, file=csv_of(confirm_duplicate="yes", **cells))
    assert result.ok, result.errors
    assert Case.objects.filter(claim_number__iexact="clm-0001").count() == 3
