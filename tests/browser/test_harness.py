"""The browser harness itself: the site sends its Content-Security-Policy and the console guard catches violations."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_login_page_is_served_with_a_content_security_policy_of_self_only(live_server, page):
    response = page.goto(f"{live_server.url}/accounts/login/")

    assert response.status == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_the_console_guard_fails_a_test_when_the_page_breaks_the_content_security_policy(
    live_server, page, browser_console
):
    page.goto(f"{live_server.url}/accounts/login/")
    browser_console.assert_clean("the login page")

    # An inline script is what the policy forbids; the guard must notice it, or a clean run proves nothing.
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.inlineScriptRan = true";
        document.body.append(script);
    }""")
    for _ in range(40):
        if browser_console.csp_violations:
            break
        page.wait_for_timeout(50)

    assert page.evaluate("window.inlineScriptRan") is None
    assert any("script-src" in violation for violation in browser_console.csp_violations), (
        browser_console.csp_violations
    )
    with pytest.raises(AssertionError, match="Content Security Policy|securitypolicyviolation"):
        browser_console.assert_clean("the login page")
