"""The example case end to end in the browser: accept, read, write, reload, submit, returned, amend, approve."""

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone
from django.utils.html import escape
from playwright.sync_api import expect

from reviews import services
from reviews.models import Case, CaseDocument, CaseEvent, Citation, Guideline, Letter, Reviewer
from tests.browser.conftest import submit_login

# The live server answers from another thread, so the data must be committed: a transactional test.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

S = Case.Status
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "final-determination-example.txt"
EXAMPLE_CLAIM = "DEMO-2007-0221"
EXAMPLE_ITEM = "Additional occupational therapy 2x6 weeks (12 sessions) low back, right shoulder, right wrist"
REVIEWER = ("dr.alvarez", "imr-demo-reviewer")
COORDINATOR = ("coordinator", "imr-demo-coordinator")
QA_COMMENT = (
    "Item 1: say how the 6 sessions utilization review certified compare with the 9 to 10 sessions MTUS "
    "recommends, so the parties see why the remaining 6 are not necessary."
)
AMENDMENT = (
    "The 6 sessions certified by utilization review, with the home exercise program, already bring the "
    "course of therapy in line with the MTUS recommendation; the further 6 requested are not medically necessary."
)
# Autosave waits 1.5 s after typing stops, then posts; a loaded machine may take a few seconds more.
SAVE_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Determination:
    """The published example's determination, as the reviewer types it into the workspace."""

    summary: str
    decision: str  # "Upheld" or "Overturned", as the letter and the workspace's button say it
    ca_guideline: Guideline
    ca_sections: str
    review_guideline: Guideline
    review_sections: str
    review_pages: str
    rationale: str


def _flat(text: str) -> str:
    # The published letter is wrapped at the page's width; a reviewer types each text as one paragraph.
    return " ".join(text.split())


def _after(text: str, start: str, end: str | None = None) -> str:
    assert start in text, f"{FIXTURE.name} no longer contains {start!r}"
    rest = text.split(start, 1)[1]
    if end is not None:
        assert end in rest, f"{FIXTURE.name} no longer contains {end!r} after {start!r}"
        rest = rest.split(end, 1)[0]
    return rest


def _guideline_named_at_start(text: str) -> tuple[Guideline, str]:
    """The catalogue guideline whose letter name `text` starts with, and the rest of `text`."""
    names = sorted(Guideline.objects.values_list("citation_name", flat=True), key=len, reverse=True)
    name = next((n for n in names if text.startswith(n)), None)
    assert name, f"No guideline of the catalogue is cited as the start of {text!r}"
    return Guideline.objects.get(citation_name=name), text[len(name) :].strip()


def example_determination() -> Determination:
    """Read the summary, the decision, both guidelines and the rationale from the published example."""
    text = FIXTURE.read_text()
    summary = _flat(_after(text, "including all medical records:", "IMR ISSUES, DECISIONS AND RATIONALES"))
    # The published letter blanks the requesting physician's name; this case names her (as the demo does).
    assert "diagnoses per are:" in summary, "the fixture's blanked physician name moved"
    summary = summary.replace("diagnoses per are:", "diagnoses per Dr. Linda Marsh are:")

    decision = re.search(r"right\s+wrist:\s+(Upheld|Overturned)", text)
    assert decision, "the fixture's decision line changed"

    ca_line = _flat(_after(text, "Decision based on Non-MTUS Citation", "MAXIMUS guideline:"))
    ca_guideline, ca_rest = _guideline_named_at_start(ca_line)
    ca_sections = ca_rest.lstrip("; ").strip()

    review_line = _flat(_after(text, "MAXIMUS guideline: Decision based on", "Decision rationale:"))
    review_guideline, review_rest = _guideline_named_at_start(review_line)
    review_cite = re.fullmatch(r"(.+?) Page\(s\): ([0-9, ]+)\.?", review_rest)
    assert review_cite, f"the fixture's review citation changed: {review_rest!r}"

    return Determination(
        summary=summary,
        decision=decision[1],
        ca_guideline=ca_guideline,
        ca_sections=ca_sections,
        review_guideline=review_guideline,
        review_sections=review_cite[1],
        review_pages=review_cite[2].strip(),
        rationale=_flat(_after(text, "Decision rationale:")),
    )


def _pdf(title: str, body: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=f"<h1>{escape(title)}</h1><p>{escape(body)}</p>").write_pdf()


