"""Guards every page shares: hostile input refused with 400, no 500 on odd requests (case data never cached, and
who may open what: tests/test_access_matrix.py; hostile files: tests/test_hostile_files.py)."""

import io

import pytest
from django.urls import reverse

from reviews.models import Case, DisputedItem
from tests.factories import CaseFactory, DisputedItemFactory


@pytest.mark.parametrize(
    "url", ["/guidelines/search/?q=%00", "/cases/?q=a%00b", "/organizations/search/?kind=employer&q=%00"]
)
def test_a_nul_character_anywhere_in_a_request_is_refused_with_400(client, coordinator, url):
    client.force_login(coordinator)
    response = client.get(url)
    assert response.status_code == 400 and b"NUL character" in response.content


def test_a_nul_character_in_a_form_field_is_refused_and_nothing_is_saved(client, coordinator):
    client.force_login(coordinator)
    before = Case.objects.count()
    response = client.post(reverse("reviews:case_intake"), {"employee_name": "Ann\x00Lee"})
    assert response.status_code == 400 and Case.objects.count() == before


def test_a_guideline_id_written_in_other_digits_is_refused_without_a_500(client, reviewer, coordinator):
    from reviews import services
    from tests.factories import TreatmentCategoryFactory

    category = TreatmentCategoryFactory(name="Rehabilitation")
    category.accepted_specialties.add(reviewer.certifications.get().specialty)
    case = CaseFactory()
    item = DisputedItemFactory(case=case, position=1, category=category)
    case = services.case_confirm_eligibility(case=case, by=coordinator, eligible=True)
    case = services.case_request_records(case=case, by=coordinator)
    case = services.case_complete_records(case=case, by=coordinator)
    case = services.case_assign_reviewer(case=case, reviewer=reviewer, by=coordinator)
    services.case_accept(case=case, by=reviewer.user, attested=True)
    client.force_login(reviewer.user)
    response = client.post(
        reverse("reviews:case_item_save", args=[case.case_number, 1]),
        {"version": 0, "decision": "upheld", "ca_guideline": ["²"], "review_guideline": [""], "rationale": "x"},
    )
    assert response.status_code == 400 and b"not in the catalogue" in response.content
    assert DisputedItem.objects.get(pk=item.pk).decision == ""


def test_the_quality_review_page_of_a_case_without_a_reviewer_says_so(client, coordinator):
    case = CaseFactory()
    DisputedItemFactory(case=case, position=1)
    client.force_login(coordinator)
    response = client.get(reverse("reviews:case_qa", args=[case.case_number]))
    assert response.status_code == 200 and b"there is no determination to show" in response.content


def test_the_admin_history_of_a_missing_record_is_a_404(admin_client):
    assert admin_client.get("/admin/reviews/case/999999/auditlog/").status_code == 404


# Bounded work on hostile input (the files themselves: tests/test_hostile_files.py).


def test_unknown_and_duplicate_columns_are_listed_up_to_twenty(coordinator):
    from reviews import services
    from reviews.importers import CASE_COLUMNS

    header = ",".join([*CASE_COLUMNS, *(f"extra{n}" for n in range(30)), "priority"]) + "\n"
    result = services.cases_import_csv(by=coordinator, file=io.BytesIO(header.encode()), filename="x.csv")
    reasons = " ".join(error.message for error in result.errors)
    assert "Column(s) appearing twice: priority." in reasons
    assert "extra19 and 10 more (compare with the sample file)" in reasons


@pytest.mark.parametrize("name", ["Ann\u202eeL", "Ann\u200bLee", "Ann\x07Lee"])
def test_a_name_with_an_invisible_control_character_is_refused_at_intake(client, coordinator, name):
    client.force_login(coordinator)
    response = client.post(reverse("reviews:case_intake"), {"employee_name": name})
    assert response.status_code == 400
    assert "Remove the invisible control character" in response.content.decode()
    assert not Case.objects.exists()


def test_a_name_in_a_script_that_needs_a_joiner_is_accepted():
    from reviews.models import name_validator

    name_validator("Mehr\u200cnoush")  # a zero-width non-joiner, as Persian writes it


def test_a_request_longer_than_any_published_one_is_refused_at_intake(client, coordinator):
    client.force_login(coordinator)
    response = client.post(
        reverse("reviews:case_intake"),
        {"items-TOTAL_FORMS": 1, "items-INITIAL_FORMS": 0, "items-0-request_text": "x" * 1001},
    )
    assert response.status_code == 400 and "at most 1000 characters" in response.content.decode()


@pytest.mark.parametrize(
    ("url", "status", "title"),
    [("/cases/CM99-9999999/review/", 404, "Not found"), ("/cases/new/", 403, "Not open to you")],
)
def test_error_pages_are_the_applications_own_in_production_mode(client, reviewer, settings, url, status, title):
    settings.DEBUG = False
    client.force_login(reviewer.user)
    response = client.get(url)
    assert response.status_code == status
    html = response.content.decode()
    assert f'<h1 class="h4">{title}</h1>' in html and "IMR Desk" in html
    assert response["Cache-Control"] == "no-store, private"


def test_the_server_error_page_renders_without_a_request():
    from django.template.loader import render_to_string

    assert "Something went wrong on our side" in render_to_string("500.html")
