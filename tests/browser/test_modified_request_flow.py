"""A modified request in the browser: entered at intake, decided as its remaining portion, printed as published.

Issue 8: UR authorised part of a request; the review decides only what is left, the workspace says
so, and the letter prints the published sentence ("... was the original request. ... was authorized
by the Claims Administrator. The remaining IMR eligible portion of the original request, ... is:").
"""

import datetime as dt
import io
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from reviews import services
from reviews.models import Case, Citation, DisputedItem, Letter, Reviewer
from reviews.services import letters as letter_services

from .test_review_flow import COORDINATOR, REVIEWER, log_in, to_top, wait_saved

# The live server answers from another thread, so the data must be committed: a transactional test.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CASE_NUMBER = re.compile(r"CM\d{2}-\d{7}")
CLAIM = "BRW-2026-0808"  # a claim of its own: no earlier IMR of the demo data on it
REQUEST = "Physical therapy to the low back eight sessions"
AUTHORIZED = "Physical therapy to the low back six sessions"
REMAINING = "Physical therapy to the low back two sessions"
CA_GUIDELINE = "Official Disability Guidelines (ODG), Low Back Chapter"
CA_SECTIONS = "Physical therapy"
PUBLISHED_SENTENCE = (
    "Physical therapy to the low back eight sessions was the original request. Physical therapy to the low "
    "back six sessions was authorized by the Claims Administrator. The remaining IMR eligible portion of the "
    "original request, Physical therapy to the low back two sessions is: Upheld"
)
NO_EVIDENCE = "The Expert Reviewer did not cite any medical evidence for its decision."
SUMMARY = (
    "The patient is a 48-year-old male with a date of injury of 03/01/2023 and chronic low back pain. "
    "He has completed six sessions of physical therapy with improvement and a home exercise program."
)
RATIONALE = (
    "The six sessions authorized by utilization review complete the course of therapy recommended for this "
    "condition; the patient can continue with his home exercise program. The remaining two sessions are not "
    "medically necessary."
)
NOTE = "The UR letter was partly illegible; the authorised count was read from the RFA's second page."


