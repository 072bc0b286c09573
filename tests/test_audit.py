"""Every read of case data is in the audit log with who and from where, one entry a request; bulk writes keep
their history; a case's access history lists who opened what."""

import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from reviews import services
from reviews.audit import case_reads, record_access, record_list_access, update_with_history
from reviews.deadlines import load_california_holidays
from reviews.models import Case, CaseDocument, DisputedItem, Holiday, Letter, OutboxEntry
from tests.factories import (
    CaseDocumentFactory,
    CaseFactory,
    CitationFactory,
    DiagnosisFactory,
    DisputedItemFactory,
    LetterFactory,
    OrganizationFactory,
    ProviderFactory,
    TreatmentCategoryFactory,
)

S = Case.Status
ADDRESS = "198.51.100.23"


def reads(since=None):
    """The reads of data recorded after `since` (a mark()), leaving out sign-ins (force_login records one)."""
    entries = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exclude(additional_data__has_key="event")
    return entries.filter(pk__gt=since) if since is not None else entries


def mark() -> int:
    return LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.fixture
def world(settings, tmp_path, coordinator, reviewer, submitted_case):
    """bob's submitted case with its document on disk; a received, a ready and an assigned case; an issued
    determination with a ready letter; and a party of each kind."""
    settings.MEDIA_ROOT = tmp_path
    document = submitted_case.documents.get()
    document.file.name = default_storage.save("cases/report.pdf", ContentFile(b"%PDF-1.4 report"))
    document.save()
    category = TreatmentCategoryFactory(name="Therapies")
    assigned = CaseFactory(status=S.ASSIGNED, reviewer=reviewer)
    DisputedItemFactory(case=assigned, position=1, category=category)
    issued = CaseFactory(status=S.ISSUED, reviewer=reviewer, decision_date=dt.date(2026, 6, 1))
    item = DisputedItemFactory(
        case=issued, position=1, request_text="Acupuncture 6 sessions", decision="upheld", category=category
    )
    CitationFactory(item=item)
    letter = LetterFactory(
        case=issued, status=Letter.Status.READY, text="Final determination", sha256="a" * 64, rendered_at=timezone.now()
    )
    OrganizationFactory(name="Acme Employer")
    ProviderFactory(name="Dr. Linda Marsh")
    return {
        "submitted": submitted_case,
        "document": document,
        "received": CaseFactory(),
        "ready": CaseFactory(status=S.READY_FOR_ASSIGNMENT),
        "assigned": assigned,
        "issued": issued,
        "letter": letter,
    }


def _case(name, view, *args):
    return lambda w: (reverse(f"reviews:{view}", args=[w[name].case_number, *args]), w[name].case_number)


def _list(path, name):
    return lambda w: (path, w[name].case_number)


# (who, the URL and the case number its read must name). A new page showing case data belongs here.
PHI_PAGES = {
    "case list": ("coordinator", _list("/cases/", "submitted")),
    "dashboard": ("coordinator", _list("/", "submitted")),
    "quality review list": ("coordinator", _list("/cases/qa/", "submitted")),
    "case page": ("coordinator", _case("submitted", "case_detail")),
    "quality review page": ("coordinator", _case("submitted", "case_qa")),
    "public copy review": ("coordinator", _case("submitted", "case_public_copy")),
    "eligibility": ("coordinator", _case("received", "case_eligibility")),
    "assignment": ("coordinator", _case("ready", "case_assign")),
    "document upload": ("coordinator", _case("submitted", "document_upload")),
    "letters": ("coordinator", _case("issued", "case_letters")),
    "letter download": ("coordinator", _case("issued", "letter_download", 1, "final", "txt")),
    "document download": (
        "coordinator",
        lambda w: (reverse("reviews:document_file", args=[w["submitted"].case_number, w["document"].pk]), None),
    ),
    "organisation search": ("coordinator", lambda w: ("/organizations/search/?kind=employer&q=acme", None)),
    "provider search": ("coordinator", lambda w: ("/providers/search/?q=marsh", None)),
    "access history": ("coordinator", _case("submitted", "case_access_history")),
    "dispute": ("coordinator", _case("submitted", "case_dispute")),
    "precedent search": ("coordinator", _list("/precedents/?q=acupuncture", "issued")),
    "reviewer queue": ("reviewer", _list("/queue/", "submitted")),
    "attestation": ("reviewer", _case("assigned", "case_attest")),
    "workspace": ("reviewer", _case("submitted", "case_workspace")),
    "letter preview": ("reviewer", _case("submitted", "case_preview")),
    "precedent panel": (
        "reviewer",
        lambda w: (reverse("reviews:case_precedents", args=[w["submitted"].case_number]) + "?item=1", None),
    ),
    "public copy": ("reviewer", _case("issued", "precedent_public_copy")),
}


