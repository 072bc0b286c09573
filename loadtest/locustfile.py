"""Load test of IMR Desk: coordinators and expert reviewers at work, against gunicorn (see loadtest/README.md).

Coordinators log in, open the dashboard, page through and search the case list, open cases and the
quality-review list. Reviewers log in, open their queue and the case they review, and type into its
summary, which autosaves as the workspace does. The logins are seed_demo's (bench_pages --keep loads
them beside the generated cases).
"""

import os
import random
import re

from locust import HttpUser, between, events, task

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CASE_LINK = re.compile(r'href="/cases/(CM\d{2}-\d{7})/"')
REVIEW_LINK = re.compile(r'href="/cases/(CM\d{2}-\d{7})/review/"')
SUMMARY_VERSION = re.compile(r'name="version" value="(\d+)" id="version-summary"')
SURNAMES = ["garcia", "smith", "nguyen", "lopez", "kim", "rivera", "maria garcia", "james lee"]

COORDINATOR = (os.environ.get("IMR_LOAD_COORDINATOR", "coordinator"), "imr-demo-coordinator")
REVIEWER = (os.environ.get("IMR_LOAD_REVIEWER", "dr.alvarez"), "imr-demo-reviewer")


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
    login = ("", "")

    def on_start(self):
        behind_the_proxy(self.client)
        # Django sees https (SECURE_PROXY_SSL_HEADER), so it neither redirects nor refuses the CSRF origin.
        origin = "https://" + self.host.split("://", 1)[1].rstrip("/")
        self.client.headers.update({"X-Forwarded-Proto": "https", "Origin": origin, "Referer": origin + "/"})
        form = self.client.get("/accounts/login/", name="log in (form)")
        username, password = self.login
        with self.client.post(
            "/accounts/login/",
            {"login": username, "password": password, "csrfmiddlewaretoken": self.csrf(form.text)},
            name="log in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login as {username} answered {response.status_code}")

    def csrf(self, html: str) -> str:
        match = CSRF_INPUT.search(html)
        return match[1] if match else self.client.cookies.get("csrftoken", "")


class Coordinator(Person):
    weight = 3
    login = COORDINATOR

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
    login = REVIEWER

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
                    # Every simulated reviewer shares one login and case: another one saved first. The
                    # workspace refuses the stale save, as it must; not an error of the server.
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
    """Exit non-zero when more than 1 % of the requests failed."""
    if environment.stats.total.fail_ratio > 0.01:
        environment.process_exit_code = 1
