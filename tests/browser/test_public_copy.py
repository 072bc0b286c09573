"""The public copy in the browser: the coordinator checks the removals, undoes one, adds one, confirms, approves."""

import re

import pytest
from playwright.sync_api import expect

from reviews.models import Case, DisputedItem, Provider, Redaction
from tests.browser.conftest import submit_login

# The live server answers from another thread, so the data must be committed: a transactional test.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUMMARY = (
    "Ms. Young is a 44-year-old warehouse worker who injured her right shoulder lifting boxes on 03/04/2024 "
    "(claim CLM-2016-004417). Dr. Sam Shoulder documented pain with overhead reaching; a young coworker saw "
    "the fall. MRI of the right shoulder at Valley Imaging showed a full-thickness supraspinatus tear.\n"
    "Treatment to date includes 12 sessions of physical therapy and Norco. Young patients often recover "
    "without surgery, but Hawkins and Neer signs remained positive on May 5, 2026. Dr. Shoulder requested "
    "arthroscopic rotator cuff repair; utilization review denied the request."
)
RATIONALE = (
    "The MTUS Shoulder Complaints guideline supports repair of a full-thickness tear after three months of "
    "conservative care. Per Dr. Shoulder's note, Ms. Young completed therapy without improvement and her "
    "hand strength is preserved. The request for right shoulder arthroscopy is medically necessary."
)


@pytest.fixture
def shoulder_case(submitted_case):
    """The submitted case of tests/conftest.py, its employee and physician named with words the letter uses."""
    Case.objects.filter(pk=submitted_case.pk).update(
        employee_name="Teresa Young", claim_number="CLM-2016-004417", clinical_case_summary=SUMMARY
    )
    Provider.objects.filter(pk=submitted_case.requesting_provider_id).update(name="Dr. Sam Shoulder")
    DisputedItem.objects.filter(case=submitted_case).update(
        request_text="Right shoulder arthroscopy with rotator cuff repair, right", rationale=RATIONALE
    )
    return submitted_case


def test_the_coordinator_checks_undoes_adds_and_confirms_the_public_copy_then_approves(
    live_server, page, coordinator, shoulder_case, screenshot, browser_console
):
    case = shoulder_case
    page.goto(f"{live_server.url}/cases/{case.case_number}/qa/")
    submit_login(page, "alice", "correct horse battery staple")
    expect(page.get_by_role("button", name="Approve the determination")).to_be_disabled()
    page.get_by_role("link", name="Check and confirm it").click()
    expect(page).to_have_url(f"{live_server.url}/cases/{case.case_number}/qa/public-copy/")

    removed = page.locator(".imr-passage mark.imr-cut s")
    expect(removed).to_have_text(
        [
            "Dr. Linda Marsh",
            "Ms. Young",
            "CLM-2016-004417",
            "Dr. Sam Shoulder",
            "Dr. Shoulder",
            "Dr. Shoulder's",
            "Ms. Young",
        ]
    )
    summary = page.locator(".imr-passage", has_text="Clinical case summary")
    expect(summary).to_contain_text("her right shoulder lifting boxes")
    expect(summary.locator(".imr-maybe")).to_have_text(["Young"])  # "Young patients": kept, shown
    browser_console.assert_clean("the public copy")

    # The coordinator keeps the report's author (a physician who is not a party) and removes the imaging centre.
    page.locator("#removals tr", has_text="Dr. Linda Marsh").get_by_role("button", name="Keep").click()
    page.get_by_label("Also remove").fill("Valley Imaging")
    page.get_by_role("button", name="Remove", exact=True).last.click()
    expect(page.get_by_role("alert")).to_contain_text("“Valley Imaging” is removed from the public copy.")
    expect(page.locator(".imr-passage .imr-kept")).to_have_text(["Dr. Linda Marsh"])
    expect(page.locator(".imr-passage mark.imr-cut-added s")).to_have_text(["Valley Imaging"])
    expect(page.locator("#public-copy-state")).to_have_text("Not confirmed")
    screenshot(page, "public-copy")
    browser_console.assert_clean("the public copy, changed")

    page.get_by_role("button", name="Confirm the public copy").click()
    expect(page).to_have_url(f"{live_server.url}/cases/{case.case_number}/qa/")
    expect(page.locator("#qa-public-copy")).to_contain_text("Confirmed")
    page.get_by_label(re.compile("approve it as final")).check()  # it cannot be undone
    page.get_by_role("button", name="Approve the determination").click()
    expect(page).to_have_url(f"{live_server.url}/cases/qa/")
    assert Case.objects.get(pk=case.pk).status == Case.Status.APPROVED
    choices = Redaction.objects.get(case=case)
    assert (choices.kept, choices.added, choices.confirmed_by.username) == (
        ["Dr. Linda Marsh"],
        ["Valley Imaging"],
        "alice",
    )
    browser_console.assert_clean("the quality review list, after approving")
