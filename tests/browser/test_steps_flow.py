"""The steps beside the main path, in the browser: withdrawal (and reopening), termination of one item of two,
conversion to expedited and remand, each seen by the coordinator and, where it concerns them, by the reviewer."""

import io
import re

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from reviews.models import Case, CaseDocument, Letter, OutboxEntry
from reviews.services import letters as letter_services
from tests.browser.conftest import submit_login

# The live server answers from another thread, so the demo data must be committed: a transactional test.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COORDINATOR = ("coordinator", "imr-demo-coordinator")
REVIEWER_PASSWORD = "imr-demo-reviewer"


@pytest.fixture
def demo(transactional_db, media_root):
    call_command("seed_demo", stdout=io.StringIO())
    yield
    if settings.REDIS_URL:  # the e-mails went to Redis; no worker here will take them
        from imr.celery import app

        app.control.purge()


def log_in(page, base_url: str, username: str, password: str):
    page.goto(f"{base_url}/")
    submit_login(page, username, password)


def forget_refused_form(console, url_end: str):
    """A refused form comes back as 400 Bad Request, which Chromium logs as a failed load: expected here."""
    assert [e for e in console.errors if "status of 400" in e and e.endswith(f"{url_end})")]
    console.errors = [e for e in console.errors if "status of 400" not in e]


def open_step(page, base_url: str, case: Case, link: str, heading: str):
    page.goto(f"{base_url}/cases/{case.case_number}/")
    page.locator("#case-steps").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()


def test_a_coordinator_records_a_withdrawal_and_reopens_the_case(live_server, page, demo, screenshot, browser_console):
    case = Case.objects.get(claim_number="DEMO-RFA-001")
    log_in(page, live_server.url, *COORDINATOR)
    open_step(page, live_server.url, case, "Withdraw…", "Withdraw the application")
    screenshot(page, "steps-withdraw-form")

    # Nothing filled in: the form says what is missing, in place.
    page.get_by_label("Request dated").fill("")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.locator("#step-form .invalid-feedback").first).to_contain_text("This field is required.")
    screenshot(page, "steps-withdraw-errors")
    forget_refused_form(browser_console, "/withdraw/")

    page.get_by_label("Who asked").fill("Henry Park")
    page.get_by_label("Relationship to the employee").select_option("employee")
    page.get_by_label("Request dated").fill(f"{timezone.localdate():%Y-%m-%d}")
    page.get_by_role("button", name="Withdraw").click()
    expect(page).to_have_url(f"{live_server.url}/cases/{case.case_number}/")
    expect(page.get_by_role("alert")).to_have_text(f"{case.case_number} is withdrawn and closed.")
    steps = page.locator("#case-steps")
    expect(steps).to_contain_text(f"Withdrawal asked by Henry Park (employee) on {timezone.localdate():%m/%d/%Y}.")
    screenshot(page, "steps-withdrawn-case")
    case.refresh_from_db()
    assert case.status == Case.Status.WITHDRAWN

    steps.get_by_role("link", name="Reopen…").click()
    page.get_by_label("Reason").fill("Mr Park's letter concerned his other claim: withdrawal recorded in error.")
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_role("alert")).to_have_text(f"{case.case_number} is reopened: ready for assignment.")
    expect(page.get_by_role("link", name="Assign a reviewer")).to_be_visible()
    screenshot(page, "steps-reopened-case")
    browser_console.assert_clean("the withdrawal and reopening")


def test_the_claims_administrator_authorises_one_item_of_two_and_the_reviewer_sees_it(
    live_server, page, second_page, demo, screenshot, browser_console
):
    case = Case.objects.get(claim_number="DEMO-REV-001")
    first, second = case.items.order_by("position")
    log_in(page, live_server.url, *COORDINATOR)
    open_step(page, live_server.url, case, "Record an authorisation…", "The claims administrator authorised treatment")
    page.get_by_label(f"1. {first.request_text}").check()
    page.get_by_label("Reported by").fill("Dana Adjuster, Pacific Claims")
    screenshot(page, "steps-authorisation-form")
    page.get_by_role("button", name="Record an authorisation").click()
    expect(page.get_by_role("alert")).to_contain_text("the review goes on with the other items")
    items = page.locator(".card").filter(has=page.locator(".card-header", has_text="Disputed items"))
    expect(items.locator("tr").filter(has_text=first.request_text)).to_contain_text("Authorised")
    expect(page.locator(".badge").filter(has_text="In review").first).to_be_visible()
    screenshot(page, "steps-one-item-authorised")
    browser_console.assert_clean("the authorisation")

    # The reviewer's queue and workspace say what changed; only the other item is left to decide.
    reviewer_page, reviewer_console = second_page
    log_in(reviewer_page, live_server.url, "dr.alvarez", REVIEWER_PASSWORD)
    reviewer_page.goto(f"{live_server.url}/queue/")
    row = reviewer_page.locator("tr").filter(has_text=case.case_number)
    expect(row).to_contain_text("+1 authorised")
    screenshot(reviewer_page, "steps-queue-item-authorised")
    row.get_by_role("link", name=case.case_number).click()
    changes = reviewer_page.locator("#case-changes")
    expect(changes).to_contain_text(f"Item 1 ({first.request_text[:20]}")
    expect(changes).to_contain_text("no longer part of the review or the letter")
    expect(reviewer_page.locator("#item-1")).to_contain_text("not reviewed")
    expect(reviewer_page.locator("form#item-1")).to_have_count(0)
    expect(reviewer_page.locator("form#item-2")).to_be_visible()
    screenshot(reviewer_page, "steps-workspace-item-authorised")
    reviewer_console.assert_clean("the reviewer's workspace")
    assert second.request_text  # the second item stays in review


