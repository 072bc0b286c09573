"""The expert reviewer in the browser: queue, attestation, workspace, autosave, preview, submission, access."""

import datetime as dt
import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from reviews import letters, services
from reviews.models import Case, CaseEvent, CaseExclusion, Citation, Guideline
from reviews.services.errors import Refused
from reviews.views.review import STALE_MESSAGE
from tests.factories import (
    CaseDocumentFactory,
    CaseFactory,
    DiagnosisFactory,
    DisputedItemFactory,
    GuidelineFactory,
    OrganizationFactory,
    UserFactory,
    confirm_public_copy,
    review_every_item,
)

S = Case.Status
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def assigned(ready_case, reviewer, coordinator, queued):
    """The ready case, assigned to bob (not yet accepted), with a diagnosis and one document on file."""
    DiagnosisFactory(case=ready_case, position=1)
    CaseDocumentFactory(case=ready_case, file=ContentFile(PDF, name="progress.pdf"), author="Dr. Linda Marsh")
    return services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)


@pytest.fixture
def accepted(assigned, reviewer):
    return services.case_accept(case=assigned, by=reviewer.user, attested=True)


@pytest.fixture
def mtus(db):
    return GuidelineFactory()


@pytest.fixture
def odg(db):
    return GuidelineFactory(
        source=Guideline.Source.ODG,
        title="ODG (Official Disability Guidelines)",
        edition="",
        citation_name="ODG (Official Disability Guidelines)",
    )


def url(name, case, *args):
    return reverse(f"reviews:{name}", args=[case.case_number, *args])


def fresh(case) -> Case:
    return Case.objects.get(pk=case.pk)


def complete(case, reviewer, guideline, *, open_documents=True) -> Case:
    """Write a complete determination through the services, as the workspace would."""
    review_every_item(case, by=reviewer.user, guideline=guideline, open_documents=open_documents)
    return fresh(case)


def item_post(version, **fields):
    data = {
        "version": version,
        "decision": "",
        "ca_guideline": [""],
        "ca_sections": [""],
        "ca_pages": [""],
        "review_guideline": [""],
        "review_sections": [""],
        "review_pages": [""],
        "rationale": "",
        "internal_note": "",
    }
    data.update(fields)
    return data


# 1. The queue.


def _queue_case(reviewer, status, *, priority=Case.Priority.STANDARD, due_in=None, items=1):
    today = timezone.localdate()
    case = CaseFactory(
        status=status,  # a fixture written at its stage: the status is protected from later assignment only
        reviewer=reviewer,
        priority=priority,
        date_assigned=today - dt.timedelta(days=3),
        records_complete_date=dt.date(2026, 10, 9) if due_in is not None else None,
        decision_due_date=today + dt.timedelta(days=due_in) if due_in is not None else None,
    )
    for n in range(items):
        DisputedItemFactory(case=case, position=n + 1)
    return case


def test_the_queue_lists_the_reviewers_own_open_cases_expedited_first_then_by_due_date(
    client, reviewer, other_reviewer
):
    late = _queue_case(reviewer, S.IN_REVIEW, due_in=20, items=3)
    soon = _queue_case(reviewer, S.ACCEPTED, due_in=5)
    expedited = _queue_case(reviewer, S.ASSIGNED, priority=Case.Priority.EXPEDITED, due_in=1)
    returned = _queue_case(reviewer, S.RETURNED, due_in=10)
    submitted = _queue_case(reviewer, S.SUBMITTED, due_in=2)
    hidden = [
        _queue_case(other_reviewer, S.IN_REVIEW, due_in=1),
        _queue_case(reviewer, S.APPROVED, due_in=1),
        _queue_case(reviewer, S.ISSUED, due_in=1),
    ]
    client.force_login(reviewer.user)
    response = client.get(reverse("reviews:reviewer_queue"))
    assert response.status_code == 200
    html = response.content.decode()
    shown = re.findall(r"CM\d{2}-\d{7}", html)
    order = list(dict.fromkeys(shown))
    assert order == [c.case_number for c in (expedited, submitted, soon, returned, late)]
    for case in hidden:
        assert case.case_number not in html
    assert "h left" in html  # the expedited case due tomorrow counts hours
    assert "5 days left" in html
    assert url("case_attest", expedited) in html  # assigned: the attestation first
    assert url("case_workspace", late) in html
    row = html[html.index(late.case_number) :]
    assert re.search(r">\s*3\s*</td>", row)  # its item count


