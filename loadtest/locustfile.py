"""Load test of IMR Desk: coordinators and expert reviewers at work, against gunicorn (see README.md, "Load test").

Coordinators log in, open the dashboard, page through and search the case list, open cases and the
quality-review list. Reviewers log in, open their queue and the case they review, and type into its
summary, which autosaves as the workspace does. The logins are seed_demo's (bench_pages --keep loads
them beside the generated cases); production mode asks them for a TOTP code after the password, which
is computed from IMR_LOAD_TOTP_SECRET (seed_demo --totp gives them that secret).
"""

import collections
import itertools
import os
import random
import re
import time

import pyotp
from locust import HttpUser, between, events, task
from locust.exception import StopUser

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CASE_LINK = re.compile(r'href="/cases/(CM\d{2}-\d{7})/"')
REVIEW_LINK = re.compile(r'href="/cases/(CM\d{2}-\d{7})/review/"')
SUMMARY_VERSION = re.compile(r'name="version" value="(\d+)" id="version-summary"')
SURNAMES = ["garcia", "smith", "nguyen", "lopez", "kim", "rivera", "maria garcia", "james lee"]

# Comma-separated usernames; the simulated people of a kind take them in turn (see totp_code on why several).
COORDINATORS = os.environ.get("IMR_LOAD_COORDINATOR", "coordinator").split(",")
REVIEWERS = os.environ.get("IMR_LOAD_REVIEWER", "dr.alvarez").split(",")
# seed_demo's passwords; a superuser (admin) is a coordinator to the application.
PASSWORDS = {"coordinator": "imr-demo-coordinator", "admin": "imr-demo-admin"}

# Each simulated person comes from an address of its own, as the TLS proxy reports it in X-Forwarded-For
# (gunicorn started with IMR_TRUSTED_PROXIES=1): allauth takes 30 sign-ins a minute from one address.
ADDRESSES = (f"10.0.{n // 250}.{n % 250 + 1}" for n in itertools.count())

MFA_AUTHENTICATE = "/accounts/2fa/authenticate/"
TOTP_PERIOD = 30  # allauth's MFA_TOTP_PERIOD; imr/settings.py sets MFA_TOTP_TOLERANCE = 1
CODE_MARGIN = 5  # seconds: allauth's clock runs on from the moment a code is picked until it is checked


def totp_from_the_environment() -> pyotp.TOTP:
    """The codes of IMR_LOAD_TOTP_SECRET; without a base32 secret there, locust stops before it starts."""
    # pyotp (requirements-dev, beside locust): allauth's code generator cannot be imported without Django's settings.
    try:
        return pyotp.TOTP(os.environ.get("IMR_LOAD_TOTP_SECRET", ""))  # checks the base32 and the length
    except ValueError:
        raise SystemExit(
            "Set IMR_LOAD_TOTP_SECRET to the base32 secret that seed_demo --totp gave the load-test users."
        ) from None


TOTP = totp_from_the_environment()
# When the simulated people of each account sent the code of each period (by counter), in this process.
_codes_sent = collections.defaultdict(dict)


