"""A coordinator logs in through the login page and finds the example case in the admin."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from reviews.models import Case
from tests.browser.conftest import submit_login

# The live server answers from another thread, so the demo data must be committed: a transactional test.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXAMPLE_ITEM = "Additional occupational therapy 2x6 weeks (12 sessions) low back, right shoulder, right wrist"
EXAMPLE_EMPLOYEE = "Jane Demo-Example"


@pytest.fixture
def demo_data(transactional_db, media_root):
    call_command("seed_demo", stdout=io.StringIO())
    return Case.objects.get(items__request_text=EXAMPLE_ITEM)


def test_the_coordinator_logs_in_and_finds_the_example_case_in_the_admin(
    live_server, page, demo_data, screenshot, browser_console
):
    example = demo_data

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot(page, "01-login")
    browser_console.assert_clean("the login page")

    submit_login(page, "coordinator", "imr-demo-coordinator")

    expect(page).to_have_url(f"{live_server.url}/")
    # The navigation names the user and the role; the home page's own content belongs to other tests.
    expect(page.get_by_role("navigation")).to_contain_text("Casey Coordinator · Coordinator")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, "02-home")
    browser_console.assert_clean("the home page")

    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    page.locator("#content-main").get_by_role("link", name="Cases", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/admin/reviews/case/")

    page.locator("#searchbar").fill("Demo-Example")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#result_list tbody tr")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(EXAMPLE_EMPLOYEE)
    screenshot(page, "03-case-changelist")
    browser_console.assert_clean("the case changelist")

    results.first.get_by_role("link", name=example.case_number).click()
    expect(page).to_have_url(re.compile(rf"/admin/reviews/case/{example.pk}/change/"))
    expect(page.get_by_role("heading", name=example.case_number)).to_be_visible()
    # The inline's heading names the item whether the form is editable or, for a final case, view-only.
    expect(page.locator("#items-group")).to_contain_text(EXAMPLE_ITEM)
    screenshot(page, "04-case-change")
    browser_console.assert_clean("the case change page")


def test_the_admin_widgets_of_an_open_case_work_under_the_content_security_policy(
    live_server, page, demo_data, screenshot, browser_console
):
    # The example case is approved, so its page is view-only; a case its reviewer has not accepted yet
    # shows the editing widgets (autocomplete, calendars, inline rows), whose scripts are what a strict
    # policy could break.
    case = Case.objects.get(employee_name="Victor Ramos")
    # The admin's own login sends to the application's, so two-factor authentication applies to the admin too.
    page.goto(f"{live_server.url}/admin/reviews/case/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    submit_login(page, "coordinator", "imr-demo-coordinator")
    expect(page).to_have_url(f"{live_server.url}/admin/reviews/case/")
    page.locator("#searchbar").fill("Ramos")
    page.get_by_role("button", name="Search").click()
    page.locator("#result_list").get_by_role("link", name=case.case_number).click()

    expect(page).to_have_url(re.compile(rf"/admin/reviews/case/{case.pk}/change/"))
    expect(page.locator("#id_employee_name")).to_have_value("Victor Ramos")
    diagnoses = page.locator("#diagnoses-group tr.form-row:not(.empty-form)")
    rows = diagnoses.count()
    page.locator("#diagnoses-group").get_by_role("button", name="Add another Diagnosis").click()
    expect(diagnoses).to_have_count(rows + 1)
    page.locator("#id_employer").locator("xpath=following-sibling::span[contains(@class, 'select2')]").click()
    expect(page.locator(".select2-results__option").first).to_be_visible()
    page.keyboard.press("Escape")
    screenshot(page, "05-open-case-change")
    browser_console.assert_clean("an open case's change page")
