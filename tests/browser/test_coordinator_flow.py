"""A coordinator takes a new case from intake to an assigned reviewer, in the browser, as a person would."""

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from pypdf import PdfWriter

from reviews.models import Case, CaseDocument, License
from tests.browser.conftest import submit_login

# The live server answers from another thread, so the demo data must be committed: a transactional test.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CASE_NUMBER = re.compile(r"CM\d{2}-\d{7}")
CLAIM = "BRW-2025-0042"  # a claim of its own, so no earlier IMR of the demo data makes the case ineligible


@pytest.fixture
def demo_data(transactional_db, media_root):
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture
def celery_queue_emptied():
    """Empty the broker afterwards: the assignment e-mail is queued (to Redis with REDIS_URL); nothing consumes it."""
    yield
    from imr.celery import app

    app.control.purge()


@pytest.fixture
def upload_files(tmp_path):
    """A two-page PDF and a small PNG, as a scanner would leave them in a folder."""
    pdf_path = tmp_path / "ur-decision-letter.pdf"
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.add_blank_page(width=612, height=792)
    with pdf_path.open("wb") as out:
        writer.write(out)
    png_path = tmp_path / "ur-letter-page-scan.png"
    image = Image.new("RGB", (240, 120), "white")
    ImageDraw.Draw(image).text((10, 50), "UR letter, scanned", fill="black")
    image.save(png_path)
    return pdf_path, png_path


def pick_on_file(page, field_id: str, typed: str, name: str) -> None:
    """Type a few letters into a party field, wait for the name in the suggestions, and pick it.

    Picking an option of a <datalist> puts its value in the input (the browser's own list cannot be
    clicked by Playwright); the page's hint then says the name is on file.
    """
    field = page.locator(f"#{field_id}")
    field.fill(typed)
    expect(page.locator(f'#{field_id}-options option[value="{name}"]')).to_have_count(1)
    field.fill(name)
    expect(page.locator(f"#div_{field_id} .intake-hint")).to_have_text(re.compile(rf"^On file: {re.escape(name)}"))


