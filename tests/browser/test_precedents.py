"""The precedent library in the browser: the search page with its chart, and the workspace panel beside autosave."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from reviews.models import Case, Guideline
from reviews.permissions import COORDINATORS
from tests.browser.conftest import submit_login
from tests.factories import (
    BoardCertificationFactory,
    CaseFactory,
    CitationFactory,
    DisputedItemFactory,
    GuidelineFactory,
    LicenseFactory,
    ReviewerFactory,
    SpecialtyFactory,
    TreatmentCategoryFactory,
    UserFactory,
)

# The live server answers from another thread, so the data must be committed: a transactional test.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
PRECEDENTS = [
    # request, category, subcategory, decision, guideline, rationale
    (
        "Gabapentin 600 mg #90",
        "Pharmaceuticals",
        "Anticonvulsants",
        "overturned",
        "mtus",
        "The patient has neuropathic pain in the left leg with decreased sensation in the L5 dermatome. The MTUS "
        "recommends gabapentin as a first-line treatment for neuropathic pain; the records document a 40% reduction "
        "in pain and a return to modified work. Therefore, the request is medically necessary.",
    ),
    (
        "Gabapentin 300 mg #60",
        "Pharmaceuticals",
        "Anticonvulsants",
        "upheld",
        "mtus",
        "There is no documentation of neuropathic pain on examination, and no improvement in function was "
        "recorded after six months of gabapentin. The guidelines recommend continuing an anti-epilepsy drug only "
        "with a documented response. Therefore, the request is not medically necessary.",
    ),
    (
        "Tramadol ER 150 mg #30",
        "Pharmaceuticals",
        "Opioids",
        "upheld",
        "mtus",
        "The records do not document the four domains of opioid monitoring; urine drug screens are not on file. "
        "Weaning is recommended. Therefore, the request is not medically necessary.",
    ),
    (
        "Norco 10/325 mg #90",
        "Pharmaceuticals",
        "Opioids",
        "upheld",
        "odg",
        "Long-term opioid use without objective functional improvement is not supported; the pain scores are "
        "unchanged at 8/10. Therefore, the request is not medically necessary.",
    ),
    (
        "Physical therapy 8 sessions lumbar spine",
        "Therapies",
        "Physical therapy",
        "overturned",
        "mtus",
        "The patient has not had physical therapy for this new flare of low back pain; the MTUS recommends 8 to 10 "
        "visits for myalgia and neuritis. Therefore, the request is medically necessary.",
    ),
    (
        "Physical therapy 12 sessions cervical spine",
        "Therapies",
        "Physical therapy",
        "upheld",
        "mtus",
        "The patient has already completed 24 sessions of physical therapy and should continue a home exercise "
        "program. The 12 requested exceed the guidelines. Therefore, the request is not medically necessary.",
    ),
    (
        "Acupuncture 6 sessions",
        "Therapies",
        "Acupuncture",
        "overturned",
        "odg",
        "Acupuncture is recommended as an option when pain medication is reduced or not tolerated; a trial of 3 to "
        "6 treatments is supported. Therefore, the request is medically necessary.",
    ),
    (
        "Lumbar epidural steroid injection L5-S1",
        "Injection",
        "Epidural steroid injection",
        "upheld",
        "mtus",
        "Radiculopathy is not corroborated by imaging or electrodiagnostic testing. Therefore, the request is not "
        "medically necessary.",
    ),
    (
        "MRI of the right shoulder without contrast",
        "Diagnostic Testing",
        "MRI",
        "overturned",
        "odg",
        "Weakness of the rotator cuff persists after three months of conservative care and surgery is being "
        "considered. Therefore, the request is medically necessary.",
    ),
]


@pytest.fixture
def library(transactional_db):
    """Nine published decisions by two reviewers of different specialties, and bob's case in review."""
    mtus = GuidelineFactory()
    odg = GuidelineFactory(
        source=Guideline.Source.ODG,
        title="ODG (Official Disability Guidelines)",
        edition="",
        citation_name="ODG (Official Disability Guidelines)",
    )
    deciders = []
    for n, specialty in enumerate(("Physical Medicine and Rehabilitation", "Pain Medicine")):
        decider = ReviewerFactory(user=UserFactory(username=f"decider{n}"))
        BoardCertificationFactory(reviewer=decider, specialty=SpecialtyFactory(name=specialty), board="ABPMR")
        deciders.append(decider)
    for n, (request, category, sub, decision, cited, rationale) in enumerate(PRECEDENTS):
        parent = TreatmentCategoryFactory(name=category)
        case = CaseFactory(
            status=Case.Status.ISSUED,
            reviewer=deciders[n % 2],
            decision_date=dt.date(2026, 1, 5) + dt.timedelta(days=17 * n),
        )
        item = DisputedItemFactory(
            case=case,
            position=1,
            request_text=request,
            category=parent,
            subcategory=TreatmentCategoryFactory(name=sub, parent=parent),
            decision=decision,
            rationale=rationale,
        )
        CitationFactory(item=item, guideline=mtus if cited == "mtus" else odg, sections="", pages="16-18")

    bob = ReviewerFactory(user=UserFactory(username="bob", first_name="Bob", last_name="Reviewer"))
    LicenseFactory(reviewer=bob)
    BoardCertificationFactory(reviewer=bob)
    mine = CaseFactory(status=Case.Status.IN_REVIEW, reviewer=bob)
    DisputedItemFactory(
        case=mine,
        position=1,
        request_text="Gabapentin 600 mg #90 with 2 refills",
        category=TreatmentCategoryFactory(name="Pharmaceuticals"),
    )
    DisputedItemFactory(case=mine, position=2, request_text="Physical therapy 2x4 weeks lumbar spine")
    return mine


