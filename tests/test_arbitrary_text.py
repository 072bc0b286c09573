"""Arbitrary text (NUL, bidi controls, other scripts' digits, very long strings) in the intake, the workspace's
autosave and every search: never a 500; refused input gets a 4xx or a form error and leaves nothing written."""

import contextlib
import operator

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviews import services
from reviews.models import Case, DisputedItem
from tests.factories import GuidelineFactory, TreatmentCategoryFactory
from tests.test_intake import snapshot, valid_data

# Characters that have broken web applications: NUL, bidi overrides and isolates, zero-width ones,
# digits of other scripts (which int() accepts and a database does not), combining marks, quotes,
# wildcards of LIKE, and characters outside the Basic Multilingual Plane.
AWKWARD = "\x00\u202e\u202d\u2066\u2069\u200b\u200f\ufeff²٣߂൧\u0301\r\n\t'\"<>%_\\;—\U0001f600"

hostile_text = st.one_of(
    st.text(max_size=40),
    # What UTF-8 can carry: a lone surrogate cannot be sent in a form or URL (the test client cannot encode it).
    st.text(alphabet=st.sampled_from(AWKWARD) | st.characters(codec="utf-8"), max_size=40),
    # Longer than any limit: a field, a search box, a URL.
    st.builds(operator.mul, st.sampled_from(["x", "²", "\u202e", "é ", "%"]), st.integers(1_000, 30_000)),
)

# A 500 raises in the test client; hypothesis then shrinks the text to the smallest that does it.
examples = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@contextlib.contextmanager
def rolled_back():
    """Each example starts from the same database: a case one example makes is not a duplicate for the next."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


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


INTAKE_FIELDS = [
    "priority",
    "employee_name",
    "employee_birth_date",
    "employee_sex",
    "claim_number",
    "adj_number",
    "date_of_injury",
    "remand_of",
    "employer_name",
    "claims_administrator_name",
    "provider_name",
    "provider_npi",
    "employee_attorney_name",
    "diagnoses-0-icd10_code",
    "diagnoses-0-description",
    "items-TOTAL_FORMS",
    "items-0-request_text",
    "items-0-category",
    "items-0-ur_action",
    "items-0-authorized_part",
    "items-1-spinal_level",
]


@settings(examples, max_examples=30)  # each example renders the whole intake page again
@given(field=st.sampled_from(INTAKE_FIELDS), text=hostile_text)
def test_an_intake_with_any_text_in_any_field_creates_one_whole_case_or_refuses_in_place(
    client, coordinator, categories, field, text
):
    client.force_login(coordinator)
    with rolled_back():
        before = snapshot()
        response = client.post("/cases/new/", valid_data(categories) | {field: text})
        after = snapshot()
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 400:
        assert after == before
    else:
        assert after["reviews.Case"] == before["reviews.Case"] + 1
        assert after["reviews.DisputedItem"] == before["reviews.DisputedItem"] + 2


@pytest.fixture
def in_review(ready_case, coordinator, reviewer):
    """ready_case accepted by its reviewer, who has saved nothing yet."""
    case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    return services.case_accept(case=case, by=reviewer.user, attested=True)


@examples
@given(field=st.sampled_from(["version", "clinical_case_summary"]), text=hostile_text)
def test_an_autosave_of_the_summary_with_any_text_saves_it_whole_or_saves_nothing(
    client, reviewer, in_review, field, text
):
    client.force_login(reviewer.user)
    payload = {"version": in_review.summary_version, "clinical_case_summary": "Draft."} | {field: text}
    with rolled_back():
        response = client.post(f"/cases/{in_review.case_number}/review/summary/", payload)
        saved = Case.objects.values_list("clinical_case_summary", "summary_version").get(pk=in_review.pk)
    assert response.status_code in (200, 400, 409), response.status_code  # 409: a version not the latest
    if response.status_code == 200:
        assert saved == (payload["clinical_case_summary"].replace("\r\n", "\n").replace("\r", "\n"), 1)
    else:
        assert saved == ("", in_review.summary_version)


ITEM_FIELDS = [
    "version",
    "decision",
    "ca_guideline",
    "ca_sections",
    "ca_pages",
    "review_guideline",
    "review_sections",
    "review_pages",
    "rationale",
    "internal_note",
]


@examples
@given(field=st.sampled_from(ITEM_FIELDS), text=hostile_text)
def test_an_autosave_of_an_item_with_any_text_saves_the_panel_whole_or_saves_nothing(
    client, reviewer, in_review, field, text
):
    guideline = GuidelineFactory()
    item = in_review.items.get()
    client.force_login(reviewer.user)
    payload = {
        "version": item.version,
        "decision": "upheld",
        "review_guideline": str(guideline.pk),
        "review_sections": "Physical Medicine",
        "review_pages": "98",
        "rationale": "The guideline recommends fewer sessions.",
    } | {field: text}
    with rolled_back():
        response = client.post(f"/cases/{in_review.case_number}/review/items/1/", payload)
        saved = DisputedItem.objects.values_list("version", "decision", "rationale").get(pk=item.pk)
        citations = item.citations.count()
    assert response.status_code in (200, 400, 409), response.status_code
    if response.status_code != 200:
        assert saved == (item.version, "", "") and citations == 0
    else:
        assert saved[0] == item.version + 1


# Each search with its parameters; the text goes into one of them, the others keep a sane value.
SEARCHES = {
    "case list": ("/cases/", {"q": "", "status": "", "priority": "", "category": "", "sort": "", "page": "1"}),
    "guideline search": ("/guidelines/search/", {"q": "MTUS"}),
    "organisation search": ("/organizations/search/", {"kind": "employer", "q": "Sun"}),
    "provider search": ("/providers/search/", {"q": "Marsh"}),
    "precedent search": (
        "/precedents/",
        {"q": "therapy", "category": "", "decision": "", "decided_from": "", "page": "1"},
    ),
}


@pytest.mark.parametrize("search", SEARCHES)
def test_a_search_with_any_text_in_any_parameter_answers_without_a_500(client, coordinator, categories, search):
    url, params = SEARCHES[search]
    client.force_login(coordinator)

    @examples
    @given(name=st.sampled_from(sorted(params)), text=hostile_text)
    def search_with(name, text):
        response = client.get(url, params | {name: text})
        assert response.status_code in (200, 400), response.status_code

    search_with()


def test_the_workspaces_precedent_panel_answers_any_text_without_a_500(client, reviewer, in_review):
    client.force_login(reviewer.user)
    url = f"/cases/{in_review.case_number}/review/precedents/"

    @examples
    @given(name=st.sampled_from(["q", "item", "category", "decision"]), text=hostile_text)
    def panel_with(name, text):
        response = client.get(url, {"item": "1", "q": "therapy"} | {name: text})
        assert response.status_code in (200, 400, 404), response.status_code

    panel_with()