def test_a_coordinator_takes_a_new_case_from_intake_to_an_assigned_reviewer(
    live_server, page, demo_data, upload_files, screenshot, browser_console, celery_queue_emptied
):
    today = timezone.localdate()
    pdf_path, png_path = upload_files

    # Log in, and land on the dashboard.
    page.goto(f"{live_server.url}/")
    submit_login(page, "coordinator", "imr-demo-coordinator")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_text("Reviewer load")).to_be_visible()
    screenshot(page, "coordinator-dashboard")
    browser_console.assert_clean("the dashboard")

    # Intake.
    page.get_by_role("navigation").get_by_role("link", name="New case").click()
    expect(page).to_have_url(f"{live_server.url}/cases/new/")
    expect(page.get_by_role("heading", name="New case", level=1)).to_be_visible()
    browser_console.assert_clean("the intake page")

    page.get_by_label("Employee name").fill("Diego Fernandez")
    page.get_by_label("Birth date").fill("1975-04-12")
    page.get_by_label("Claim number").fill(CLAIM)
    page.get_by_label("Date of injury").fill("2023-03-01")
    page.get_by_label("UR decision date").fill(f"{today - dt.timedelta(days=10):%Y-%m-%d}")
    page.get_by_label("Application received").fill(f"{today - dt.timedelta(days=2):%Y-%m-%d}")

    pick_on_file(page, "id_employer_name", "Golden", "Golden State Grocers, Inc.")
    pick_on_file(page, "id_claims_administrator_name", "Pacific", "Pacific Claims Management")
    pick_on_file(page, "id_provider_name", "Marsh", "Dr. Linda Marsh")
    # The provider picked on file brings its NPI with it.
    expect(page.get_by_label("NPI")).to_have_value("1609876543")

    page.get_by_role("textbox", name="ICD-10 code").first.fill("M51.26")
    page.get_by_role("textbox", name="Description").first.fill("Other intervertebral disc displacement, lumbar region")

    item = page.locator("[data-formset='items'] [data-formset-row]").first
    item.get_by_label("Request").fill("Physical therapy 2x6 weeks lumbar spine (12 sessions)")
    item.get_by_role("combobox", name=re.compile(r"^Category")).select_option(label="Rehabilitation")
    item.get_by_label("Subcategory").select_option(label="Physical therapy")
    item.get_by_label("Body part").fill("Lumbar spine")
    item.get_by_label("UR action").select_option(label="Denied")
    screenshot(page, "case-intake-filled")
    browser_console.assert_clean("the filled intake form")

    page.get_by_role("button", name="Create case").click()

    # The case page, under the number the case was given.
    expect(page).to_have_url(re.compile(rf"{live_server.url}/cases/CM\d{{2}}-\d{{7}}/$"))
    case_number = CASE_NUMBER.search(page.url).group()
    expect(page.get_by_role("alert")).to_have_text(f"Case {case_number} created.")
    expect(page.get_by_role("heading", name=case_number, level=1)).to_be_visible()
    expect(page.get_by_text("Golden State Grocers, Inc.")).to_be_visible()
    browser_console.assert_clean("the new case's page")

    # Two records at once, as UR letters.
    page.get_by_role("link", name="Upload…").click()
    expect(page).to_have_url(f"{live_server.url}/cases/{case_number}/documents/upload/")
    page.get_by_label("Files").set_input_files([pdf_path, png_path])
    expect(page.locator("#document-upload-selection li")).to_have_count(2)
    page.get_by_label("Kind").select_option(label="UR letter")
    page.get_by_label("Author").fill("Coastal Utilization Review")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_have_text(f"2 documents added to {case_number}.")
    expect(page.get_by_text("2 documents", exact=True)).to_be_visible()
    screenshot(page, "document-upload")
    browser_console.assert_clean("the upload page")

    # Eligibility: tick the checklist, and confirm the proposal.
    page.get_by_role("link", name="Back to the case").click()
    page.get_by_role("link", name="Check eligibility").click()
    expect(page.get_by_role("heading", name=f"Eligibility of {case_number}")).to_be_visible()
    for answer in (
        "Application signed by the employee or representative",
        "UR decision letter attached",
        "No earlier IMR on the same treatment for the same claim",
    ):
        page.get_by_role("checkbox", name=answer).check()
    # Each answer re-runs the checklist on the server (htmx); with all four passing it proposes eligible.
    expect(page.locator("#eligibility .card-footer strong")).to_have_text("eligible")
    expect(page.get_by_role("radio", name="Eligible", exact=True)).to_be_checked()
    screenshot(page, "eligibility-check")
    browser_console.assert_clean("the eligibility page")
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(f"{live_server.url}/cases/{case_number}/")
    expect(page.get_by_role("alert")).to_contain_text(f"{case_number} is eligible")

    # Records: request them, then mark them complete.
    page.get_by_role("button", name="Request records").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Records requested for {case_number}")
    browser_console.assert_clean("the case page after eligibility")
    page.get_by_role("button", name="Records complete").click()
    expect(page.get_by_role("alert")).to_contain_text("Records complete. The decision on")
    browser_console.assert_clean("the case page after records")

    # Assignment.
    page.get_by_role("link", name="Assign a reviewer").click()
    expect(page).to_have_url(f"{live_server.url}/cases/{case_number}/assign/")
    expect(page.get_by_role("heading", name=f"Assign {case_number}", level=1)).to_be_visible()
    eligible = page.locator(".card").filter(has=page.locator(".card-header", has_text="Eligible reviewers"))
    excluded = page.locator(".card").filter(has=page.locator(".card-header", has_text="Not eligible"))
    alvarez = eligible.get_by_role("row").filter(has_text="Maria Alvarez")
    expect(alvarez).to_have_count(1)
    expect(alvarez).to_contain_text("same specialty as the requesting provider")
    expect(excluded.get_by_role("row").filter(has_text="Maria Alvarez")).to_have_count(0)
    lapsed = License.objects.get(reviewer__user__username="dr.brooks", state="CA").expires_on
    brooks = excluded.get_by_role("row").filter(has_text="Helen Brooks")
    expect(brooks).to_contain_text(f"licence expired on {lapsed:%m/%d/%Y}")
    screenshot(page, "assignment-page")
    browser_console.assert_clean("the assignment page")

    alvarez.get_by_role("button", name="Assign").click()

    expect(page).to_have_url(f"{live_server.url}/cases/{case_number}/")
    expect(page.get_by_role("alert").first).to_have_text(f"{case_number} assigned to Maria Alvarez, MD.")
    expect(page.get_by_role("alert").nth(1)).to_contain_text("An e-mail telling them is on its way to")
    title = page.get_by_role("heading", name=case_number, level=1).locator("..")
    expect(title.get_by_text("Assigned", exact=True)).to_be_visible()
    reviewer_card = page.locator(".card").filter(has=page.locator(".card-header", has_text="Reviewer"))
    expect(reviewer_card).to_contain_text("Maria Alvarez, MD")
    screenshot(page, "case-assigned")
    browser_console.assert_clean("the assigned case's page")

    # What the walk left in the database.
    case = Case.objects.select_related("reviewer__user", "employer", "claims_administrator").get(
        case_number=case_number
    )
    assert case.status == Case.Status.ASSIGNED
    assert case.reviewer.user.username == "dr.alvarez"
    assert case.claim_number == CLAIM
    assert case.employer.name == "Golden State Grocers, Inc."
    assert case.claims_administrator.name == "Pacific Claims Management"
    assert case.requesting_provider.npi == "1609876543"
    assert [(d.icd10_code, d.position) for d in case.diagnoses.all()] == [("M51.26", 1)]
    assert [(i.category.name, i.ur_action) for i in case.items.all()] == [("Rehabilitation", "denied")]
    assert case.records_complete_date == today
    assert case.decision_due_date is not None
    assert case.date_assigned == today
    documents = {
        d.original_name: (d.kind, d.content_type, d.page_count) for d in case.documents.order_by("original_name")
    }
    assert documents == {
        "ur-decision-letter.pdf": (CaseDocument.Kind.UR_LETTER, "application/pdf", 2),
        "ur-letter-page-scan.png": (CaseDocument.Kind.UR_LETTER, "image/png", 1),
    }
    S = Case.Status
    assert [(e.from_status, e.to_status) for e in case.events.all()] == [
        ("", S.RECEIVED),
        (S.RECEIVED, S.RECEIVED),  # a document added
        (S.RECEIVED, S.RECEIVED),  # the other one
        (S.RECEIVED, S.ELIGIBLE),
        (S.ELIGIBLE, S.AWAITING_RECORDS),
        (S.AWAITING_RECORDS, S.READY_FOR_ASSIGNMENT),
        (S.READY_FOR_ASSIGNMENT, S.ASSIGNED),
    ]
    assert all(e.actor.username == "coordinator" for e in case.events.all())