@pytest.mark.parametrize("page", PHI_PAGES)
def test_every_page_showing_case_data_records_one_read_with_the_user_and_the_address(client, request, world, page):
    persona, target = PHI_PAGES[page]
    user = request.getfixturevalue(persona)
    user = getattr(user, "user", user)
    url, case_number = target(world)
    client.force_login(user)
    since = mark()

    response = client.get(url, REMOTE_ADDR=ADDRESS)

    assert response.status_code == 200
    (entry,) = reads(since)
    assert (entry.actor, entry.remote_addr) == (user, ADDRESS)
    if case_number is not None:
        assert entry in case_reads(Case.objects.get(case_number=case_number))


def test_a_list_read_is_one_entry_naming_every_case_on_the_page(client, coordinator):
    cases = [CaseFactory() for _ in range(3)]
    client.force_login(coordinator)

    client.get("/cases/", REMOTE_ADDR=ADDRESS)

    (entry,) = reads()
    assert entry.additional_data == {"page": "case list", "shown": sorted(c.case_number for c in cases)}
    assert all(entry in case_reads(case) for case in cases)


def test_a_list_that_shows_nothing_records_nothing(client, coordinator):
    client.force_login(coordinator)
    client.get("/cases/qa/")
    assert not reads().exists()


# The admin's pages of a case's records.

ADMIN_RECORDS = {
    "case": lambda case: case,
    "item": lambda case: case.items.get(),
    "diagnosis": lambda case: DiagnosisFactory(case=case, position=1),
    "document": lambda case: case.documents.get(),
    "letter": lambda case: LetterFactory(case=case),
}


@pytest.mark.parametrize("view", ["change", "history", "auditlog"])
@pytest.mark.parametrize("record", ADMIN_RECORDS)
def test_the_admin_change_and_history_pages_of_a_cases_records_are_reads_of_the_case(
    client, admin_user, submitted_case, record, view
):
    obj = ADMIN_RECORDS[record](submitted_case)
    url = reverse(f"admin:reviews_{obj._meta.model_name}_{view}", args=[obj.pk])
    client.force_login(admin_user)
    since = mark()

    response = client.get(url, REMOTE_ADDR=ADDRESS)

    assert response.status_code == 200
    (entry,) = reads(since)
    assert (entry.actor, entry.remote_addr) == (admin_user, ADDRESS)
    assert (entry.content_type.model_class(), entry.object_id) == (type(obj), obj.pk)
    assert entry.additional_data["page"] == {"change": "admin change", "history": "admin history"}.get(
        view, "admin change history"
    )
    assert entry in case_reads(submitted_case)


def test_a_refused_admin_change_is_a_read_again_when_the_form_comes_back_with_its_errors(
    client, admin_user, submitted_case
):
    client.force_login(admin_user)
    url = reverse("admin:reviews_case_change", args=[submitted_case.pk])
    since = mark()

    response = client.post(url, {"employee_name": ""})

    assert response.status_code == 200 and response.context["errors"]
    assert reads(since).count() == 1


# The case's access history page.


def test_the_access_history_lists_who_opened_what_from_where_newest_first(client, coordinator, reviewer):
    case, other = CaseFactory(), CaseFactory()
    document = CaseDocumentFactory(case=case, author="Dr. Linda Marsh")
    record_list_access(Case, [other.case_number, case.case_number], by=coordinator, page="case list")
    record_access(document, by=reviewer.user, case_number=case.case_number, first_opening_by_reviewer=False)
    record_access(other, by=coordinator, page="case")
    client.force_login(coordinator)

    response = client.get(reverse("reviews:case_access_history", args=[case.case_number]), REMOTE_ADDR=ADDRESS)

    rows = [(e.actor.username, e.description) for e in response.context["page"]]
    assert rows == [
        ("alice", "access history"),
        ("bob", f"Case document: {document} (opened)"),
        ("alice", "case list, with 1 other case"),
    ]
    body = response.content.decode()
    assert ADDRESS in body and "Bob Reviewer" in body