@pytest.fixture
def shot(pytestconfig):
    """`shot(locator, name)` saves one element as test-results/screenshots/<name>.png, as `screenshot` does pages."""
    folder = Path(pytestconfig.getoption("--output")).absolute() / "screenshots"

    def take(locator, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        locator.screenshot(path=path)
        return path

    return take


def _collapse(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def demo_data(transactional_db, media_root):
    call_command("seed_demo", stdout=io.StringIO())
    yield
    if settings.REDIS_URL:
        # The assignment e-mail and the letter went to Redis; no worker here will take them.
        from imr.celery import app

        app.control.purge()


def open_intake(page, base: str) -> None:
    log_in(page, base, *COORDINATOR)
    expect(page).to_have_url(f"{base}/")
    page.get_by_role("navigation").get_by_role("link", name="New case").click()
    expect(page).to_have_url(f"{base}/cases/new/")


def fill_case(page) -> None:
    """The case and its parties, as the coordinator types them from the application."""
    today = timezone.localdate()
    page.get_by_label("Employee name").fill("Diego Fernandez")
    page.get_by_label("Birth date").fill("1975-04-12")
    page.get_by_label("Claim number").fill(CLAIM)
    page.get_by_label("Date of injury").fill("2023-03-01")
    page.get_by_label("UR decision date").fill(f"{today - dt.timedelta(days=10):%Y-%m-%d}")
    page.get_by_label("Application received").fill(f"{today - dt.timedelta(days=2):%Y-%m-%d}")
    # Names on file, typed in full: the page matches them without picking from the suggestions.
    page.locator("#id_employer_name").fill("Golden State Grocers, Inc.")
    page.locator("#id_claims_administrator_name").fill("Pacific Claims Management")
    page.locator("#id_provider_name").fill("Dr. Linda Marsh")
    page.locator("#id_provider_npi").fill("1609876543")
    page.get_by_role("textbox", name="ICD-10 code").first.fill("M54.50")
    page.get_by_role("textbox", name="Description").first.fill("Low back pain, unspecified")


def fill_item(item, *, authorized: str) -> None:
    """A modified request; the remaining portion is left empty for the page to work out."""
    item.get_by_label("Request").fill(REQUEST)
    item.get_by_role("combobox", name=re.compile(r"^Category")).select_option(label="Rehabilitation")
    item.get_by_label("Subcategory").select_option(label="Physical therapy")
    item.get_by_label("Body part").fill("Low back")
    item.get_by_label("UR action").select_option(label="Modified")
    item.get_by_label("Authorised part").fill(authorized)
    item.get_by_label("Claims administrator's citation 1, guideline").select_option(label=CA_GUIDELINE)
    item.get_by_label("Claims administrator's citation 1, sections").fill(CA_SECTIONS)


def test_a_modified_request_entered_at_intake_is_decided_as_its_remaining_portion_and_printed_as_published(
    live_server, page, browser_console, second_page, screenshot, shot, demo_data, tmp_path
):
    base = live_server.url

    # Intake: a modified request, its authorised part, the claims administrator's guideline from the UR letter.
    open_intake(page, base)
    fill_case(page)
    item_form = page.locator("[data-formset='items'] [data-formset-row]").first
    fill_item(item_form, authorized=AUTHORIZED)
    expect(item_form.get_by_label("Remaining portion")).to_have_value("")
    item_form.scroll_into_view_if_needed()
    shot(item_form, "intake-item-modified")
    browser_console.assert_clean("the intake page, filled")
    page.get_by_role("button", name="Create case").click()

    expect(page).to_have_url(re.compile(rf"{base}/cases/CM\d{{2}}-\d{{7}}/$"))
    case_number = CASE_NUMBER.search(page.url).group()
    expect(page.get_by_role("alert")).to_have_text(f"Case {case_number} created.")
    browser_console.assert_clean("the new case's page")

    # What intake saved: the review decides the remaining portion, worked out from the two texts.
    case = Case.objects.get(case_number=case_number)
    item = case.items.get()
    assert (item.request_text, item.ur_action, item.authorized_part) == (
        REQUEST,
        DisputedItem.URAction.MODIFIED,
        AUTHORIZED,
    )
    assert (item.eligible_scope, item.remaining_part) == (DisputedItem.EligibleScope.REMAINING, REMAINING)
    assert item.decided_request == REMAINING
    assert not item.ca_cited_no_evidence
    assert [
        (c.role, c.position, c.guideline.citation_name, c.sections, c.pages)
        for c in item.citations.select_related("guideline")
    ] == [(Citation.Role.CLAIMS_ADMINISTRATOR, 1, CA_GUIDELINE, CA_SECTIONS, "")]

    # Eligibility, records and assignment are not the subject here: the services a coordinator's pages use.
    coordinator = get_user_model().objects.get(username=COORDINATOR[0])
    case = services.case_confirm_eligibility(case=case, by=coordinator, eligible=True)
    case = services.case_request_records(case=case, by=coordinator)
    case = services.case_complete_records(case=case, by=coordinator)
    alvarez = Reviewer.objects.get(user__username=REVIEWER[0])
    case = services.case_assign_reviewer(case=case, reviewer=alvarez, by=coordinator)
    assert case.status == Case.Status.ASSIGNED

    # The reviewer accepts and sees, in the item panel, exactly which portion they decide.
    page.get_by_role("button", name="Log out").click()
    log_in(page, base, *REVIEWER)
    expect(page).to_have_url(f"{base}/queue/")
    page.locator("table.ws-queue tbody tr", has_text=case_number).get_by_role(
        "link", name="Check conflicts and accept"
    ).click()
    page.get_by_label(re.compile("I have no material professional, familial or financial affiliation")).check()
    page.get_by_role("button", name="Accept the case").click()
    expect(page).to_have_url(f"{base}/cases/{case_number}/review/")

    panel = page.locator("#item-1")
    expect(panel.locator(".card-header")).to_contain_text(REMAINING)
    modified = panel.locator(".ws-modified")

    def told(term: str):
        return modified.locator(f"dt:text-is('{term}') + dd")

    expect(told("Original request")).to_have_text(REQUEST)
    expect(told("UR authorised")).to_have_text(AUTHORIZED)
    expect(told("You decide")).to_have_text(f"the remaining portion: {REMAINING}")
    # The claims administrator's citation entered at intake is there for the reviewer to check.
    ca_row = panel.locator('[data-citations="ca"] [data-citation-row]').first
    expect(ca_row.get_by_label("Sections")).to_have_value(CA_SECTIONS)
    browser_console.assert_clean("the workspace")

    # The determination: upheld, no medical evidence cited by the review, a note for quality review.
    page.locator("#summary-text").fill(SUMMARY)
    wait_saved(page, case, "summary")
    panel.locator("label[for='item-1-upheld']").click()
    panel.get_by_label(re.compile("The review cites no medical evidence")).check()
    page.locator("#item-1-rationale").fill(RATIONALE)
    page.locator("#item-1-note").fill(NOTE)
    wait_saved(page, case, "item-1")
    to_top(page)
    panel.scroll_into_view_if_needed()
    shot(panel, "workspace-item-modified")
    browser_console.assert_clean("the workspace, written")
    page.get_by_role("button", name="Submit for quality review").click()
    expect(page.locator("#read-only")).to_contain_text("Submitted for quality review")
    shot(panel, "workspace-item-modified-submitted")

    # Quality review shows the reviewer's note, confirms the public copy, then approves.
    qa, qa_console = second_page
    log_in(qa, base, *COORDINATOR)
    qa.goto(f"{base}/cases/{case_number}/qa/")
    note = qa.locator("#note-item-1")
    expect(note).to_contain_text(NOTE)
    expect(qa.frame_locator("iframe.imr-letter-frame").locator("body")).not_to_contain_text(NOTE)
    shot(note.locator("xpath=ancestor::div[contains(@class, 'card')][1]"), "qa-reviewer-notes")
    screenshot(qa, "qa-case-modified")
    qa_console.assert_clean("the quality review page")
    qa.get_by_role("link", name="Check and confirm it").click()  # approval waits for the public copy
    qa.get_by_role("button", name="Confirm the public copy").click()
    expect(qa).to_have_url(f"{base}/cases/{case_number}/qa/")
    qa.get_by_label(re.compile("approve it as final")).check()  # it cannot be undone
    qa.get_by_role("button", name="Approve the determination").click()
    expect(qa).to_have_url(f"{base}/cases/qa/")
    expect(qa.get_by_role("alert").filter(has_text="approved")).to_be_visible()
    qa_console.assert_clean("the quality review list, after approving")

    # The worker's path renders the letter; its PDF prints the published sentence.
    letter = Letter.objects.get(case__case_number=case_number, kind=Letter.Kind.FINAL_DETERMINATION)
    assert letter_services.letter_render(letter_id=letter.pk) is True
    letter.refresh_from_db()
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(letter.pdf.read())
    text = _collapse(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout)
    assert PUBLISHED_SENTENCE in text
    assert NO_EVIDENCE in text
    assert CA_GUIDELINE in text
    assert NOTE not in text
    assert f"{REQUEST}: Upheld" not in text  # never the whole eight sessions


def test_a_modified_item_without_its_authorised_part_is_refused_in_place_and_nothing_is_saved(
    live_server, page, browser_console, shot, demo_data
):
    base = live_server.url
    cases_before = Case.objects.count()
    open_intake(page, base)
    fill_case(page)
    item_form = page.locator("[data-formset='items'] [data-formset-row]").first
    fill_item(item_form, authorized="")
    page.get_by_role("button", name="Create case").click()

    expect(page).to_have_url(f"{base}/cases/new/")
    expect(page.locator("#intake-errors")).to_contain_text("Nothing was saved.")
    item_form = page.locator("[data-formset='items'] [data-formset-row]").first
    authorized = item_form.get_by_label("Authorised part")
    expect(authorized).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(item_form.locator("#div_id_items-0-authorized_part")).to_contain_text(
        "UR modified this request: say what it authorised."
    )
    # What was typed is still there to correct, the citation included.
    expect(item_form.get_by_label("Request")).to_have_value(REQUEST)
    expect(item_form.get_by_label("UR action")).to_have_value(DisputedItem.URAction.MODIFIED)
    expect(item_form.get_by_label("Claims administrator's citation 1, sections")).to_have_value(CA_SECTIONS)
    shot(item_form, "intake-item-refused")
    # The refused form comes back as 400 Bad Request, which Chromium logs as a failed load; nothing else.
    assert [e for e in browser_console.errors if "status of 400" in e and e.endswith("/cases/new/)")]
    browser_console.errors = [e for e in browser_console.errors if "status of 400" not in e]
    browser_console.assert_clean("the refused intake")
    assert Case.objects.count() == cases_before
    assert not Case.objects.filter(claim_number=CLAIM).exists()
