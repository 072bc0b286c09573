"""Two-factor authentication in a browser, as production requires it: enrolment, a TOTP sign-in, a recovery code;
then the password pages and the sign-in throttle."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.factories import CoordinatorFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a much longer new passphrase 42"


@pytest.fixture
def alice(transactional_db, settings):
    settings.IMR_MFA_ENROLMENT_OPTIONAL = False  # production's rule
    return CoordinatorFactory(username="alice", first_name="Alice", last_name="Coordinator", email="alice@example.org")


def fill_login(page, password=PASSWORD):
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def log_out(page):
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_a_coordinator_enrols_then_signs_in_with_a_code_and_with_a_recovery_code(
    live_server, page, alice, screenshot, browser_console
):
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot(page, "mfa-01-login")
    browser_console.assert_clean("the login page")

    # Signing in leads to the enrolment, with no way round it.
    fill_login(page)
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/totp/activate/")
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    expect(page.get_by_role("link", name="Not now")).to_have_count(0)
    expect(page.get_by_role("img", name="QR code of the authenticator secret")).to_be_visible()
    screenshot(page, "mfa-02-enrolment")
    browser_console.assert_clean("the enrolment page")
    page.goto(f"{live_server.url}/cases/")
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/totp/activate/")

    totp = pyotp.TOTP(page.get_by_label("Or type this secret into the app").input_value())
    page.get_by_label("Authenticator code").fill(totp.now())
    page.get_by_role("button", name="Activate").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    codes = page.get_by_label("Unused codes").input_value().split()
    assert len(codes) == 10
    screenshot(page, "mfa-03-recovery-codes")
    browser_console.assert_clean("the recovery codes page")
    page.get_by_role("link", name="Continue to IMR Desk").click()
    expect(page).to_have_url(f"{live_server.url}/cases/")  # the page asked for last

    # The next sign-in asks for the code from the app.
    log_out(page)
    fill_login(page)
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/authenticate/")
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    screenshot(page, "mfa-04-code")
    browser_console.assert_clean("the code page")
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{live_server.url}/")

    # Without the phone, a recovery code, once.
    log_out(page)
    fill_login(page)
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("navigation")).to_contain_text("Alice Coordinator · Coordinator")


def test_the_password_pages_and_the_sign_in_throttle(live_server, page, alice, screenshot, browser_console, settings):
    settings.IMR_MFA_ENROLMENT_OPTIONAL = True  # the demo's step: these pages are about passwords
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/password/reset/")
    screenshot(page, "password-01-reset")
    browser_console.assert_clean("the password reset page")
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_role("button", name="Send the link").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/password/reset/done/")
    screenshot(page, "password-02-reset-done")

    # Signed in, the name in the navigation opens the account pages.
    page.goto(f"{live_server.url}/accounts/login/")
    fill_login(page)
    expect(page.get_by_text("This installation lets you skip it for now.")).to_be_visible()
    screenshot(page, "mfa-00-enrolment-step")
    page.get_by_role("link", name="Not now").click()
    page.get_by_role("link", name=re.compile("Alice Coordinator")).click()
    expect(page).to_have_url(f"{live_server.url}/accounts/password/change/")
    screenshot(page, "password-03-change")
    browser_console.assert_clean("the password change page")
    page.locator("#id_oldpassword").fill(PASSWORD)
    page.locator("#id_password1").fill(NEW_PASSWORD)
    page.locator("#id_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change Password").click()
    expect(page.get_by_text("Password successfully changed.")).to_be_visible()
    page.get_by_role("link", name="Two-factor authentication").click()
    screenshot(page, "mfa-05-account")
    browser_console.assert_clean("the two-factor authentication page")

    # Five wrong passwords, then the right one is refused too, with the reason.
    log_out(page)
    for _ in range(settings.IMR_LOGIN_FAILURES_PER_ACCOUNT):
        fill_login(page, password="wrong")
        expect(page.get_by_text("are not correct")).to_be_visible()
    fill_login(page, password=NEW_PASSWORD)
    expect(page.get_by_text("Too many failed sign-in attempts for this account or from this address")).to_be_visible()
    screenshot(page, "login-throttled")
    browser_console.assert_clean("the throttled login page")