def test_a_case_converted_to_expedited_recomputes_its_clock_and_the_reviewer_is_told(
    live_server, page, second_page, demo, screenshot, browser_console
):
    case = Case.objects.get(claim_number="DEMO-REV-002")
    today = timezone.localdate()
    log_in(page, live_server.url, *COORDINATOR)
    open_step(page, live_server.url, case, "Convert to expedited…", "Convert to an expedited review")
    page.get_by_role("button", name="Convert to expedited").click()  # no certification named
    expect(page.locator("#step-form")).to_contain_text("This field is required.")
    forget_refused_form(browser_console, "/expedite/")
    page.get_by_label("Certification").fill("Dr. Ruiz's certification, faxed today (progress report p. 3)")
    screenshot(page, "steps-expedite-form")
    page.get_by_role("button", name="Convert to expedited").click()
    due = today + timezone.timedelta(days=3)
    expect(page.get_by_role("alert")).to_have_text(
        f"{case.case_number} is expedited. The decision is due {due:%m/%d/%Y}."
    )
    expect(page.locator("#case-steps")).to_contain_text("Expedited on the physician's certification")
    screenshot(page, "steps-expedited-case")
    browser_console.assert_clean("the conversion")
    assert OutboxEntry.objects.filter(task="reviews.tasks.notify_reviewer_expedited", args=[case.pk]).exists()

    reviewer_page, reviewer_console = second_page
    log_in(reviewer_page, live_server.url, "dr.okafor", REVIEWER_PASSWORD)
    reviewer_page.goto(f"{live_server.url}/queue/")
    row = reviewer_page.locator("tr").filter(has_text=case.case_number)
    expect(row).to_contain_text("Expedited")
    expect(row).to_contain_text(f"since {today:%m/%d/%Y}")
    screenshot(reviewer_page, "steps-queue-expedited")
    row.get_by_role("link", name=case.case_number).click()
    expect(reviewer_page.locator("#case-changes")).to_contain_text(f"the decision is due {due:%m/%d/%Y}")
    screenshot(reviewer_page, "steps-workspace-expedited")
    reviewer_console.assert_clean("the reviewer's workspace")


def test_a_remanded_determination_opens_a_new_case_for_a_different_reviewer(
    live_server, page, demo, screenshot, browser_console
):
    case = Case.objects.get(claim_number="DEMO-2007-0221")
    letter = case.letters.get(kind=Letter.Kind.FINAL_DETERMINATION)
    assert letter_services.letter_render(letter_id=letter.pk) is True  # the worker's job: the case is issued
    log_in(page, live_server.url, *COORDINATOR)
    open_step(page, live_server.url, case, "Remand…", "Remand of the determination")
    page.get_by_label("Remanded by").fill("WCAB order of 11/20/2026 (ADJ1234567): new review by a different reviewer")
    screenshot(page, "steps-remand-form")
    page.get_by_role("button", name="Remand").click()

    expect(page).to_have_url(re.compile(rf"{live_server.url}/cases/CM\d{{2}}-\d{{7}}/$"))
    new = Case.objects.get(remand_of=case)
    expect(page.get_by_role("alert")).to_contain_text(f"{new.case_number} opened as the remand of {case.case_number}")
    expect(page.get_by_role("link", name=case.case_number, exact=True)).to_be_visible()  # "Remand of"
    expect(page.get_by_text("Prior determination", exact=False).first).to_be_visible()
    screenshot(page, "steps-remand-case")
    prior = new.documents.get(kind=CaseDocument.Kind.PRIOR_DETERMINATION)
    assert prior.file.read().startswith(b"%PDF")

    page.get_by_role("link", name="Assign a reviewer").click()
    # The earlier reviewer (Maria Alvarez) is among the excluded, with the reason.
    excluded = page.locator("tr").filter(has_text="Maria Alvarez")
    expect(excluded).to_contain_text("reviewed the remanded case")
    screenshot(page, "steps-remand-assign")
    browser_console.assert_clean("the remand")