@pytest.fixture
def example_case(transactional_db, media_root):
    """The published example case, fresh: assigned to dr.alvarez, two records, no determination yet."""
    call_command("seed_demo", stdout=io.StringIO())
    coordinator = get_user_model().objects.get(username=COORDINATOR[0])
    alvarez = Reviewer.objects.get(user__username=REVIEWER[0])
    # The demo's own copy is approved already; the new case takes its facts, not its determination.
    demo = Case.objects.get(claim_number=EXAMPLE_CLAIM, status=S.APPROVED)
    demo_item = demo.items.get(request_text=EXAMPLE_ITEM)
    assert demo_item.category.name == "Rehabilitation"
    assert demo_item.ur_action == "modified"
    facts = [
        "claim_number",
        "priority",
        "employee_name",
        "employee_birth_date",
        "employee_sex",
        "adj_number",
        "date_of_injury",
        "employer",
        "claims_administrator",
        "ur_organization",
        "requesting_provider",
        "employee_attorney",
        "ur_decision_date",
        "application_received_date",
    ]
    case = services.case_create(
        by=coordinator,
        diagnoses=[{"icd10_code": d.icd10_code, "description": d.description} for d in demo.diagnoses.all()],
        items=[
            {
                "request_text": demo_item.request_text,
                "category": demo_item.category,
                "subcategory": demo_item.subcategory,
                "body_part": demo_item.body_part,
                "ur_action": demo_item.ur_action,
                "authorized_part": demo_item.authorized_part,
            }
        ],
        confirm_duplicate=True,  # the demo's own copy of this dispute is still open (approved)
        **{field: getattr(demo, field) for field in facts},
    )
    for kind, author, day, submitted_by, title in [
        ("progress_report", "Dr. Linda Marsh", dt.date(2014, 8, 6), "physician", "Progress report 08/06/2014"),
        ("ur_letter", "Coastal Utilization Review", dt.date(2014, 8, 21), "ca", "Utilization review 08/21/2014"),
    ]:
        pdf = _pdf(title, "Test record: no real patient data.")
        services.document_add(
            case=case,
            by=coordinator,
            file=SimpleUploadedFile(f"{kind}.pdf", pdf, content_type="application/pdf"),
            kind=kind,
            author=author,
            service_date=day,
            submitted_by=submitted_by,
        )
    case = services.case_confirm_eligibility(case=case, by=coordinator, eligible=True)
    case = services.case_request_records(case=case, by=coordinator)
    case = services.case_complete_records(case=case, by=coordinator)
    case = services.case_assign_reviewer(case=case, reviewer=alvarez, by=coordinator)
    assert case.status == S.ASSIGNED
    assert case.clinical_case_summary == "" and not case.items.exclude(decision="").exists()
    yield case
    if settings.REDIS_URL:
        # The assignment e-mail and the letter went to Redis; no worker here will take them.
        from imr.celery import app

        app.control.purge()


def log_in(page, base_url: str, username: str, password: str):
    page.goto(f"{base_url}/")
    expect(page).to_have_url(f"{base_url}/accounts/login/?next=/")
    submit_login(page, username, password)


def wait_saved(page, case: Case, panel: str):
    """Wait for the panel's visible "Saved at" mark with nothing of it left unsaved in this browser.

    The workspace keeps a panel's unsent or unanswered text in localStorage until its save
    succeeds, so no draft left means the server has what is on screen, not an older save's text.
    """
    status = page.locator(f"#save-status-{panel}")
    expect(status).to_have_text(re.compile(r"^Saved at \d\d:\d\d:\d\d\.$"), timeout=SAVE_TIMEOUT_MS)
    page.wait_for_function(
        """([panel, prefix]) => {
            const mark = document.getElementById("save-status-" + panel);
            if (!mark || mark.dataset.state !== "saved") return false;
            for (let i = 0; i < localStorage.length; i++) {
                if (localStorage.key(i).startsWith(prefix)) return false;
            }
            return true;
        }""",
        arg=[panel, f"imr-draft:{case.case_number}:{panel}:"],
        timeout=SAVE_TIMEOUT_MS,
    )


def to_top(page):
    """Scroll the page and the workspace's records column (sticky, scrolling on its own) back to their tops.

    Opening the documents scrolled the records column; a screenshot shows the page as a reader starts it.
    """
    # "instant": Bootstrap makes scrolling smooth, and a screenshot taken mid-animation misplaces the column.
    page.evaluate(
        """() => {
            window.scrollTo({top: 0, behavior: "instant"});
            document.querySelector(".ws-records")?.scrollTo({top: 0, behavior: "instant"});
        }"""
    )
    page.wait_for_function("window.scrollY === 0 && (document.querySelector('.ws-records')?.scrollTop ?? 0) === 0")


