"""The pages issue 10's intake and usability fixes changed, in the browser: a duplicate dispute confirmed on the
intake page, the CSV import's error table, the assign page (grouped reasons, category correction, the e-mail
message), approval's confirmation box, the reviewer's Completed tab, and the workspace's saved status."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from reviews.models import Case
from reviews.permissions import COORDINATORS
from tests.factories import (
    BoardCertificationFactory,
    CaseFactory,
    DisputedItemFactory,
    LicenseFactory,
    ReviewerFactory,
    SpecialtyFactory,
    TreatmentCategoryFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
S = Case.Status


def log_in(page, base_url: str, username: str):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def alice(db):
    coordinator = UserFactory(username="alice", first_name="Alice", last_name="Coordinator", is_staff=True)
    coordinator.groups.add(Group.objects.get(name=COORDINATORS))
    return coordinator


def _reviewer(username, specialty, *, email=None):
    user = UserFactory(username=username, first_name=username.title(), last_name="Reviewer")
    if email is not None:
        user.email = email
        user.save()
    reviewer = ReviewerFactory(user=user)
    LicenseFactory(reviewer=reviewer)
    BoardCertificationFactory(reviewer=reviewer, specialty=specialty)
    return reviewer


def test_a_coordinator_corrects_a_category_and_assigns_a_reviewer_without_an_email_address(
    live_server, page, browser_console, screenshot, alice
):
    pmr = SpecialtyFactory(name="Physical Medicine and Rehabilitation")
    rehab = TreatmentCategoryFactory(name="Rehabilitation")
    rehab.accepted_specialties.add(pmr)
    surgery = TreatmentCategoryFactory(name="Surgery")
    _reviewer("dana", pmr, email="")
    today = timezone.localdate()
    case = CaseFactory(
        status=S.READY_FOR_ASSIGNMENT,
        records_complete_date=today,
        decision_due_date=today + dt.timedelta(days=30),
    )
    for n in range(1, 8):
        DisputedItemFactory(case=case, position=n, category=surgery, request_text=f"Physical therapy visit block {n}")

    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/cases/{case.case_number}/assign/")
    expect(page.get_by_text("no accepted specialty for items 1–7 (Surgery)")).to_be_visible()
    screenshot(page, "assign-grouped-reasons")
    for n in range(1, 8):
        page.get_by_label(f"Category of item {n}", exact=True).select_option(label="Rehabilitation")
        page.locator(f"#item-categories tbody tr:nth-child({n}) button").click()
        expect(page.get_by_role("alert").first).to_have_text(
            f"Item {n} is now Rehabilitation; the reviewers are ranked again."
        )
    screenshot(page, "assign-category-corrected")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("alert").first).to_have_text(f"{case.case_number} assigned to Dana Reviewer, MD.")
    expect(page.get_by_role("alert").nth(1)).to_have_text(
        "No e-mail was sent: Dana Reviewer, MD has no e-mail address on file. Tell them yourself."
    )
    screenshot(page, "assigned-without-email")
    browser_console.assert_clean("the assign page")


def test_the_reviewer_sees_completed_cases_and_a_panel_back_to_its_saved_text_is_not_unsaved(
    live_server, page, browser_console, screenshot
):
    specialty = SpecialtyFactory(name="Orthopaedic Surgery")
    bob = _reviewer("bob", specialty)
    today = timezone.localdate()
    for n in range(3):
        done = CaseFactory(status=S.ISSUED, reviewer=bob, records_complete_date=dt.date(2026, 10, 9),
                           date_assigned=today - dt.timedelta(days=40 + n), decision_date=today - dt.timedelta(days=n),
                           decision_due_date=today + dt.timedelta(days=20))  # fmt: skip
        DisputedItemFactory(case=done, position=1)
    open_case = CaseFactory(status=S.IN_REVIEW, reviewer=bob, records_complete_date=dt.date(2026, 10, 9),
                            decision_due_date=today + dt.timedelta(days=12))  # fmt: skip
    DisputedItemFactory(case=open_case, position=1)

    log_in(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/queue/")
    page.get_by_role("link", name="Completed").click()
    expect(page.locator("tbody tr")).to_have_count(3)
    screenshot(page, "reviewer-completed-tab")

    page.locator("tbody a").first.click()
    expect(page.get_by_text(re.compile(r"^Decided \d\d/\d\d/\d{4}$")).first).to_be_visible()
    expect(page.get_by_text("days left")).to_have_count(0)
    screenshot(page, "workspace-issued-case")

    page.goto(f"{live_server.url}/cases/{open_case.case_number}/review/")
    status = page.locator("#save-status-summary")
    before = status.text_content()
    summary = page.locator("textarea[name=clinical_case_summary]")
    summary.click()
    summary.press("End")
    summary.type("x")
    expect(status).to_have_text("Unsaved changes…")
    summary.press("Backspace")
    expect(status).to_have_text(before)
    screenshot(page, "workspace-back-to-saved")
    browser_console.assert_clean("the reviewer's pages")


def test_a_coordinator_confirms_a_duplicate_on_the_intake_page_and_reads_a_refused_import(
    live_server, page, browser_console, screenshot, alice, tmp_path
):
    from reviews import services
    from tests.test_imports import csv_bytes, row

    rehab = TreatmentCategoryFactory(name="Rehabilitation")
    TreatmentCategoryFactory(name="Physical therapy", parent=rehab)
    TreatmentCategoryFactory(name="Injection")
    assert services.cases_import_csv(by=alice, file=csv_bytes(row(1))).ok
    first = Case.objects.get()

    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/cases/new/")
    page.locator("[name=employee_name]").fill("Employee 1")
    page.locator("[name=claim_number]").fill("CLM-0001")
    page.locator("[name=date_of_injury]").fill("2024-03-04")
    page.locator("[name=ur_decision_date]").fill("2026-10-01")
    page.locator("[name=application_received_date]").fill("2026-10-08")
    page.locator("[name=employer_name]").fill("Golden State Grocers")
    page.locator("[name=claims_administrator_name]").fill("Pacific Claims Management")
    page.locator("[name=provider_name]").fill("Dr. Linda Marsh")
    page.locator("[name=diagnoses-0-icd10_code]").fill("M51.26")
    page.locator("[name=diagnoses-0-description]").fill("Lumbar disc displacement")
    page.locator("[name=items-0-request_text]").fill("Facet joint injections L4-5, L5-S1")
    page.locator("[name=items-0-category]").select_option(label="Injection")
    page.locator("[name=items-0-ur_action]").select_option("denied")
    page.get_by_role("button", name="Create case").click()
    alert = page.locator("#intake-errors")
    expect(alert).to_contain_text(f"{first.case_number} is open for the same claim, UR decision date and request.")
    screenshot(page, "intake-duplicate-asks-to-confirm")
    browser_console.errors = [e for e in browser_console.errors if "status of 400" not in e]  # the refusal itself
    page.get_by_label("Create it anyway: this is a second dispute of the same claim and date").check()
    page.get_by_role("button", name="Create case").click()
    expect(page.get_by_role("alert").first).to_contain_text("created.")
    assert Case.objects.count() == 2

    path = tmp_path / "cases.csv"
    path.write_bytes(csv_bytes(row(1), row(2, date_of_injury="3/4/24", item_1_category="Physio", diagnoses="")))
    page.goto(f"{live_server.url}/cases/import/")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Import cases").click()
    table = page.locator("#import-errors")
    expect(table).to_contain_text("Nothing was imported")
    expect(table).to_contain_text("Enter a date as MM/DD/YYYY or YYYY-MM-DD.")
    screenshot(page, "import-refused-by-column")
    browser_console.assert_clean("the intake and import pages")


def test_approval_asks_for_the_box_and_an_issued_case_shows_its_decision_date(
    live_server, page, browser_console, screenshot, alice
):
    specialty = SpecialtyFactory(name="Orthopaedic Surgery")
    bob = _reviewer("bob", specialty)
    today = timezone.localdate()
    submitted = CaseFactory(status=S.SUBMITTED, reviewer=bob, records_complete_date=dt.date(2026, 10, 9),
                            date_assigned=today - dt.timedelta(days=5), clinical_case_summary="A summary.",
                            decision_due_date=today + dt.timedelta(days=20))  # fmt: skip
    DisputedItemFactory(case=submitted, position=1, decision="upheld", rationale="Not indicated.")
    issued = CaseFactory(status=S.ISSUED, reviewer=bob, records_complete_date=dt.date(2026, 10, 9),
                         date_assigned=today - dt.timedelta(days=9), decision_date=today - dt.timedelta(days=2),
                         decision_due_date=today + dt.timedelta(days=27))  # fmt: skip
    DisputedItemFactory(case=issued, position=1, decision="overturned", rationale="Indicated.")

    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/cases/{submitted.case_number}/qa/")
    expect(page.get_by_label(re.compile("approve it as final"))).to_be_visible()
    screenshot(page, "qa-approve-confirmation")

    page.goto(f"{live_server.url}/cases/{issued.case_number}/")
    expect(page.get_by_text(f"Decided {issued.decision_date:%m/%d/%Y}")).to_be_visible()
    expect(page.get_by_text("days left")).to_have_count(0)
    screenshot(page, "case-page-issued")
    browser_console.assert_clean("the QA and case pages")
