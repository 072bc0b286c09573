"""The Django admin on the demo data: every page of every registered model renders, and read-only stays read-only."""

import io
import re
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from reviews.models import (
    Affiliation,
    Case,
    CaseDocument,
    CaseEvent,
    DisputedItem,
    Letter,
    LetterDelivery,
    Organization,
    Reviewer,
)
from tests.factories import AffiliationFactory, CaseFactory, LetterDeliveryFactory, LetterFactory

# Sorted so that test ids are stable; read at collection time, so a newly registered model is
# covered without touching this file.
REGISTERED = sorted(admin.site._registry.items(), key=lambda pair: pair[0]._meta.label)
MODELS = [pytest.param(model, id=model._meta.label) for model, _ in REGISTERED]

# Records only the application writes: no add page, no editing, no deleting. Listed by hand so
# that a read-only admin appearing (or disappearing) is a decision, not an accident.
# Written only by the application: events, sequences, letters, deliveries; documents arrive by upload.
READ_ONLY = {
    "auditlog.LogEntry",
    "reviews.CaseEvent",
    "reviews.CaseNumberSequence",
    "reviews.CaseDocument",
    "reviews.Letter",
    "reviews.LetterDelivery",
    "reviews.DeterminationImport",
    "reviews.OutboxEntry",
}