def test_the_queue_method_returns_item_counts_in_due_order(reviewer):
    a = _queue_case(reviewer, S.IN_REVIEW, due_in=9, items=2)
    b = _queue_case(reviewer, S.IN_REVIEW, due_in=3, items=4)
    rows = list(Case.objects.for_reviewer_queue(reviewer))
    assert [(r.pk, r.item_count) for r in rows] == [(b.pk, 4), (a.pk, 2)]


def test_an_empty_queue_says_so(client, reviewer):
    client.force_login(reviewer.user)
    response = client.get(reverse("reviews:reviewer_queue"))
    assert b"No cases assigned to you" in response.content


@pytest.mark.parametrize("n", [3, 30])
def test_the_queue_costs_the_same_queries_with_3_or_30_cases(client, reviewer, django_assert_num_queries, n):
    for i in range(n):
        _queue_case(reviewer, S.IN_REVIEW, due_in=i, items=2)
    client.force_login(reviewer.user)
    # session, user, the user's groups, the reviewer profile, the queue (item counts by subquery),
    # the audit entry naming the cases shown
    with django_assert_num_queries(6):
        response = client.get(reverse("reviews:reviewer_queue"))
    assert response.content.decode().count("Open workspace") == n


def test_the_queue_sends_anonymous_users_to_log_in_and_refuses_coordinators(client, coordinator):
    response = client.get(reverse("reviews:reviewer_queue"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(coordinator)
    assert client.get(reverse("reviews:reviewer_queue")).status_code == 403


def test_the_queue_refuses_other_methods(client, reviewer):
    client.force_login(reviewer.user)
    assert client.post(reverse("reviews:reviewer_queue")).status_code == 405


def _completed_case(reviewer, status, decided_days_ago):
    case = _queue_case(reviewer, status, due_in=5)
    Case.objects.filter(pk=case.pk).update(decision_date=timezone.localdate() - dt.timedelta(days=decided_days_ago))
    return case


def test_the_completed_tab_lists_the_reviewers_own_finished_determinations_latest_first(
    client, reviewer, other_reviewer
):
    older = _completed_case(reviewer, S.ISSUED, decided_days_ago=40)
    latest = _completed_case(reviewer, S.ISSUED, decided_days_ago=2)
    approved = _completed_case(reviewer, S.APPROVED, decided_days_ago=1)
    hidden = [
        _completed_case(other_reviewer, S.ISSUED, decided_days_ago=1),
        _queue_case(reviewer, S.IN_REVIEW, due_in=3),
    ]
    client.force_login(reviewer.user)
    response = client.get(reverse("reviews:reviewer_completed"))
    assert response.status_code == 200
    html = response.content.decode()
    order = list(dict.fromkeys(re.findall(r"CM\d{2}-\d{7}", html)))
    assert order == [c.case_number for c in (approved, latest, older)]
    for case in hidden:
        assert case.case_number not in html
    assert url("case_workspace", older) in html
    assert f"{fresh(older).decision_date:%m/%d/%Y}" in html and "days left" not in html
    assert 'aria-current="page" href="/queue/completed/"' in html  # the tab shown as the current one


def test_the_open_queue_links_to_the_completed_tab(client, reviewer):
    client.force_login(reviewer.user)
    html = client.get(reverse("reviews:reviewer_queue")).content.decode()
    assert 'href="/queue/completed/">Completed</a>' in html


def test_the_completed_tab_pages_by_25_in_the_same_queries(client, reviewer, django_assert_num_queries):
    for n in range(30):
        _completed_case(reviewer, S.ISSUED, decided_days_ago=n)
    client.force_login(reviewer.user)
    # session, user, the user's groups, the reviewer profile, the count, the page (item counts by subquery),
    # the audit entry naming the cases shown
    with django_assert_num_queries(7):
        first = client.get(reverse("reviews:reviewer_completed"))
    shown = set(re.findall(r"CM\d{2}-\d{7}", first.content.decode()))
    second = client.get(reverse("reviews:reviewer_completed") + "?page=2")
    rest = set(re.findall(r"CM\d{2}-\d{7}", second.content.decode()))
    assert (len(shown), len(rest), shown & rest) == (25, 5, set())


def test_the_completed_tab_sends_anonymous_users_to_log_in_and_refuses_coordinators_and_posts(
    client, coordinator, reviewer
):
    response = client.get(reverse("reviews:reviewer_completed"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(coordinator)
    assert client.get(reverse("reviews:reviewer_completed")).status_code == 403
    client.force_login(reviewer.user)
    assert client.post(reverse("reviews:reviewer_completed")).status_code == 405


# 2. Accept or decline.


def test_the_attestation_page_names_every_party_and_opens_no_record(client, reviewer, assigned):
    case = Case.objects.select_related("requesting_provider").get(pk=assigned.pk)
    case.requesting_provider.group = OrganizationFactory(kind="provider_group", name="Marsh Spine Group")
    case.requesting_provider.save()
    case.ur_organization = OrganizationFactory(kind="ur_organization", name="Coastal Utilization Review")
    case.employee_attorney = OrganizationFactory(kind="law_firm", name="Ortega & Lee LLP")
    case.save()
    client.force_login(reviewer.user)
    response = client.get(url("case_attest", case))
    assert response.status_code == 200
    html = response.content.decode()
    for name in (
        case.employee_name,
        case.employer.name,
        case.claims_administrator.name,
        case.requesting_provider.name,
        "Marsh Spine Group",
        "Coastal Utilization Review",
        "Ortega &amp; Lee LLP",
    ):
        assert name in html
    assert "documents/" not in html  # no record is reachable before acceptance
    assert "no material professional, familial or financial affiliation" in html


def test_accepting_without_the_attestation_is_refused_in_place(client, reviewer, assigned):
    client.force_login(reviewer.user)
    response = client.post(url("case_attest", assigned), {"action": "accept"})
    assert response.status_code == 400
    assert b"Tick the attestation" in response.content
    assert fresh(assigned).status == S.ASSIGNED


def test_accepting_with_the_attestation_opens_the_workspace(client, reviewer, assigned):
    client.force_login(reviewer.user)
    response = client.post(url("case_attest", assigned), {"action": "accept", "attest": "on"})
    assert response.status_code == 302 and response["Location"] == url("case_workspace", assigned)
    assert fresh(assigned).status == S.ACCEPTED
    event = CaseEvent.objects.filter(case=assigned).last()
    assert event.actor == reviewer.user and "attested" in event.note


def test_declining_for_a_conflict_needs_the_details(client, reviewer, assigned):
    client.force_login(reviewer.user)
    response = client.post(url("case_attest", assigned), {"action": "decline", "reason": "conflict", "detail": ""})
    assert response.status_code == 400
    assert b"Name the party and the tie" in response.content
    assert fresh(assigned).status == S.ASSIGNED


def test_declining_returns_the_case_excludes_the_reviewer_and_tells_the_coordinators(
    client, reviewer, assigned, queued, django_capture_on_commit_callbacks
):
    client.force_login(reviewer.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("case_attest", assigned),
            {"action": "decline", "reason": "conflict", "detail": "I treated the employee in 2019."},
        )
    assert response.status_code == 302 and response["Location"] == reverse("reviews:reviewer_queue")
    case = fresh(assigned)
    assert case.status == S.READY_FOR_ASSIGNMENT and case.reviewer is None
    exclusion = CaseExclusion.objects.get(case=case, reviewer=reviewer)
    assert "I treated the employee in 2019." in exclusion.reason
    assert queued == [("notify_coordinators_declined", (case.pk,))]
    queue = client.get(reverse("reviews:reviewer_queue"))
    assert b"You declined" in queue.content and case.case_number.encode() not in queue.content.split(b"</div>", 3)[-1]
    assert client.get(url("case_attest", case)).status_code == 404


def test_declining_as_unavailable_needs_no_details(client, reviewer, assigned):
    client.force_login(reviewer.user)
    response = client.post(url("case_attest", assigned), {"action": "decline", "reason": "unavailable"})
    assert response.status_code == 302
    assert CaseExclusion.objects.get(case=assigned).reason == "declined: unavailable to complete the review in time"


def test_the_longest_details_allowed_fit_the_exclusion_record(client, reviewer, assigned):
    client.force_login(reviewer.user)
    too_long = client.post(
        url("case_attest", assigned), {"action": "decline", "reason": "unavailable", "detail": "x" * 181}
    )
    assert too_long.status_code == 400 and fresh(assigned).status == S.ASSIGNED
    response = client.post(
        url("case_attest", assigned), {"action": "decline", "reason": "unavailable", "detail": "x" * 180}
    )
    assert response.status_code == 302
    assert CaseExclusion.objects.get(case=assigned).reason.endswith("x" * 180)


def test_an_unknown_attestation_action_changes_nothing(client, reviewer, assigned):
    client.force_login(reviewer.user)
    assert client.post(url("case_attest", assigned), {"action": "maybe"}).status_code == 400
    assert fresh(assigned).status == S.ASSIGNED


def test_a_case_reassigned_while_the_page_was_open_is_reported(client, reviewer, assigned, monkeypatch):
    def moved(**kwargs):
        raise Refused("gone", code="not_allowed")

    monkeypatch.setattr(services, "case_accept", moved)
    client.force_login(reviewer.user)
    response = client.post(url("case_attest", assigned), {"action": "accept", "attest": "on"}, follow=True)
    assert b"changed a moment ago" in response.content


# 3. The workspace.


def test_the_workspace_shows_facts_documents_guidelines_summary_and_one_panel_per_item(
    client, reviewer, accepted, mtus, odg
):
    study = GuidelineFactory(source=Guideline.Source.STUDY, title="A study", edition="", citation_name="A study")
    GuidelineFactory(title="Withdrawn guideline", edition="", citation_name="Withdrawn", active=False)
    document = accepted.documents.get()
    client.force_login(reviewer.user)
    response = client.get(url("case_workspace", accepted))
    assert response.status_code == 200
    html = response.content.decode()
    assert accepted.employee_name in html and accepted.diagnoses.get().icd10_code in html
    assert f'href="{url("document_file", accepted, document.pk)}" target="_blank"' in html
    assert "Not opened" in html
    catalogue = html[html.index('id="guideline-results"') :]
    assert catalogue.index(mtus.title) < catalogue.index(odg.title) < catalogue.index(study.title)
    assert "Withdrawn guideline" not in catalogue
    assert 'id="summary"' in html and 'id="item-1"' in html
    assert f'hx-post="{url("case_item_save", accepted, 1)}"' in html
    assert 'name="version" value="0" id="version-summary"' in html
    assert "did not cite any medical evidence" in html
    assert 'id="citation-row-review"' in html  # the blank row "+ Add a citation" clones


def test_reading_the_workspace_is_written_to_the_audit_log(client, reviewer, accepted):
    from auditlog.models import LogEntry

    client.force_login(reviewer.user)
    client.get(url("case_workspace", accepted))
    entry = LogEntry.objects.get_for_object(accepted).get(action=LogEntry.Action.ACCESS)
    assert entry.actor == reviewer.user and entry.additional_data == {"page": "workspace"}


def test_opening_a_document_from_the_workspace_marks_it_opened(client, reviewer, accepted):
    document = accepted.documents.get()
    client.force_login(reviewer.user)
    response = client.get(url("document_file", accepted, document.pk))
    assert response.status_code == 200
    b"".join(response.streaming_content)
    document.refresh_from_db()
    assert document.first_opened_at is not None
    assert b"Not opened" not in client.get(url("case_workspace", accepted)).content


def test_the_workspace_costs_the_same_queries_however_long_the_case(
    client, reviewer, accepted, mtus, odg, django_assert_num_queries
):
    def count():
        client.force_login(reviewer.user)
        with django_assert_num_queries(11) as captured:
            client.get(url("case_workspace", accepted))
        return len(captured.captured_queries)

    client.force_login(reviewer.user)
    client.get(url("case_workspace", accepted))  # warms the content type cache the audit log uses
    small = count()
    item = accepted.items.get()
    for n in range(2, 6):
        extra = DisputedItemFactory(case=accepted, position=n, category=item.category)
        Citation.objects.create(item=extra, role="review", guideline=mtus, position=1)
        Citation.objects.create(item=extra, role="ca", guideline=odg, position=1)
        CaseDocumentFactory(case=accepted)
        DiagnosisFactory(case=accepted, position=n)
    # session, user, groups, reviewer; the case with its parties; the audit log's record of the
    # reading; diagnoses, items, citations with guidelines, documents; the guideline catalogue
    assert count() == small == 11


def test_quality_review_comments_show_at_the_top_when_the_case_is_returned(
    client, reviewer, coordinator, accepted, mtus
):
    case = complete(accepted, reviewer, mtus)
    services.case_submit(case=case, by=reviewer.user)
    services.case_return_to_reviewer(case=case, by=coordinator, comments="Cite the MTUS page numbers.")
    client.force_login(reviewer.user)
    html = client.get(url("case_workspace", case)).content.decode()
    assert html.index('id="qa-comments"') < html.index('id="summary"')
    assert "Cite the MTUS page numbers." in html
    assert "hx-post" in html  # editable again


def test_guideline_search_filters_the_catalogue_in_search_sequence_order(client, reviewer, coordinator, mtus, odg):
    GuidelineFactory(
        source=Guideline.Source.OTHER_GUIDELINE, title="Chronic pain guideline", edition="", citation_name="CPG"
    )
    GuidelineFactory(title="MTUS Chronic Pain (withdrawn)", edition="", citation_name="Old", active=False)
    for user in (reviewer.user, coordinator):
        client.force_login(user)
        response = client.get(reverse("reviews:guideline_search"), {"q": "chronic pain"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.index(mtus.title) < html.index("Chronic pain guideline")
        assert odg.title not in html and "withdrawn" not in html
    assert (
        b"No guideline in the catalogue matches"
        in client.get(reverse("reviews:guideline_search"), {"q": "acupuncture"}).content
    )


def test_guideline_search_is_for_reviewers_and_coordinators_only(client, db):
    search = reverse("reviews:guideline_search")
    response = client.get(search)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(UserFactory(username="nobody"))
    assert client.get(search).status_code == 403
    assert client.post(search).status_code == 405


# 4. Autosave.


def test_saving_the_summary_stores_it_bumps_the_version_and_says_when(client, reviewer, accepted):
    client.force_login(reviewer.user)
    response = client.post(
        url("case_summary_save", accepted),
        {"version": 0, "clinical_case_summary": "Line one.\r\nLine two. "},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r"Saved at \d\d:\d\d:\d\d", html)
    assert response["X-IMR-Version"] == "1"  # the page's script puts it into the panel
    case = fresh(accepted)
    assert case.clinical_case_summary == "Line one.\nLine two. "  # as typed, with the browser's CRLF folded
    assert case.summary_version == 1 and case.status == S.IN_REVIEW


def test_saving_an_item_panel_stores_the_decision_both_guidelines_and_the_rationale(
    client, reviewer, accepted, mtus, odg
):
    client.force_login(reviewer.user)
    data = item_post(
        0,
        decision="upheld",
        ca_guideline=[str(odg.pk)],
        ca_sections=["Physical Therapy Guidelines"],
        ca_pages=[""],
        review_guideline=[str(mtus.pk), str(odg.pk), ""],
        review_sections=["Physical Medicine", "Low back", "Unfinished row"],
        review_pages=["98, 99", "", ""],
        rationale="The treater does not discuss a home exercise program.",
    )
    response = client.post(url("case_item_save", accepted, 1), data)
    assert response.status_code == 200
    assert b"citation 3 is not saved until you choose its guideline" in response.content
    item = accepted.items.get()
    assert (item.decision, item.version, item.rationale) == (
        "upheld",
        1,
        "The treater does not discuss a home exercise program.",
    )
    assert list(item.citations.values_list("role", "position", "guideline", "sections", "pages")) == [
        ("ca", 1, odg.pk, "Physical Therapy Guidelines", ""),
        ("review", 1, mtus.pk, "Physical Medicine", "98, 99"),
        ("review", 2, odg.pk, "Low back", ""),
    ]


def test_ticking_cited_no_evidence_drops_the_claims_administrators_rows(client, reviewer, accepted, odg):
    client.force_login(reviewer.user)
    response = client.post(
        url("case_item_save", accepted, 1),
        item_post(0, ca_cited_no_evidence="on", ca_guideline=[str(odg.pk)], ca_sections=["x"], ca_pages=["1"]),
    )
    assert response.status_code == 200
    item = accepted.items.get()
    assert item.ca_cited_no_evidence and not item.citations.exists()


def test_two_tabs_saving_from_the_same_version_the_second_is_refused_and_changes_nothing(client, reviewer, accepted):
    client.force_login(reviewer.user)
    first = client.post(url("case_summary_save", accepted), {"version": 0, "clinical_case_summary": "Tab one"})
    second = client.post(url("case_summary_save", accepted), {"version": 0, "clinical_case_summary": "Tab two"})
    assert first.status_code == 200
    assert second.status_code == 409
    assert "changed in another tab or window" in second.content.decode()
    assert "your text is kept here" in second.content.decode()
    assert "X-IMR-Version" not in second  # the panel keeps its old version: it stays refused
    case = fresh(accepted)
    assert (case.clinical_case_summary, case.summary_version) == ("Tab one", 1)


def test_a_stale_item_save_is_refused_and_changes_nothing(client, reviewer, accepted):
    client.force_login(reviewer.user)
    first = client.post(url("case_item_save", accepted, 1), item_post(0, rationale="Tab one"))
    second = client.post(url("case_item_save", accepted, 1), item_post(0, decision="overturned", rationale="Two"))
    assert (first.status_code, second.status_code) == (200, 409)
    assert STALE_MESSAGE.split(":")[0].encode() in second.content
    item = accepted.items.get()
    assert (item.decision, item.rationale, item.version) == ("", "Tab one", 1)


def test_autosave_answers_401_to_an_expired_session_and_saves_nothing(client, reviewer, accepted):
    client.force_login(reviewer.user)
    client.logout()  # as when the session cookie outlives the session
    for name, args, data in (
        ("case_summary_save", (), {"version": 0, "clinical_case_summary": "Lost?"}),
        ("case_item_save", (1,), item_post(0, rationale="Lost?")),
    ):
        response = client.post(url(name, accepted, *args), data, HTTP_HX_REQUEST="true")
        assert response.status_code == 401
        assert "Location" not in response
        html = response.content.decode()
        assert "session has expired" in html
        assert f'href="/accounts/login/?next={url("case_workspace", accepted)}"' in html
    case = fresh(accepted)
    assert case.clinical_case_summary == "" and case.items.get().rationale == ""


@pytest.mark.parametrize(
    "data, reason",
    [
        ({"clinical_case_summary": "No version"}, b"This field is required"),
        ({"version": "x", "clinical_case_summary": "Bad version"}, b"Enter a whole number"),
        ({"version": 0, "clinical_case_summary": "x" * 20_001}, b"at most 20000 characters"),
    ],
)
def test_a_malformed_summary_save_is_refused_with_a_reason(client, reviewer, accepted, data, reason):
    client.force_login(reviewer.user)
    response = client.post(url("case_summary_save", accepted), data)
    assert response.status_code == 400 and reason in response.content
    assert fresh(accepted).clinical_case_summary == ""


def test_an_item_save_naming_an_unknown_guideline_is_refused(client, reviewer, accepted):
    client.force_login(reviewer.user)
    response = client.post(
        url("case_item_save", accepted, 1), item_post(0, review_guideline=["999999"], rationale="Keep?")
    )
    assert response.status_code == 400
    assert b"not in the catalogue" in response.content
    assert accepted.items.get().rationale == ""


def test_an_item_that_does_not_exist_is_404(client, reviewer, accepted):
    client.force_login(reviewer.user)
    assert client.post(url("case_item_save", accepted, 9), item_post(0)).status_code == 404


# 5. Preview.


def test_the_preview_shows_the_letter_with_the_saved_text_and_what_is_still_missing(client, reviewer, accepted):
    services.case_summary_save(case=accepted, by=reviewer.user, text="Summary <b>as typed</b>", version=0)
    client.force_login(reviewer.user)
    response = client.get(url("case_preview", accepted))
    assert response.status_code == 200
    html = response.content.decode()
    frame = re.search(r'<iframe[^>]*sandbox srcdoc="([^"]*)"', html)
    assert frame, "the letter is shown in a sandboxed frame"
    # Escaped twice: once by the letter template, once into the attribute.
    assert "Summary &amp;lt;b&amp;gt;as typed&amp;lt;/b&amp;gt;" in frame[1]
    assert "CLINICAL CASE SUMMARY" in frame[1]
    assert "Still missing before you can submit" in html and "has no decision rationale" in html
    assert reviewer.user.first_name not in frame[1]  # the letter never names the reviewer


# 6. Submit.


def test_submitting_an_empty_review_lists_every_missing_piece_in_place(client, reviewer, accepted):
    client.force_login(reviewer.user)
    response = client.post(url("case_submit", accepted))
    assert response.status_code == 400
    html = response.content.decode()
    top = html[html.index('id="problems"') : html.index('id="summary"')]
    assert 'href="#summary">The clinical case summary is empty.' in top
    assert 'href="#item-1">Item 1 (Physical therapy 2x6 weeks lumbar spine) has no decision.' in top
    assert "has no decision rationale" in top
    assert "record the claims administrator&#x27;s guideline, or that it cited none" in top
    assert "cite a guideline, or state that the review cites no medical evidence" in top
    assert 'href="#documents">You have not opened Progress report, Dr. Linda Marsh' in top
    panel = html[html.index('id="item-1"') :]
    assert "has no decision rationale" in panel[: panel.index("</form>")]  # repeated in the item's panel
    assert fresh(accepted).status == S.ACCEPTED


@pytest.mark.parametrize(
    "missing, message",
    [
        ("summary", "The clinical case summary is empty."),
        ("decision", "has no decision."),
        ("rationale", "has no decision rationale."),
        ("ca_guideline", "record the claims administrator&#x27;s guideline, or that it cited none."),
        ("review_guideline", "cite a guideline, or state that the review cites no medical evidence."),
        ("document", "You have not opened"),
    ],
)
def test_submission_is_refused_for_each_missing_piece_alone(client, reviewer, accepted, mtus, missing, message):
    case = complete(accepted, reviewer, mtus, open_documents=missing != "document")
    item = case.items.get()
    if missing == "summary":
        services.case_summary_save(case=case, by=reviewer.user, text="  ", version=1)
    elif missing != "document":
        fields = {
            "decision": "" if missing == "decision" else "upheld",
            "rationale": "" if missing == "rationale" else "Reasons.",
            "ca_cited_no_evidence": missing != "ca_guideline",
            "ca_citations": [],
            "review_citations": [] if missing == "review_guideline" else [services.CitationInput(guideline=mtus)],
            "review_cited_no_evidence": False,
            "internal_note": "",
        }
        services.item_review_save(item=item, by=reviewer.user, version=item.version, **fields)
    client.force_login(reviewer.user)
    response = client.post(url("case_submit", case))
    assert response.status_code == 400
    html = response.content.decode()
    problems = html[html.index('id="problems"') :]
    problems = problems[: problems.index("</ul>")]
    assert problems.count("<li>") == 1 and message in problems
    assert fresh(case).status == S.IN_REVIEW


def test_stating_that_the_review_cites_no_evidence_stands_in_for_its_citation_without_a_reason(
    client, reviewer, accepted, mtus
):
    case = complete(accepted, reviewer, mtus)
    item = case.items.get()
    services.item_review_save(
        item=item,
        by=reviewer.user,
        version=item.version,
        decision="overturned",
        ca_cited_no_evidence=True,
        ca_citations=[],
        review_citations=[],
        review_cited_no_evidence=True,
        internal_note="",
        rationale="Reasons.",
    )
    client.force_login(reviewer.user)
    assert client.post(url("case_submit", case)).status_code == 302
    assert fresh(case).status == S.SUBMITTED
    text = letters.render_letter(case=letters.letter_queryset().get(pk=case.pk), fmt="text")
    assert "guideline: The Expert Reviewer did not cite any medical evidence for its decision.\n" in text


def test_the_reviewers_note_reaches_quality_review_and_never_the_letter(client, coordinator, reviewer, accepted, mtus):
    case = complete(accepted, reviewer, mtus)
    item = case.items.get()
    note = "Decided on the operative note of 03/02; no guideline covers this device."
    client.force_login(reviewer.user)
    panel = item_post(
        item.version,
        decision="upheld",
        ca_cited_no_evidence="on",
        review_guideline=[str(mtus.pk)],
        rationale="The request exceeds the recommended number of sessions.",
        internal_note=note,
    )
    assert client.post(url("case_item_save", case, item.position), panel).status_code == 200
    assert fresh(case).items.get().internal_note == note
    assert client.post(url("case_submit", case)).status_code == 302
    client.force_login(coordinator)
    assert note in client.get(url("case_qa", case)).content.decode()
    case = letters.letter_queryset().get(pk=case.pk)
    for fmt in ("text", "html"):
        assert "operative note of 03/02" not in letters.render_letter(case=case, fmt=fmt)


def test_a_complete_review_is_submitted_and_becomes_read_only(client, reviewer, accepted, mtus):
    case = complete(accepted, reviewer, mtus)
    client.force_login(reviewer.user)
    response = client.post(url("case_submit", case))
    assert response.status_code == 302 and response["Location"] == url("case_workspace", case)
    case = fresh(case)
    assert case.status == S.SUBMITTED
    assert CaseEvent.objects.filter(case=case, to_status=S.SUBMITTED, actor=reviewer.user).exists()
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "submitted for quality review" in html
    assert "hx-post" not in html and "<textarea" not in html and 'id="submit-form"' not in html
    assert "A 57-year-old with low back pain." in html
    assert 'data-editable="0"' in html
    refused = client.post(url("case_summary_save", case), {"version": 1, "clinical_case_summary": "Late edit"})
    assert refused.status_code == 409
    assert fresh(case).clinical_case_summary == "A 57-year-old with low back pain."
    item = case.items.get()
    refused = client.post(url("case_item_save", case, 1), item_post(item.version, rationale="Late edit"))
    assert refused.status_code == 409 and case.items.get().rationale != "Late edit"
    again = client.post(url("case_submit", case), follow=True)
    assert b"already submitted" in again.content


def test_an_approved_determination_is_read_only_in_the_workspace(client, reviewer, coordinator, accepted, mtus):
    case = complete(accepted, reviewer, mtus)
    services.case_submit(case=case, by=reviewer.user)
    confirm_public_copy(case, by=coordinator)
    services.case_approve(case=case, by=coordinator)
    client.force_login(reviewer.user)
    html = client.get(url("case_workspace", case)).content.decode()
    assert "can no longer change" in html and "hx-post" not in html
    response = client.post(url("case_summary_save", case), {"version": 1, "clinical_case_summary": "Late"})
    assert response.status_code == 409 and b"approved" in response.content


def test_resubmitting_a_returned_case_unchanged_is_refused_with_a_reason(client, reviewer, coordinator, accepted, mtus):
    case = complete(accepted, reviewer, mtus)
    services.case_submit(case=case, by=reviewer.user)
    services.case_return_to_reviewer(case=case, by=coordinator, comments="Add page numbers.")
    client.force_login(reviewer.user)
    response = client.post(url("case_submit", case), follow=True)
    assert b"Nothing has changed since quality review returned the case" in response.content
    assert fresh(case).status == S.RETURNED
    client.post(url("case_summary_save", case), {"version": 1, "clinical_case_summary": "Amended summary."})
    assert client.post(url("case_submit", case)).status_code == 302
    assert fresh(case).status == S.SUBMITTED


# 7. Access: every URL of the workspace, for every persona.

WORKSPACE_URLS = [
    ("GET", "case_attest", ()),
    ("GET", "case_workspace", ()),
    ("POST", "case_summary_save", ()),
    ("POST", "case_item_save", (1,)),
    ("GET", "case_preview", ()),
    ("POST", "case_submit", ()),
    ("GET", "document_file", ("doc",)),
]
AUTOSAVE = {"case_summary_save", "case_item_save"}


@pytest.fixture
def persona(request, client, reviewer, other_reviewer, coordinator, ready_case, queued):
    """Log in as one persona and return the case as that persona finds it."""
    who = request.param
    DiagnosisFactory(case=ready_case, position=1)
    CaseDocumentFactory(case=ready_case, file=ContentFile(PDF, name="record.pdf"))
    case = ready_case
    if who != "unassigned-case":
        case = services.case_assign_reviewer(case=case, reviewer=reviewer, by=coordinator)
    if who == "assigned-accepted":
        case = services.case_accept(case=case, by=reviewer.user, attested=True)
    users = {
        "anonymous": None,
        "coordinator": coordinator,
        "other-reviewer": other_reviewer.user,
        "assigned-not-accepted": reviewer.user,
        "assigned-accepted": reviewer.user,
    }
    if users[who] is not None:
        client.force_login(users[who])
    return who, case


def _expected(who, name, method):
    if who == "anonymous":
        return 401 if name in AUTOSAVE else 302
    if who == "coordinator":
        return 200 if name == "document_file" else 404  # coordinators read records; the review is not theirs
    if who == "other-reviewer":
        return 404
    if who == "assigned-not-accepted":
        return 200 if name == "case_attest" else 404
    # assigned and accepted
    return {"case_attest": 404, "case_submit": 400}.get(name, 200)


@pytest.mark.parametrize(
    "persona",
    ["anonymous", "coordinator", "other-reviewer", "assigned-not-accepted", "assigned-accepted"],
    indirect=True,
)
@pytest.mark.parametrize("method, name, args", WORKSPACE_URLS)
def test_every_workspace_url_answers_each_persona_as_the_access_rules_say(client, persona, method, name, args):
    who, case = persona
    args = tuple(case.documents.get().pk if a == "doc" else a for a in args)
    data = {"summary": {"version": 0, "clinical_case_summary": "x"}, "item": item_post(0)}
    body = data["item"] if name == "case_item_save" else data["summary"] if name == "case_summary_save" else {}
    address = url(name, case, *args)
    response = client.post(address, body) if method == "POST" else client.get(address)
    expected = _expected(who, name, method)
    assert response.status_code == expected, (who, name)
    if expected == 302:
        assert response["Location"].startswith("/accounts/login/")
    if expected == 404:
        assert case.employee_name.encode() not in response.content


@pytest.mark.parametrize(
    "name, args, method",
    [
        ("case_summary_save", (), "get"),
        ("case_item_save", (1,), "get"),
        ("case_submit", (), "get"),
        ("case_workspace", (), "post"),
        ("case_preview", (), "post"),
        ("case_attest", (), "put"),
        ("case_summary_save", (), "put"),
    ],
)
def test_wrong_methods_are_refused(client, reviewer, accepted, name, args, method):
    client.force_login(reviewer.user)
    response = getattr(client, method)(url(name, accepted, *args))
    assert response.status_code == 405
    assert fresh(accepted).status == S.ACCEPTED