def status_of(case: Case) -> str:
    case.refresh_from_db()
    return case.status


def option_label(guideline: Guideline) -> str:
    # The picker names a guideline as the letter prints it (templates/reviews/includes/_ws_citation_row.html).
    return guideline.citation_name


def citations_of(item) -> list[tuple[str, str, str, str]]:
    return [
        (c.role, c.guideline.citation_name, c.sections, c.pages)
        for c in item.citations.select_related("guideline").order_by("role", "position")
    ]


def test_a_reviewer_writes_the_example_determination_and_quality_review_returns_it_then_approves_it(
    live_server, page, browser_console, second_page, screenshot, example_case
):
    case = example_case
    base = live_server.url
    workspace_url = f"{base}/cases/{case.case_number}/review/"
    wanted = example_determination()
    documents = list(case.documents.order_by("pk"))
    assert len(documents) == 2 and all(d.first_opened_at is None for d in documents)

    # The reviewer logs in and lands on the queue.
    log_in(page, base, *REVIEWER)
    expect(page).to_have_url(f"{base}/queue/")
    expect(page.get_by_role("heading", name="My cases")).to_be_visible()
    row = page.locator("table.ws-queue tbody tr", has_text=case.case_number)
    expect(row).to_contain_text("Assigned")
    screenshot(page, "reviewer-queue")
    browser_console.assert_clean("the reviewer's queue")

    # The attestation, before any record is visible.
    row.get_by_role("link", name="Check conflicts and accept").click()
    expect(page).to_have_url(f"{base}/cases/{case.case_number}/attest/")
    parties = page.locator(".ws-parties")
    for name in ["Jane Demo-Example", "Golden State Grocers, Inc.", "Pacific Claims Management", "Dr. Linda Marsh"]:
        expect(parties).to_contain_text(name)
    expect(page.get_by_role("link", name=re.compile("Progress report"))).to_have_count(0)
    screenshot(page, "reviewer-attest")
    browser_console.assert_clean("the attestation page")
    page.get_by_label(re.compile("I have no material professional, familial or financial affiliation")).check()
    page.get_by_role("button", name="Accept the case").click()

    expect(page).to_have_url(workspace_url)
    assert status_of(case) == S.ACCEPTED

    # Every document opens in a new tab through the permission-checked view, which records the opening.
    links = page.locator("#documents a.ws-document-link")
    expect(links).to_have_count(2)
    for n in range(2):
        with page.expect_popup() as opened:
            links.nth(n).click()
        popup = opened.value
        popup.wait_for_load_state()
        assert "/documents/" in popup.url, popup.url
        popup.close()
    expect(page.locator("#documents [data-opened-mark]", has_text="Opened")).to_have_count(2)
    assert all(d.first_opened_at is not None for d in case.documents.all())

    # The clinical case summary: the first save starts the review.
    page.locator("#summary-text").fill(wanted.summary)
    wait_saved(page, case, "summary")
    assert status_of(case) == S.IN_REVIEW
    assert case.clinical_case_summary == wanted.summary

    # The item: decision, the claims administrator's guideline, the review's citation, the rationale.
    item_panel = page.locator("#item-1")
    expect(item_panel).to_contain_text(EXAMPLE_ITEM)
    item_panel.locator(f"label[for='item-1-{wanted.decision.lower()}']").click()
    wait_saved(page, case, "item-1")
    ca_row = item_panel.locator('[data-citations="ca"] [data-citation-row]').first
    ca_row.get_by_label("Guideline").select_option(label=option_label(wanted.ca_guideline))
    wait_saved(page, case, "item-1")
    ca_row.get_by_label("Sections").fill(wanted.ca_sections)
    wait_saved(page, case, "item-1")
    review_row = item_panel.locator('[data-citations="review"] [data-citation-row]').first
    review_row.get_by_label("Guideline").select_option(label=option_label(wanted.review_guideline))
    wait_saved(page, case, "item-1")
    review_row.get_by_label("Sections").fill(wanted.review_sections)
    wait_saved(page, case, "item-1")
    review_row.get_by_label("Pages").fill(wanted.review_pages)
    wait_saved(page, case, "item-1")
    rationale = page.locator("#item-1-rationale")
    rationale.fill(wanted.rationale)
    wait_saved(page, case, "item-1")
    # Leaving the summary for the item fired a "change" on it with nothing new: it still reads saved.
    expect(page.locator("#save-status-summary")).to_have_attribute("data-state", "saved")

    item = case.items.get()
    assert item.decision == wanted.decision.lower()
    assert item.rationale == wanted.rationale
    assert not item.ca_cited_no_evidence and not item.review_cited_no_evidence
    expected_citations = [
        (Citation.Role.CLAIMS_ADMINISTRATOR, wanted.ca_guideline.citation_name, wanted.ca_sections, ""),
        (Citation.Role.REVIEW, wanted.review_guideline.citation_name, wanted.review_sections, wanted.review_pages),
    ]
    assert sorted(citations_of(item)) == sorted(expected_citations)
    assert (wanted.ca_guideline.citation_name, wanted.ca_sections) == (
        "ODG (Official Disability Guidelines)",
        "Physical Therapy Guidelines",
    )
    assert (wanted.review_guideline.citation_name, wanted.review_sections, wanted.review_pages) == (
        "MTUS Chronic Pain Treatment Guidelines",
        "Physical Medicine",
        "98, 99",
    )
    to_top(page)
    screenshot(page, "reviewer-workspace")
    browser_console.assert_clean("the workspace, while writing")

    # A reload shows the text as the server sends it: the page's HTML holds it and nothing is restored
    # from the browser's drafts (wait_saved left none).
    response = page.reload()
    html = response.text()
    assert escape(wanted.summary) in html and escape(wanted.rationale) in html
    expect(page.locator("#summary-text")).to_have_value(wanted.summary)
    expect(rationale).to_have_value(wanted.rationale)
    expect(page.locator(f"#item-1-{wanted.decision.lower()}")).to_be_checked()
    expect(ca_row.get_by_label("Guideline")).to_have_value(str(wanted.ca_guideline.pk))
    expect(ca_row.get_by_label("Sections")).to_have_value(wanted.ca_sections)
    expect(review_row.get_by_label("Guideline")).to_have_value(str(wanted.review_guideline.pk))
    expect(review_row.get_by_label("Sections")).to_have_value(wanted.review_sections)
    expect(review_row.get_by_label("Pages")).to_have_value(wanted.review_pages)
    expect(page.locator("[data-draft-notice]:not(.d-none)")).to_have_count(0)
    expect(page.locator("#documents [data-opened-mark]", has_text="Opened")).to_have_count(2)
    browser_console.assert_clean("the workspace, reloaded")

    page.get_by_role("button", name="Submit for quality review").click()
    expect(page.locator("#read-only")).to_contain_text("Submitted for quality review")
    expect(page.locator("#problems")).to_have_count(0)
    assert status_of(case) == S.SUBMITTED
    to_top(page)
    screenshot(page, "reviewer-workspace-submitted")
    browser_console.assert_clean("the workspace, submitted")

    # The coordinator, in a browser of their own, returns it from quality review with a comment.
    qa, qa_console = second_page
    log_in(qa, base, *COORDINATOR)
    expect(qa).to_have_url(f"{base}/")
    qa_console.assert_clean("the coordinator's dashboard")
    qa.get_by_role("navigation").get_by_role("link", name="Quality review").click()
    expect(qa).to_have_url(f"{base}/cases/qa/")
    qa_row = qa.locator("tbody tr", has_text=case.case_number)
    expect(qa_row).to_contain_text("Jane Demo-Example")
    expect(qa_row).to_contain_text("Maria Alvarez")
    screenshot(qa, "qa-list")
    qa_console.assert_clean("the quality review list")
    qa_row.get_by_role("link", name=case.case_number, exact=True).click()
    expect(qa).to_have_url(f"{base}/cases/{case.case_number}/qa/")
    letter = qa.frame_locator("iframe.imr-letter-frame")
    expect(letter.locator("body")).to_contain_text(wanted.rationale[:80])
    screenshot(qa, "qa-case")
    qa_console.assert_clean("the quality review page")
    qa.get_by_label("Comments for the reviewer").fill(QA_COMMENT)
    qa.get_by_role("button", name="Return to the reviewer").click()
    expect(qa).to_have_url(f"{base}/cases/qa/")
    expect(qa.locator("tbody")).not_to_contain_text(case.case_number)
    assert status_of(case) == S.RETURNED
    assert case.qa_comments == QA_COMMENT
    qa_console.assert_clean("the quality review list, after returning")

    # The reviewer finds the comments at the top of the workspace, amends the rationale and resubmits.
    page.goto(f"{base}/queue/")
    back = page.locator("table.ws-queue tbody tr", has_text=case.case_number)
    expect(back).to_contain_text("Returned")
    back.get_by_role("link", name="Address comments").click()
    expect(page).to_have_url(workspace_url)
    comments = page.locator("#qa-comments")
    expect(comments).to_contain_text(QA_COMMENT)
    assert comments.bounding_box()["y"] < page.locator("#summary").bounding_box()["y"]
    rationale.press("Control+End")
    rationale.press_sequentially(" " + AMENDMENT)
    wait_saved(page, case, "item-1")
    assert status_of(case) == S.IN_REVIEW
    amended = f"{wanted.rationale} {AMENDMENT}"
    item.refresh_from_db()
    assert item.rationale == amended
    assert sorted(citations_of(item)) == sorted(expected_citations)
    to_top(page)
    screenshot(page, "reviewer-workspace-returned")
    browser_console.assert_clean("the returned workspace")
    page.get_by_role("button", name="Submit for quality review").click()
    expect(page.locator("#read-only")).to_contain_text("Submitted for quality review")
    assert status_of(case) == S.SUBMITTED
    assert case.qa_comments == QA_COMMENT
    browser_console.assert_clean("the workspace, resubmitted")

    # The coordinator confirms the public copy (the physician's name struck out), then approves; the
    # letter is queued (no worker renders it here).
    qa.reload()
    qa.locator("tbody tr", has_text=case.case_number).get_by_role("link", name=case.case_number, exact=True).click()
    expect(qa.frame_locator("iframe.imr-letter-frame").locator("body")).to_contain_text(AMENDMENT[:80])
    expect(qa.get_by_role("button", name="Approve the determination")).to_be_disabled()
    qa.get_by_role("link", name="Check and confirm it").click()
    # Her name as the progress report's author and in the summary.
    expect(qa.locator(".imr-passage mark.imr-cut s")).to_have_text(["Dr. Linda Marsh"] * 2)
    qa_console.assert_clean("the public copy")
    qa.get_by_role("button", name="Confirm the public copy").click()
    expect(qa).to_have_url(f"{base}/cases/{case.case_number}/qa/")
    expect(qa.locator("#qa-public-copy")).to_contain_text("Confirmed")
    qa.get_by_label(re.compile("approve it as final")).check()  # it cannot be undone
    qa.get_by_role("button", name="Approve the determination").click()
    expect(qa).to_have_url(f"{base}/cases/qa/")
    expect(qa.get_by_role("alert").filter(has_text="approved")).to_be_visible()
    assert status_of(case) == S.APPROVED
    assert case.decision_date == timezone.localdate()
    assert case.qa_comments == ""
    assert case.clinical_case_summary == wanted.summary
    item.refresh_from_db()
    assert (item.decision, item.rationale) == (wanted.decision.lower(), amended)
    final_letter = case.letters.get(kind=Letter.Kind.FINAL_DETERMINATION)
    assert (final_letter.version, final_letter.status) == (1, Letter.Status.QUEUED)
    qa_console.assert_clean("the quality review list, after approving")

    # The review's whole path, one transition at a time.
    path = list(
        CaseEvent.objects.filter(case=case)
        .exclude(to_status=F("from_status"))
        .order_by("created_at", "pk")
        .values_list("to_status", flat=True)
    )
    assert path == [
        S.RECEIVED,
        S.ELIGIBLE,
        S.AWAITING_RECORDS,
        S.READY_FOR_ASSIGNMENT,
        S.ASSIGNED,
        S.ACCEPTED,
        S.IN_REVIEW,
        S.SUBMITTED,
        S.RETURNED,
        S.IN_REVIEW,
        S.SUBMITTED,
        S.APPROVED,
    ]
    assert CaseDocument.objects.filter(case=case, first_opened_at__isnull=True).count() == 0

    # The reviewer's workspace is read-only now.
    page.reload()
    expect(page.locator("#read-only")).to_contain_text("approved")
    expect(page.locator("#qa-comments")).to_have_count(0)
    expect(page.locator("#summary-text")).to_have_count(0)
    screenshot(page, "reviewer-workspace-approved")
    browser_console.assert_clean("the approved workspace")