def log_in(page, base_url: str, username: str):
    page.goto(f"{base_url}/accounts/login/")
    submit_login(page, username, PASSWORD)


def test_a_coordinator_searches_precedents_and_reads_the_share_overturned(
    live_server, page, browser_console, screenshot, library
):
    coordinator = UserFactory(username="alice", first_name="Alice", last_name="Coordinator", is_staff=True)
    coordinator.groups.add(Group.objects.get(name=COORDINATORS))
    log_in(page, live_server.url, "alice")

    page.get_by_role("link", name="Precedents").click()
    expect(page.get_by_role("heading", name="Precedents", level=1)).to_be_visible()
    expect(page.locator(".imr-precedent")).to_have_count(len(PRECEDENTS))
    page.get_by_label("Words").fill("gabapentin")
    page.get_by_role("button", name="Search").click()

    expect(page.locator(".imr-precedent")).to_have_count(2)
    expect(page.locator(".imr-precedent mark").first).to_have_text("gabapentin", ignore_case=True)
    expect(page.locator(".imr-precedent-stats")).to_contain_text("50 % of 2 items (1 overturned)")
    screenshot(page, "precedent-search")
    browser_console.assert_clean("the precedent search")

    page.goto(f"{live_server.url}/precedents/")
    screenshot(page, "precedent-search-all")
    browser_console.assert_clean("the precedent search, unfiltered")


def settled(swapped):
    """Wait for htmx to settle content it swapped in: it attaches the content's triggers then (20 ms on),
    as it takes the htmx-added class off; a keystroke or a click before that is lost."""
    expect(swapped).not_to_have_class(re.compile(r"\bhtmx-added\b"))


def test_the_workspace_panel_shows_precedents_of_the_item_being_decided_and_leaves_autosave_alone(
    live_server, page, browser_console, screenshot, library
):
    case = library
    log_in(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/cases/{case.case_number}/review/")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    panel = page.locator("#precedents")
    expect(panel.get_by_role("searchbox")).to_have_value("Gabapentin")
    expect(panel.locator(".imr-precedent")).to_have_count(2)
    settled(page.locator("#precedent-panel"))
    expect(panel.get_by_role("link", name="Open the full search")).to_have_attribute("target", "_blank")

    # Typing in the panel searches again, and saves nothing: no item panel is marked as edited.
    panel.get_by_role("searchbox").fill("gabapentin dermatome")
    expect(panel.locator("#precedent-results")).to_contain_text("1 found", timeout=15_000)  # a loaded CI machine
    expect(page.locator("form.ws-panel[data-state]")).to_have_count(0)
    assert posts == []

    panel.get_by_role("button", name="Item 2").click()
    expect(panel.get_by_role("searchbox")).to_have_value("Physical therapy")
    expect(panel.locator(".imr-precedent")).to_have_count(2)  # both physical therapies; not acupuncture
    expect(panel).not_to_contain_text("Acupuncture")
    settled(page.locator("#precedent-panel"))
    panel.get_by_role("button", name="Item 1").click()
    expect(panel.get_by_role("searchbox")).to_have_value("Gabapentin")
    expect(panel.locator(".imr-precedent")).to_have_count(2)
    assert posts == []

    full = screenshot(page, "workspace-precedents")
    # The records column scrolls on its own beside the writing: show the panel where a reviewer sees it.
    panel.scroll_into_view_if_needed()
    page.screenshot(path=full.with_name("workspace-precedents-in-view.png"))
    panel.screenshot(path=full.with_name("workspace-precedents-panel.png"))
    browser_console.assert_clean("the workspace with its precedent panel")


def test_the_page_says_so_when_the_share_overturned_cannot_be_counted(live_server, page, screenshot, library):
    """The chart is a second request: when it fails (a database gone away), the card says so and the results stay."""
    coordinator = UserFactory(username="alice", first_name="Alice", last_name="Coordinator", is_staff=True)
    coordinator.groups.add(Group.objects.get(name=COORDINATORS))
    log_in(page, live_server.url, "alice")
    page.route("**/precedents/chart/**", lambda route: route.fulfill(status=500, body="Server Error"))

    page.goto(f"{live_server.url}/precedents/?q=gabapentin")

    expect(page.locator(".imr-precedent-stats")).to_contain_text("could not be counted just now")
    expect(page.locator(".imr-precedent")).to_have_count(2)
    screenshot(page, "precedent-search-chart-failed")  # the failed request is on the console, as it should be
