"""Browser test harness: pytest-playwright driving Debian's Chromium against pytest-django's live server."""

import asyncio
import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests may run as root in a container, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]

# Playwright's sync API marks its asyncio event loop as running in the test thread between calls,
# from the first browser test to the end of the session, so Django's async-safety check would refuse
# every ORM call made there afterwards (SynchronousOnlyOperation), in browser tests and in any test
# that runs after them. The calls really are synchronous and the live server answers from its own
# thread, so the check is a false alarm here. Set at import time because the loop outlives each test.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture(scope="session")
def playwright(playwright):
    """Playwright, with the test thread keeping the database connections it had before it started.

    Django keeps database connections in an asgiref Local that switches to context-variable storage
    while an event loop runs in the thread. Once Playwright's loop is marked running, the test thread
    would get new connection objects for the rest of the session, without what the test database
    setup stored on the old ones: `serialized_rollback` would then silently restore nothing in any
    later test. Hand the thread's own connections over to the new storage.
    """
    from django.db import connections

    loop = asyncio._get_running_loop()
    if loop is not None:
        asyncio._set_running_loop(None)
        try:
            thread_connections = {alias: connections[alias] for alias in connections}
        finally:
            asyncio._set_running_loop(loop)
        for alias, connection in thread_connections.items():
            connections[alias] = connection
    return playwright


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium (never a downloaded one); without it, skip locally but fail in CI."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
        if _in_ci():
            pytest.fail(f"Browser tests are required in CI (CI is set), but {reason}.", pytrace=False)
        pytest.skip(f"Browser tests skipped: {reason}; they are required when CI is set.")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A fixed, desktop-sized viewport keeps screenshots comparable from run to run.
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploaded files (demo documents) go to a temporary folder, not to var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def screenshot(pytestconfig):
    """`screenshot(page, name)` saves a full-page PNG as test-results/screenshots/<name>.png.

    test-results/ is pytest-playwright's --output folder (gitignored, emptied at the start of a run).
    """
    folder = Path(pytestconfig.getoption("--output")).absolute() / "screenshots"

    def take(page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


def submit_login(page, username: str, password: str) -> None:
    """Sign in on the login page `page` shows, and pass the MFA enrolment the embedded default offers with "Not now".

    Lands where the login page's `next` leads. Tests of two-factor authentication itself are in test_mfa_flow.py.
    """
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if "/accounts/2fa/totp/activate/" in page.url:
        with page.expect_navigation():
            page.get_by_role("link", name="Not now").click()


CSP_MESSAGE = re.compile(r"Content[ -]Security[ -]Policy", re.IGNORECASE)


class BrowserConsole:
    """Console errors, uncaught page errors and CSP violations seen by one page."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        self.csp_violations: list[str] = []

    def on_console(self, message):
        if message.type == "error" or CSP_MESSAGE.search(message.text):
            where = message.location.get("url", "") if message.location else ""
            if where.endswith("/favicon.ico"):
                # Chromium asks every site for /favicon.ico on its own; the site declares no icon yet.
                return
            text = f"{message.type}: {message.text} ({where})"
            (self.csp_violations if CSP_MESSAGE.search(message.text) else self.errors).append(text)

    def on_page_error(self, error):
        self.errors.append(f"uncaught: {error}")

    def on_csp_violation(self, source, violation):
        text = (
            "securitypolicyviolation: {violatedDirective} blocked {blockedURI} at {sourceFile}:{lineNumber} "
            "on {documentURI}".format(**violation)
        )
        if text not in self.csp_violations:
            self.csp_violations.append(text)

    def assert_clean(self, where: str = ""):
        """Fail on any CSP violation, uncaught script error or console error seen so far."""
        # Reported violations reach Python asynchronously; read the current page's own list too.
        for violation in self.page.evaluate("window.__cspViolations || []"):
            self.on_csp_violation(None, violation)
        problems = self.csp_violations + self.errors
        assert not problems, f"Browser reported problems{' on ' + where if where else ''}:\n" + "\n".join(problems)


# Runs in every document before the page's own scripts (injected by the browser, so the page's CSP
# does not apply to it) and records each violation with its directive and source location, in the
# page and through a binding, so violations on pages already left are reported as well.
_RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const violation = {
    violatedDirective: e.violatedDirective, blockedURI: e.blockedURI, sourceFile: e.sourceFile,
    lineNumber: e.lineNumber, documentURI: e.documentURI,
  };
  window.__cspViolations.push(violation);
  window.__reportCspViolation(violation);
});
"""


@pytest.fixture
def browser_console(page):
    """Collects what the browser complains about; call `browser_console.assert_clean(where)` after each page."""
    console = BrowserConsole(page)
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    page.expose_binding("__reportCspViolation", console.on_csp_violation)
    page.add_init_script(_RECORD_CSP_VIOLATIONS)
    return console


@pytest.fixture
def second_page(browser, browser_context_args):
    """`(page, console)` in a browser context of its own: a second user signed in beside `page`'s.

    The console is a BrowserConsole watching that page, as `browser_console` watches `page`.
    """
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    console = BrowserConsole(page)
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    page.expose_binding("__reportCspViolation", console.on_csp_violation)
    page.add_init_script(_RECORD_CSP_VIOLATIONS)
    yield page, console
    context.close()