EXAMPLE_ITEM = "Additional occupational therapy 2x6 weeks (12 sessions) low back, right shoulder, right wrist"


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo data, loaded once for this module inside a transaction rolled back at its end.

    Each test's own `db` transaction nests inside it (a savepoint), so tests see the demo data,
    may add to it, and leave it as they found it; other modules never see it.
    """
    # Module scope runs before the autouse fast_password_hashing fixture, so ask for the fast hasher here too.
    overrides = override_settings(
        MEDIA_ROOT=tmp_path_factory.mktemp("media"),
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    overrides.enable()
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        call_command("seed_demo", stdout=io.StringIO())
    yield
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)
    overrides.disable()


@pytest.fixture
def superuser(demo, db):
    return get_user_model().objects.get(username="admin", is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def example_case(demo, db):
    return Case.objects.get(items__request_text=EXAMPLE_ITEM)


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def an_object_of(model):
    """A row of `model` from the demo data, or one made here for the models the demo leaves empty."""
    obj = model._default_manager.order_by("pk").first()
    if obj is not None:
        return obj
    example = Case.objects.get(items__request_text=EXAMPLE_ITEM)
    if model is Affiliation:
        return AffiliationFactory(reviewer=Reviewer.objects.first(), organization=Organization.objects.first())
    if model is Letter:
        return LetterFactory(case=example)
    if model is LetterDelivery:
        return LetterDeliveryFactory(letter=example.letters.first())
    coordinator = get_user_model().objects.get(username="coordinator")
    if model is EmailAddress:
        return EmailAddress.objects.create(user=coordinator, email=coordinator.email, primary=True, verified=True)
    if model is Authenticator:
        return TOTP.activate(coordinator, generate_totp_secret()).instance
    pytest.fail(f"The demo data has no {model._meta.label} and this test knows no way to make one: add it here.")


def ready_letter():
    """A ready version 1 on a case of its own (the example case's letter is the demo's)."""
    return LetterFactory(
        case=CaseFactory(),
        status=Letter.Status.READY,
        html="<p>Final determination</p>",
        sha256="a" * 64,
        rendered_at=timezone.now(),
    )


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_renders_on_the_demo_data_with_at_least_one_row(admin_client, model):
    an_object_of(model)

    response = admin_client.get(admin_url(model, "changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 1


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_answers_a_search(admin_client, model):
    response = admin_client.get(admin_url(model, "changelist"), {"q": "a"})

    assert response.status_code == 200
    assert response.context["cl"].query == "a"


@pytest.mark.parametrize("model", MODELS)
def test_every_list_filter_renders_with_its_first_choice_applied(admin_client, model):
    url = admin_url(model, "changelist")
    changelist = admin_client.get(url).context["cl"]
    # The first choice of each filter that is not the one already selected ("All").
    queries = []
    for spec in changelist.filter_specs:
        choice = next((c for c in spec.choices(changelist) if not c["selected"]), None)
        if choice is not None:
            queries.append(choice["query_string"])

    # A filter the admin cannot apply answers a 302 to "?e=1", not an error page: check for 200.
    statuses = {query: admin_client.get(url + query).status_code for query in queries}

    assert statuses == dict.fromkeys(queries, 200)
    assert len(queries) <= len(changelist.filter_specs)


def test_the_admins_without_an_add_page_are_exactly_the_read_only_ones(rf, superuser):
    request = rf.get("/admin/")
    request.user = superuser

    without_add = {model._meta.label for model, ma in REGISTERED if not ma.has_add_permission(request)}

    assert without_add == READ_ONLY


@pytest.mark.parametrize("model", MODELS)
def test_every_add_page_renders_or_is_refused_for_read_only_records(admin_client, model):
    response = admin_client.get(admin_url(model, "add"))

    assert response.status_code == (403 if model._meta.label in READ_ONLY else 200)


@pytest.mark.parametrize("model", MODELS)
def test_every_change_page_renders_for_an_object_of_the_demo_data(admin_client, model):
    obj = an_object_of(model)

    response = admin_client.get(admin_url(model, "change", quote(obj.pk)))

    assert response.status_code == 200
    assert response.context["original"] == obj


def test_the_case_status_is_shown_but_not_editable_in_the_admin(admin_client, rf, superuser, example_case):
    response = admin_client.get(admin_url(Case, "change", example_case.pk))
    html = response.content.decode()

    assert response.status_code == 200
    assert '<div class="readonly">Approved</div>' in html
    assert 'name="status"' not in html
    request = rf.get("/admin/")
    request.user = superuser
    form_class = admin.site._registry[Case].get_form(request, example_case)
    assert "status" not in form_class.base_fields


def test_the_admin_refuses_to_add_change_or_delete_case_events(admin_client, example_case):
    event = CaseEvent.objects.filter(case=example_case).first()
    before = CaseEvent.objects.count()

    add_page = admin_client.get(admin_url(CaseEvent, "add"))
    add_post = admin_client.post(admin_url(CaseEvent, "add"), {"case": example_case.pk, "note": "forged"})
    change_page = admin_client.get(admin_url(CaseEvent, "change", event.pk))
    change_post = admin_client.post(admin_url(CaseEvent, "change", event.pk), {"note": "rewritten"})
    delete_page = admin_client.get(admin_url(CaseEvent, "delete", event.pk))
    delete_post = admin_client.post(admin_url(CaseEvent, "delete", event.pk), {"post": "yes"})
    changelist = admin_client.get(admin_url(CaseEvent, "changelist"))

    assert (add_page.status_code, add_post.status_code) == (403, 403)
    # The change page is a view-only page: the event is shown, nothing can be saved.
    assert change_page.status_code == 200
    assert 'name="_save"' not in change_page.content.decode()
    assert change_post.status_code == 403
    assert (delete_page.status_code, delete_post.status_code) == (403, 403)
    assert 'value="delete_selected"' not in changelist.content.decode()
    assert CaseEvent.objects.count() == before
    event.refresh_from_db()
    assert event.note == "demo data loaded at this stage"


def test_a_ready_letter_cannot_be_changed_in_the_admin(admin_client, example_case):
    letter = ready_letter()

    page = admin_client.get(admin_url(Letter, "change", letter.pk))
    post = admin_client.post(
        admin_url(Letter, "change", letter.pk),
        {"case": letter.case_id, "version": 1, "kind": "final", "layout": "1999", "correction_reason": "x"},
    )

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403
    letter.refresh_from_db()
    assert (letter.layout, letter.correction_reason) == ("2016", "")


def test_a_ready_letter_cannot_be_deleted_in_the_admin(admin_client, example_case):
    letter = ready_letter()

    page = admin_client.get(admin_url(Letter, "delete", letter.pk))
    post = admin_client.post(admin_url(Letter, "delete", letter.pk), {"post": "yes"})

    assert (page.status_code, post.status_code) == (403, 403)
    assert Letter.objects.filter(pk=letter.pk).exists()


def test_no_letter_is_changed_in_the_admin_whatever_its_status(admin_client, example_case):
    letter = example_case.letters.get(kind=Letter.Kind.FINAL_DETERMINATION)  # queued by the demo

    page = admin_client.get(admin_url(Letter, "change", letter.pk))

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # view only: the case page retries and corrects


def test_the_case_changelist_costs_the_same_queries_with_20_more_cases(admin_client, django_assert_num_queries):
    url = admin_url(Case, "changelist")
    admin_client.get(url)  # warm-up: content types and other per-process caches
    with CaptureQueriesContext(connection) as demo_only:
        assert admin_client.get(url).status_code == 200
    reviewers = list(Reviewer.objects.all())
    # Explicit numbers: the demo already took this year's first numbers from the sequence.
    extra = [CaseFactory(case_number=f"CM99-{n:07d}", reviewer=reviewers[n % len(reviewers)]) for n in range(1, 21)]

    # 7 on the demo data, whatever the number of rows: session, user, the user's groups (navigation),
    # treatment categories and claims administrators (two filters), the bounded count (no total:
    # show_full_result_count), the page of cases with claims administrator and reviewer's user joined in
    # (list_select_related). Without reviewer__user, each row with a reviewer costs two more queries.
    with django_assert_num_queries(len(demo_only.captured_queries)):
        response = admin_client.get(url)

    assert len(demo_only.captured_queries) == 7
    assert response.context["cl"].result_count == Case.objects.count()
    assert all(case.case_number in response.content.decode() for case in extra)


def test_past_its_limit_the_case_changelist_says_there_are_more_and_counts_no_further(admin_client):
    for n in range(1, 5):
        CaseFactory(case_number=f"CM99-{n:07d}")
    url = admin_url(Case, "changelist")

    # A search counts to a lower limit (reviews.pagination.SEARCH_LIMIT).
    with mock.patch("reviews.admin.ADMIN_CASE_LIMIT", 3), mock.patch("reviews.admin.SEARCH_LIMIT", 2):
        listed = admin_client.get(url).content.decode()
        searched = admin_client.get(url, {"q": "CM99"}).content.decode()

    assert "More than 3 cases: filter or search to see the rest" in listed
    assert "more than 2 results" in searched


def test_the_case_changelist_shows_50_cases_a_page(admin_client):
    CaseFactory.create_batch(51)

    response = admin_client.get(admin_url(Case, "changelist"))

    assert len(response.context["cl"].result_list) == 50
    second = admin_client.get(admin_url(Case, "changelist"), {"p": 2}).context["cl"]
    assert len(second.result_list) == min(50, Case.objects.count() - 50)


def test_the_document_links_on_the_case_change_page_open_the_documents(admin_client, example_case):
    html = admin_client.get(admin_url(Case, "change", example_case.pk)).content.decode()
    names = [doc.file.name.rsplit("/", 1)[-1] for doc in CaseDocument.objects.filter(case=example_case)]
    # Whatever the link looks like, it either names the stored file or goes through a documents URL.
    links = {
        href for href in re.findall(r'href="([^"#?]+)"', html) if "/documents/" in href or href.endswith(tuple(names))
    }

    statuses = {link: admin_client.get(link).status_code for link in links}

    assert len(links) >= len(names) == 3
    assert statuses == dict.fromkeys(links, 200)


def test_the_determination_of_an_issued_case_cannot_be_changed_in_the_admin(admin_client, example_case):
    # The letter service is not written yet: put the example case where issuing would leave it.
    Case.objects.filter(pk=example_case.pk).update(status=Case.Status.ISSUED)
    item = DisputedItem.objects.get(case=example_case)

    case_page = admin_client.get(admin_url(Case, "change", example_case.pk)).content.decode()
    item_page = admin_client.get(admin_url(DisputedItem, "change", item.pk)).content.decode()

    # DESIGN.md section 4: after issue nothing about the determination can change, in any interface.
    assert 'name="clinical_case_summary"' not in case_page
    assert 'name="items-0-decision"' not in case_page
    assert 'name="items-0-rationale"' not in case_page
    assert 'name="_save"' not in item_page


def test_the_change_history_of_a_case_shows_who_changed_which_field_from_what_to_what(admin_client, superuser):
    from auditlog.context import set_actor

    case = CaseFactory(employee_name="Before Name")
    with set_actor(superuser):
        case.employee_name = "After Name"
        case.save()
    change_page = admin_client.get(admin_url(Case, "change", case.pk)).content.decode()
    history_url = f"/admin/reviews/case/{case.pk}/auditlog/"
    assert history_url in change_page
    history = admin_client.get(history_url).content.decode()
    assert "Before Name" in history and "After Name" in history
    assert superuser.username in history or superuser.email in history
