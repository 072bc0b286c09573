"""The coordinator's case page and its actions: eligibility, records, assignment."""

import datetime as dt

import pytest
from django.utils import timezone

from reviews import services
from reviews.models import Case, CaseExclusion
from tests.factories import CaseDocumentFactory, CaseFactory, DisputedItemFactory


def _url(case, action=""):
    return f"/cases/{case.case_number}/{action + '/' if action else ''}"


@pytest.fixture
def received(db):
    case = CaseFactory(ur_decision_date=dt.date(2026, 10, 1), application_received_date=dt.date(2026, 10, 8))
    DisputedItemFactory(case=case, position=1)
    CaseDocumentFactory(case=case, kind="ur_letter")
    return case


# The case page.


def test_the_case_page_shows_the_case_and_its_next_step(client, coordinator, received):
    client.force_login(coordinator)
    response = client.get(_url(received))
    assert response.status_code == 200
    body = response.content.decode()
    assert received.case_number in body
    assert received.employee_name in body
    assert "Check eligibility" in body


def test_the_case_page_costs_the_same_queries_however_long_the_case(
    client, coordinator, received, django_assert_num_queries
):
    client.force_login(coordinator)
    # session, user, groups (role), case + parties, diagnoses, items, documents, events (+actors),
    # exclusions, letters and notices, those ready and unserved, and the audit log's record of the read
    with django_assert_num_queries(12):
        client.get(_url(received))
    for position in range(2, 8):
        DisputedItemFactory(case=received, position=position)
        CaseDocumentFactory(case=received)
    services.case_confirm_eligibility(case=received, by=coordinator, eligible=True)
    with django_assert_num_queries(12):
        client.get(_url(received))


# Eligibility.