def totp_code(username: str) -> str:
    """A code of IMR_LOAD_TOTP_SECRET that allauth will take for `username` now, waiting for one if need be.

    allauth takes the codes of the previous, current and next period, and refuses a code the account used in
    the last period (its cache of used codes): so three simulated people of one account sign in at once, and
    the next ones wait up to a period and a margin. Name several accounts to start more at once.
    """
    sent = _codes_sent[username]
    while True:
        now = time.time()
        counter = int(now // TOTP_PERIOD)
        candidates = [counter + 1, counter]  # valid for at least another 60 and 30 seconds
        if now % TOTP_PERIOD < TOTP_PERIOD - CODE_MARGIN:
            candidates.append(counter - 1)  # valid until this period ends
        for candidate in candidates:
            if now - sent.get(candidate, 0) > TOTP_PERIOD + CODE_MARGIN:
                sent[candidate] = now  # no yield since the check: greenlets of this process cannot both take it
                return TOTP.generate_otp(candidate)
        time.sleep(1)


def behind_the_proxy(session):
    """Send the Secure session and CSRF cookies over the plain connection to gunicorn, as the TLS proxy in
    front of it would receive them from a browser (production settings mark them Secure, and requests
    keeps a Secure cookie off http://): each response's cookies are kept without the flag."""
    request = session.request

    def request_and_keep_cookies(*args, **kwargs):
        response = request(*args, **kwargs)
        for cookie in session.cookies:
            cookie.secure = False
        return response

    session.request = request_and_keep_cookies


class Person(HttpUser):
    abstract = True
    wait_time = between(1, 3)  # a person reads what a page shows before the next click
    accounts = iter(())  # (username, password) in turn

    def on_start(self):
        behind_the_proxy(self.client)
        # Django sees https (SECURE_PROXY_SSL_HEADER), so it neither redirects nor refuses the CSRF origin.
        origin = "https://" + self.host.split("://", 1)[1].rstrip("/")
        self.client.headers.update({"X-Forwarded-Proto": "https", "Origin": origin, "Referer": origin + "/"})
        self.client.headers["X-Forwarded-For"] = next(ADDRESSES)
        username, password = next(self.accounts)
        form = self.client.get("/accounts/login/", name="log in (form)")
        with self.client.post(
            "/accounts/login/",
            {"login": username, "password": password, "csrfmiddlewaretoken": self.csrf(form.text)},
            name="log in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                self.stop_signing_in(response, f"login as {username} answered {response.status_code}")
            after = response.headers["Location"]
            if after.startswith("/accounts/2fa/") and after != MFA_AUTHENTICATE:
                self.stop_signing_in(
                    response, f"{username} has no TOTP authenticator (asked to set one up): run seed_demo --totp"
                )
        if after == MFA_AUTHENTICATE:
            self.second_factor(username)

    def second_factor(self, username: str):
        form = self.client.get(MFA_AUTHENTICATE, name="log in, code (form)")
        with self.client.post(
            MFA_AUTHENTICATE,
            {"code": totp_code(username), "csrfmiddlewaretoken": self.csrf(form.text)},
            name="log in, code",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302 or response.headers["Location"].startswith("/accounts/"):
                self.stop_signing_in(
                    response,
                    f"the TOTP code for {username} was refused (answered {response.status_code}): "
                    "is IMR_LOAD_TOTP_SECRET the secret seed_demo --totp gave it, and has no other locust process "
                    "signed in as it in the last 30 seconds?",
                )

    @staticmethod
    def stop_signing_in(response, reason: str):
        """Fail the sign-in and stop this simulated person: the pages would only redirect it to the login."""
        response.failure(reason)
        raise StopUser(reason)

    def csrf(self, html: str) -> str:
        match = CSRF_INPUT.search(html)
        return match[1] if match else self.client.cookies.get("csrftoken", "")


class Coordinator(Person):
    weight = 3
    accounts = itertools.cycle((username, PASSWORDS.get(username, "imr-demo-coordinator")) for username in COORDINATORS)

    @task(3)
    def dashboard(self):
        self.client.get("/", name="dashboard")

    @task(3)
    def case_list_and_a_case(self):
        page = self.client.get("/cases/", name="case list")
        numbers = CASE_LINK.findall(page.text)
        if numbers:
            self.client.get(f"/cases/{random.choice(numbers)}/", name="case page")

    @task(2)
    def case_list_next_pages(self):
        self.client.get(f"/cases/?page={random.randint(2, 20)}", name="case list, page n")

    @task(2)
    def search(self):
        self.client.get("/cases/", params={"q": random.choice(SURNAMES), "status": "all"}, name="case list, search")

    @task(1)
    def quality_review(self):
        self.client.get("/cases/qa/", name="QA list")


class Reviewer(Person):
    weight = 2
    accounts = itertools.cycle((username, "imr-demo-reviewer") for username in REVIEWERS)

    def on_start(self):
        super().on_start()
        queue = self.client.get("/queue/", name="reviewer queue")
        self.cases = REVIEW_LINK.findall(queue.text)

    @task(2)
    def queue(self):
        self.client.get("/queue/", name="reviewer queue")

    @task(3)
    def workspace_with_autosave(self):
        if not self.cases:
            return
        number = random.choice(self.cases)
        page = self.client.get(f"/cases/{number}/review/", name="workspace")
        version = SUMMARY_VERSION.search(page.text)
        if not version:
            return
        # Typing: a few autosaves in a row, each with the version the last one returned.
        version = version[1]
        for words in range(3):
            with self.client.post(
                f"/cases/{number}/review/summary/",
                {
                    "clinical_case_summary": f"Load test draft, {words + 1} sentences so far.",
                    "version": version,
                    "csrfmiddlewaretoken": self.csrf(page.text),
                },
                headers={"HX-Request": "true"},
                name="autosave",
                catch_response=True,
            ) as response:
                if response.status_code == 200:
                    version = response.headers.get("X-IMR-Version", version)
                elif response.status_code == 409:
                    # Simulated reviewers of one account share its case: another one saved first. The
                    # workspace refuses the stale save, as it must: not an error, but counted apart, as it
                    # answers faster than a save.
                    response.request_meta["name"] = "autosave, stale (409)"
                    response.success()
                    break
                else:
                    response.failure(f"autosave answered {response.status_code}")
                    break

    @task(1)
    def precedents(self):
        self.client.get("/precedents/", params={"q": "physical therapy"}, name="precedent search")


@events.quitting.add_listener
def _exit_code(environment, **kwargs):
    """Exit non-zero when more than 1 % of the requests failed, or a sign-in did (its person measured nothing)."""
    sign_ins_failed = any(e.num_failures for e in environment.stats.entries.values() if e.name.startswith("log in"))
    if environment.stats.total.fail_ratio > 0.01 or sign_ins_failed:
        environment.process_exit_code = 1