def test_the_access_history_pages_fifty_reads_at_a_time_in_seven_queries(
    client, coordinator, django_assert_num_queries
):
    case = CaseFactory()
    for _ in range(60):
        record_access(case, by=coordinator, page="case")
    client.force_login(coordinator)
    url = reverse("reviews:case_access_history", args=[case.case_number])

    # session, user, groups, the case, the record of this read, the count, the page of reads with actors
    with django_assert_num_queries(7):
        response = client.get(url, {"page": 2})

    assert len(response.context["page"].object_list) == 11


def test_the_access_history_is_for_coordinators(client, reviewer, submitted_case):
    url = reverse("reviews:case_access_history", args=[submitted_case.case_number])
    assert client.get(url).url.startswith(reverse("account_login"))
    client.force_login(reviewer.user)
    since = mark()
    assert client.get(url).status_code == 403
    assert client.post(url).status_code in (403, 405)
    assert not reads(since).exists()


# Bulk writes keep their history.


def _history(obj):
    return LogEntry.objects.get_for_object(obj).filter(action=LogEntry.Action.UPDATE).order_by("-pk")


def test_reassigning_clears_the_items_with_a_history_entry_for_each(coordinator, other_reviewer, submitted_case):
    case = services.case_return_to_reviewer(case=submitted_case, by=coordinator, comments="Reassigning.")
    item = case.items.get()

    services.case_reassign_reviewer(case=case, reviewer=other_reviewer, by=coordinator, reason="Unavailable.")

    entry = _history(item).first()
    assert entry.actor == coordinator
    assert entry.changes["decision"] == ["upheld", ""]
    assert entry.changes["rationale"][1] == ""


def test_a_retried_letter_and_a_swept_case_keep_their_history(coordinator, settings):
    letter = LetterFactory(status=Letter.Status.FAILED, failure_reason="WeasyPrint crashed")
    services.letter_retry(letter=letter, by=coordinator)
    entry = _history(letter).first()
    assert entry.actor == coordinator and entry.changes["status"] == ["failed", "queued"]

    case = CaseFactory(records_complete_date=dt.date(2026, 10, 8), decision_due_date=dt.date(2026, 10, 9))
    from reviews.services.notifications import deadline_sweep

    overdue, _ = deadline_sweep(today=dt.date(2026, 11, 1))
    assert overdue == [case.pk]
    changed = {name for entry in _history(case) for name in entry.changes}
    assert changed == {"overdue_notified_at", "due_soon_notified_at"}


def test_the_reviewers_first_opening_of_a_document_keeps_its_history(client, reviewer, submitted_case):
    document = CaseDocumentFactory(case=submitted_case)
    services.document_open(document=document, by=reviewer.user)
    (entry,) = _history(document)
    assert entry.actor == reviewer.user and entry.changes["first_opened_at"][0] == "None"


def test_loading_holidays_writes_their_creation(db):
    Holiday.objects.all().delete()
    added = load_california_holidays([2031])
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Holiday), action=LogEntry.Action.CREATE
    )
    assert entries.count() == added > 0


def test_update_with_history_updates_like_update_and_writes_nothing_when_nothing_matched(coordinator):
    item = DisputedItemFactory(rationale="Kept.")
    matched = DisputedItem.objects.filter(pk=item.pk, decision="overturned")

    assert update_with_history(matched, by=coordinator, rationale="Changed.") == 0
    assert DisputedItem.objects.get(pk=item.pk).rationale == "Kept."
    assert not _history(item).exists()
    assert update_with_history(DisputedItem.objects.filter(pk=item.pk), by=coordinator, rationale="Changed.") == 1
    assert _history(item).get().changes == {"rationale": ["Kept.", "Changed."]}
    with pytest.raises(TypeError, match="keeps no history"):
        update_with_history(OutboxEntry.objects.all(), by=coordinator, key="x")
    assert CaseDocument.objects.count() == 0