def _answers(**overrides):
    data = {
        "application_signed": "on",
        "ur_served_on": "2026-10-01",
        "ur_letter_attached": "on",
        "no_earlier_imr": "on",
        "eligible": "yes",
        "reason": "",
        "action": "confirm",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_checklist_is_prefilled_from_the_records(client, coordinator, received):
    client.force_login(coordinator)
    form = client.get(_url(received, "eligibility")).context["form"]
    assert form.initial["ur_letter_attached"] is True
    assert form.initial["no_earlier_imr"] is True
    assert form.initial["application_signed"] is False  # only a person can tell


def test_a_complete_checklist_proposes_eligible_and_confirming_makes_it_so(client, coordinator, received):
    client.force_login(coordinator)
    response = client.post(_url(received, "eligibility"), _answers(action="check"))
    assert response.context["proposed_eligible"] is True
    response = client.post(_url(received, "eligibility"), _answers())
    assert response.status_code == 302
    received.refresh_from_db()
    assert received.status == Case.Status.ELIGIBLE
    assert "Application signed by the employee or representative: yes" in received.events.last().note


def test_a_late_application_is_proposed_ineligible_and_closing_keeps_the_reason(client, coordinator, received):
    client.force_login(coordinator)
    late = _answers(ur_served_on="2026-09-01", action="check")
    response = client.post(_url(received, "eligibility"), late)
    assert response.context["proposed_eligible"] is False
    reason = response.context["form"].initial["reason"]
    assert "filed within 30 days" in reason
    client.post(_url(received, "eligibility"), {**late, "action": "confirm", "eligible": "no", "reason": reason})
    received.refresh_from_db()
    assert received.status == Case.Status.INELIGIBLE
    assert received.closed_reason.startswith("Not eligible: filed within 30 days")


def test_an_earlier_imr_on_the_same_treatment_is_found(coordinator, received):
    from reviews.eligibility import checklist_initial, earlier_reviews

    earlier = CaseFactory(claim_number=received.claim_number)
    DisputedItemFactory(case=earlier, category=received.items.get().category, position=1)
    assert earlier_reviews(received) == [earlier.case_number]
    assert checklist_initial(received)["no_earlier_imr"] is False


def test_ineligible_without_a_reason_is_refused_in_place(client, coordinator, received):
    client.force_login(coordinator)
    response = client.post(_url(received, "eligibility"), _answers(eligible="no", reason=""))
    assert response.status_code == 200
    assert "Give the reason" in response.content.decode()
    assert Case.objects.get(pk=received.pk).status == Case.Status.RECEIVED


def test_overriding_a_failed_checklist_needs_a_reason(client, coordinator, received):
    client.force_login(coordinator)
    unsigned = _answers(application_signed=None)
    response = client.post(_url(received, "eligibility"), unsigned)
    assert "say why the case is eligible" in response.content.decode()
    assert Case.objects.get(pk=received.pk).status == Case.Status.RECEIVED
    client.post(_url(received, "eligibility"), {**unsigned, "reason": "Signed copy received by fax today"})
    assert Case.objects.get(pk=received.pk).status == Case.Status.ELIGIBLE


def test_a_case_already_decided_cannot_be_checked_again(client, coordinator, received):
    services.case_confirm_eligibility(case=received, by=coordinator, eligible=True)
    events = received.events.count()
    client.force_login(coordinator)
    response = client.post(_url(received, "eligibility"), _answers(), follow=True)
    assert "cannot be checked for eligibility any more" in response.content.decode()
    assert received.events.count() == events


# Records.


def test_requesting_records_starts_the_records_clock(client, coordinator, received):
    services.case_confirm_eligibility(case=received, by=coordinator, eligible=True)
    client.force_login(coordinator)
    client.post(_url(received, "request-records"), {"sent_on": "2026-11-02", "electronic": "on"})
    received.refresh_from_db()
    assert received.status == Case.Status.AWAITING_RECORDS
    assert received.records_due_date == dt.date(2026, 11, 16)  # 12 days: Saturday 11/14 moves to Monday


@pytest.mark.parametrize(
    ("priority", "due"),
    [("standard", dt.date(2026, 12, 2)), ("expedited", dt.date(2026, 11, 5)), ("formulary", dt.date(2026, 11, 9))],
)
def test_records_complete_sets_the_decision_due_date_by_priority(client, coordinator, received, priority, due):
    Case.objects.filter(pk=received.pk).update(priority=priority)
    received.refresh_from_db()
    received = services.case_confirm_eligibility(case=received, by=coordinator, eligible=True)
    services.case_request_records(case=received, by=coordinator, sent_on=dt.date(2026, 10, 20))
    client.force_login(coordinator)
    client.post(_url(received, "records-complete"), {"complete_on": "2026-11-02"})
    received.refresh_from_db()
    assert received.status == Case.Status.READY_FOR_ASSIGNMENT
    assert (received.records_complete_date, received.decision_due_date) == (dt.date(2026, 11, 2), due)


@pytest.mark.parametrize("day", ["2026-10-01", "2099-01-01", "not a date"])
def test_records_complete_refuses_impossible_dates_with_a_message(client, coordinator, received, day):
    received = services.case_confirm_eligibility(case=received, by=coordinator, eligible=True)
    services.case_request_records(case=received, by=coordinator)
    client.force_login(coordinator)
    response = client.post(_url(received, "records-complete"), {"complete_on": day}, follow=True)
    assert Case.objects.get(pk=received.pk).status == Case.Status.AWAITING_RECORDS
    assert list(response.context["messages"])


# Assignment page.


def test_the_assignment_page_lists_eligible_reviewers_and_the_reasons_others_are_not(
    client, coordinator, ready_case, reviewer, other_reviewer
):
    from reviews.models import License

    License.objects.filter(reviewer=other_reviewer).update(expires_on=timezone.localdate() - dt.timedelta(days=3))
    client.force_login(coordinator)
    response = client.get(_url(ready_case, "assign"))
    assert [c.reviewer for c in response.context["eligible"]] == [reviewer]
    body = response.content.decode()
    assert "licence expired on" in body
    assert str(other_reviewer) in body


def test_assigning_in_one_click(client, coordinator, ready_case, reviewer, queued):
    client.force_login(coordinator)
    response = client.post(_url(ready_case, "assign"), {"reviewer": reviewer.pk})
    assert response.status_code == 302
    ready_case.refresh_from_db()
    assert (ready_case.status, ready_case.reviewer) == (Case.Status.ASSIGNED, reviewer)


@pytest.mark.parametrize(
    ("email", "said"),
    [
        ("maria@example.org", "An e-mail telling them is on its way to maria@example.org."),
        ("", "No e-mail was sent: {reviewer} has no e-mail address on file. Tell them yourself."),
    ],
)
def test_the_assignment_message_says_whether_an_email_goes_to_the_reviewer(
    client, coordinator, ready_case, reviewer, queued, email, said
):
    reviewer.user.email = email
    reviewer.user.save()
    client.force_login(coordinator)
    response = client.post(_url(ready_case, "assign"), {"reviewer": reviewer.pk}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [f"{ready_case} assigned to {reviewer}.", said.format(reviewer=reviewer)]
    assert "notified by e-mail" not in response.content.decode()


def test_a_reviewer_without_an_email_address_is_sent_none(
    ready_case, reviewer, coordinator, mailoutbox, django_capture_on_commit_callbacks, queued
):
    from reviews.tasks import notify_reviewer_assigned

    reviewer.user.email = ""
    reviewer.user.save()
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    notify_reviewer_assigned(case.pk)  # what the worker runs: nothing to send, and no failure
    assert mailoutbox == []


def test_posting_an_ineligible_reviewer_is_refused_with_the_reasons(client, coordinator, ready_case, reviewer):
    reviewer.capacity = 0
    reviewer.save()
    client.force_login(coordinator)
    response = client.post(_url(ready_case, "assign"), {"reviewer": reviewer.pk})
    assert response.status_code == 400
    assert "at capacity" in response.content.decode()
    assert Case.objects.get(pk=ready_case.pk).reviewer is None


def test_the_second_coordinator_to_assign_is_told_and_changes_nothing(
    client, coordinator, ready_case, reviewer, other_reviewer, queued
):
    services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    client.force_login(coordinator)
    # The page was loaded before the first assignment; the case now counts as "with a reviewer".
    response = client.post(_url(ready_case, "assign"), {"reviewer": other_reviewer.pk}, follow=True)
    assert Case.objects.get(pk=ready_case.pk).reviewer == reviewer
    assert response.status_code == 400  # a reassignment needs a reason: nothing happens without one


def test_reassigning_from_the_page_records_the_reason(
    client, coordinator, ready_case, reviewer, other_reviewer, queued
):
    services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    client.force_login(coordinator)
    response = client.get(_url(ready_case, "assign"))
    assert response.context["reassigning"] is True
    assert reviewer not in [c.reviewer for c in response.context["eligible"]]
    client.post(_url(ready_case, "assign"), {"reviewer": other_reviewer.pk, "reason": "reviewer on leave"})
    ready_case.refresh_from_db()
    assert ready_case.reviewer == other_reviewer
    assert CaseExclusion.objects.get(case=ready_case).reason == "reassigned: reviewer on leave"


def test_the_assignment_page_costs_the_same_queries_for_few_or_many_reviewers(
    client, coordinator, ready_case, django_assert_num_queries
):
    from tests.factories import BoardCertificationFactory, LicenseFactory, ReviewerFactory

    def add_reviewers(n):
        for _ in range(n):
            r = ReviewerFactory()
            LicenseFactory(reviewer=r)
            BoardCertificationFactory(reviewer=r)

    client.force_login(coordinator)
    add_reviewers(2)
    # session, user, groups, case with provider, items, their accepted specialties, exclusions,
    # reviewers with load, licences, certifications, affiliations; the items with their categories
    # and the category and guideline catalogues, for the category correction forms; the audit entry
    with django_assert_num_queries(15):
        client.get(_url(ready_case, "assign"))
    add_reviewers(12)
    with django_assert_num_queries(15):
        client.get(_url(ready_case, "assign"))


# Correcting an item's treatment category (when it keeps the right reviewer out).


def test_correcting_an_items_category_on_the_assign_page_lets_the_right_reviewer_in(
    client, coordinator, ready_case, reviewer
):
    from auditlog.models import LogEntry

    from tests.factories import TreatmentCategoryFactory

    item = ready_case.items.get()
    rehab = item.category
    wrong = TreatmentCategoryFactory(name="Surgery")
    ready_case.items.update(category=wrong)
    client.force_login(coordinator)
    page = client.get(_url(ready_case, "assign")).content.decode()
    assert "no accepted specialty for item 1" in page
    assert f'action="/cases/{ready_case.case_number}/items/1/category/"' in page

    response = client.post(_url(ready_case, "items/1/category"), {"category": rehab.pk, "subcategory": ""}, follow=True)

    assert response.redirect_chain == [(_url(ready_case, "assign"), 302)]
    assert "Item 1 is now Rehabilitation; the reviewers are ranked again." in response.content.decode()
    assert [c.reviewer for c in response.context["eligible"]] == [reviewer]
    item.refresh_from_db()
    assert item.category == rehab
    event = ready_case.events.latest("created_at")
    assert (event.actor, event.note) == (
        coordinator,
        "item 1: treatment category corrected from Surgery to Rehabilitation",
    )
    assert LogEntry.objects.get_for_object(item).filter(action=LogEntry.Action.UPDATE, actor=coordinator).exists()


def test_a_subcategory_of_another_category_is_refused_and_nothing_changes(client, coordinator, ready_case):
    from tests.factories import TreatmentCategoryFactory

    item = ready_case.items.get()
    other = TreatmentCategoryFactory(name="Arthroscopy", parent=TreatmentCategoryFactory(name="Surgery"))
    events = ready_case.events.count()
    client.force_login(coordinator)
    data = {"category": item.category_id, "subcategory": other.pk}
    response = client.post(_url(ready_case, "items/1/category"), data, follow=True)
    assert "Item 1 was not changed: Pick a subcategory of the chosen category." in response.content.decode()
    assert ready_case.items.get().subcategory is None
    assert ready_case.events.count() == events


def test_the_items_of_a_case_its_reviewer_accepted_cannot_be_corrected(coordinator, ready_case, reviewer):
    from reviews.services.errors import Refused
    from tests.factories import TreatmentCategoryFactory

    case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    case = services.case_accept(case=case, by=reviewer.user, attested=True)
    item = case.items.get()
    with pytest.raises(Refused) as refused:
        services.item_category_correct(
            item=item, category=TreatmentCategoryFactory(name="Surgery"), subcategory=None, by=coordinator
        )
    assert refused.value.code == "not_allowed"
    assert case.items.get().category == item.category


def test_only_coordinators_correct_categories_and_only_by_post(client, reviewer, coordinator, ready_case):
    url = _url(ready_case, "items/1/category")
    category = ready_case.items.get().category_id
    response = client.post(url, {"category": category})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(reviewer.user)
    assert client.post(url, {"category": category}).status_code == 403
    client.force_login(coordinator)
    assert client.get(url).status_code == 405
    assert client.post(_url(ready_case, "items/9/category"), {"category": category}).status_code == 404
    assert not ready_case.events.filter(note__contains="category corrected").exists()


def test_a_case_that_is_not_ready_cannot_be_assigned(client, coordinator, received, reviewer):
    client.force_login(coordinator)
    response = client.post(_url(received, "assign"), {"reviewer": reviewer.pk}, follow=True)
    assert "cannot be assigned any more" in response.content.decode()
    assert Case.objects.get(pk=received.pk).reviewer is None


def test_opening_a_case_page_is_written_to_the_audit_log(client, coordinator, received):
    from auditlog.models import LogEntry

    client.force_login(coordinator)
    client.get(_url(received))
    entry = LogEntry.objects.get_for_object(received).get(action=LogEntry.Action.ACCESS)
    assert entry.actor == coordinator
