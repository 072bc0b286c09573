"""Assignment: each rule of DESIGN.md section 5, the ranking, the race, the page and reassignment."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from reviews import services
from reviews.assignment import problems_for, rank_reviewers
from reviews.models import Affiliation, Case, CaseEvent, CaseExclusion, Citation, License, Organization
from reviews.services.errors import Refused
from tests.factories import (
    BoardCertificationFactory,
    CaseFactory,
    DisputedItemFactory,
    GuidelineFactory,
    LicenseFactory,
    OrganizationFactory,
    ReviewerFactory,
    SpecialtyFactory,
    TreatmentCategoryFactory,
    UserFactory,
)


def _reviewer(username, *, specialty=None, states=("CA",), capacity=10):
    reviewer = ReviewerFactory(user=UserFactory(username=username), capacity=capacity)
    for state in states:
        LicenseFactory(reviewer=reviewer, state=state)
    BoardCertificationFactory(reviewer=reviewer, specialty=specialty or SpecialtyFactory())
    return reviewer


def _problems(case, reviewer):
    return problems_for(Case.objects.get(pk=case.pk), reviewer)


def _ready_copy(coordinator, template: Case, **fields) -> Case:
    """Another ready case with the same item category as `template`."""
    case = CaseFactory(**fields)
    DisputedItemFactory(case=case, category=template.items.get().category, position=1)
    case = services.case_confirm_eligibility(case=case, by=coordinator, eligible=True)
    case = services.case_request_records(case=case, by=coordinator)
    return services.case_complete_records(case=case, by=coordinator)


# The rules, one by one.


def test_a_licensed_certified_unconflicted_reviewer_is_eligible(ready_case, reviewer):
    assert _problems(ready_case, reviewer) == []


def test_assigning_gives_the_case_to_the_reviewer_and_queues_the_notice_after_commit(
    ready_case, reviewer, coordinator, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
        assert queued == []  # nothing leaves before the commit
    assert queued == [("notify_reviewer_assigned", (case.pk,))]
    case.refresh_from_db()
    assert case.status == Case.Status.ASSIGNED
    assert case.reviewer == reviewer
    assert case.date_assigned == timezone.localdate()
    event = case.events.last()
    assert (event.from_status, event.to_status, event.actor) == ("ready_for_assignment", "assigned", coordinator)


def test_an_inactive_reviewer_is_refused(ready_case, reviewer, coordinator):
    reviewer.active = False
    reviewer.save()
    with pytest.raises(Refused, match="inactive"):
        services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    assert Case.objects.get(pk=ready_case.pk).status == Case.Status.READY_FOR_ASSIGNMENT


def test_assigning_is_refused_when_the_only_licence_expired(ready_case, reviewer, coordinator):
    expired = timezone.localdate() - dt.timedelta(days=1)
    License.objects.filter(reviewer=reviewer).update(expires_on=expired)
    with pytest.raises(Refused, match=f"licence expired on {expired:%m/%d/%Y}"):
        services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    assert Case.objects.get(pk=ready_case.pk).reviewer is None


def test_a_suspended_licence_disqualifies_a_reviewer_who_holds_no_other(ready_case, reviewer):
    License.objects.filter(reviewer=reviewer).update(status=License.Status.SUSPENDED)
    assert _problems(ready_case, reviewer) == ["California licence suspended"]


def test_a_suspended_california_licence_disqualifies_when_the_program_requires_california(
    ready_case, reviewer, settings
):
    settings.IMR_REQUIRE_CALIFORNIA_LICENSE = True
    License.objects.filter(reviewer=reviewer).update(status=License.Status.SUSPENDED)
    assert _problems(ready_case, reviewer) == ["California licence suspended"]


def test_any_active_us_state_licence_qualifies_by_default(ready_case):
    texas = _reviewer("tx", states=("TX",))
    assert _problems(ready_case, texas) == []


def test_a_reviewer_licensed_only_outside_california_is_refused_when_the_program_requires_california(
    ready_case, settings
):
    settings.IMR_REQUIRE_CALIFORNIA_LICENSE = True
    nevada = _reviewer("nv", states=("NV",))
    assert _problems(ready_case, nevada) == ["no California licence"]
    settings.IMR_REQUIRE_CALIFORNIA_LICENSE = False
    assert _problems(ready_case, nevada) == []


def test_the_ranking_puts_a_california_licensee_before_an_equal_reviewer_licensed_elsewhere(ready_case):
    from reviews.assignment import rank_reviewers

    texas = _reviewer("tx", states=("TX",))
    california = _reviewer("ca", states=("TX", "CA"))
    eligible, _ = rank_reviewers(ready_case)
    order = [c.reviewer for c in eligible]
    assert order.index(california) < order.index(texas)


def test_a_reviewer_without_an_accepted_specialty_for_an_item_is_refused_and_told_which_item(ready_case):
    psychiatrist = _reviewer("psy", specialty=SpecialtyFactory(name="Psychiatry"))
    (problem,) = _problems(ready_case, psychiatrist)
    assert problem.startswith("no accepted specialty for item")
    assert "Physical therapy" in problem


def test_every_item_must_accept_the_reviewers_specialty(ready_case, reviewer):
    surgery = TreatmentCategoryFactory(name="Surgery")
    surgery.accepted_specialties.add(SpecialtyFactory(name="Orthopaedic Surgery"))
    DisputedItemFactory(case=ready_case, category=surgery, position=2, request_text="Lumbar fusion L4-5")
    assert _problems(ready_case, reviewer) == ["no accepted specialty for item 2 “Lumbar fusion L4-5” (Surgery)"]


def test_items_without_an_accepted_specialty_are_named_in_one_reason_with_ranges(ready_case, reviewer):
    surgery, injection = TreatmentCategoryFactory(name="Surgery"), TreatmentCategoryFactory(name="Injection")
    for position in (2, 3, 4, 5, 7, 9, 10):
        category = injection if position == 7 else surgery
        DisputedItemFactory(case=ready_case, category=category, position=position, request_text=f"Item {position}")
    assert _problems(ready_case, reviewer) == ["no accepted specialty for items 2–5, 7, 9, 10 (Surgery, Injection)"]


def test_a_subspecialist_counts_for_the_categories_of_the_parent_specialty(ready_case):
    spine = SpecialtyFactory(name="Interventional Spine", parent=SpecialtyFactory())
    subspecialist = _reviewer("sub", specialty=spine)
    assert _problems(ready_case, subspecialist) == []


def test_an_expired_board_certification_does_not_count(ready_case, reviewer):
    reviewer.certifications.update(expires_on=timezone.localdate() - dt.timedelta(days=1))
    assert _problems(ready_case, reviewer)[0].startswith("no accepted specialty")


@pytest.mark.parametrize(
    ("party", "reason"),
    [
        ("employer", "affiliated with the employer"),
        ("claims_administrator", "affiliated with the claims administrator"),
        ("ur_organization", "affiliated with the utilization review organisation"),
        ("employee_attorney", "affiliated with the employee's attorney"),
    ],
)
def test_assigning_is_refused_when_the_reviewer_is_affiliated_with_a_party(
    ready_case, reviewer, coordinator, party, reason
):
    org = getattr(ready_case, party)
    if org is None:
        kind = {"ur_organization": "ur_organization", "employee_attorney": "law_firm"}[party]
        org = OrganizationFactory(kind=kind)
        Case.objects.filter(pk=ready_case.pk).update(**{party: org})
    Affiliation.objects.create(reviewer=reviewer, kind=Affiliation.Kind.CONTRACT, organization=org)
    with pytest.raises(Refused, match=reason):
        services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)


def test_a_tie_to_the_requesting_provider_or_their_group_disqualifies(ready_case, reviewer):
    Affiliation.objects.create(
        reviewer=reviewer, kind=Affiliation.Kind.FINANCIAL, provider=ready_case.requesting_provider
    )
    assert _problems(ready_case, reviewer) == ["affiliated with the requesting provider"]

    group = OrganizationFactory(kind=Organization.Kind.PROVIDER_GROUP)
    other = _reviewer("grouped")
    ready_case.requesting_provider.group = group
    ready_case.requesting_provider.save()
    Affiliation.objects.create(reviewer=other, kind=Affiliation.Kind.EMPLOYMENT, organization=group)
    assert _problems(ready_case, other) == ["affiliated with the requesting provider's group"]


def test_a_declared_tie_to_the_employee_disqualifies_and_a_namesake_born_another_day_does_not(ready_case, reviewer):
    Case.objects.filter(pk=ready_case.pk).update(employee_name="Jane Q. Doe", employee_birth_date=dt.date(1970, 1, 2))
    Affiliation.objects.create(
        reviewer=reviewer,
        kind=Affiliation.Kind.PRIOR_TREATMENT,
        employee_name="jane q doe",
        employee_birth_date=dt.date(1970, 1, 2),
    )
    assert _problems(ready_case, reviewer) == ["declared tie to the employee (prior treatment of the employee)"]
    Affiliation.objects.filter(reviewer=reviewer).update(employee_birth_date=dt.date(1981, 5, 5))
    assert _problems(ready_case, reviewer) == []


def test_the_reviewer_of_the_remanded_case_may_not_review_the_remand(ready_case, reviewer, other_reviewer, coordinator):
    services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    remand = _ready_copy(coordinator, ready_case, remand_of=ready_case)
    assert _problems(remand, reviewer) == ["reviewed the remanded case"]
    assert _problems(remand, other_reviewer) == []


def test_a_reviewer_at_capacity_is_refused(ready_case, coordinator):
    busy = _reviewer("busy", capacity=1)
    other = _ready_copy(coordinator, ready_case)
    services.case_assign_reviewer(case=other, reviewer=busy, by=coordinator)
    with pytest.raises(Refused, match=r"at capacity \(1 of 1 open cases\)"):
        services.case_assign_reviewer(case=ready_case, reviewer=busy, by=coordinator)


def test_a_case_can_only_be_assigned_when_ready(coordinator, reviewer, ready_case):
    services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    with pytest.raises(Refused) as refused:
        services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    assert refused.value.code == "not_allowed"
    assert ready_case.events.filter(to_status="assigned").count() == 1


def test_only_coordinators_assign(ready_case, reviewer):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=reviewer.user)


# Ranking.


def test_eligible_reviewers_are_ranked_exact_specialty_then_load_then_earliest_free(ready_case, coordinator):
    pmr = SpecialtyFactory()
    ready_case.requesting_provider.specialty = pmr
    ready_case.requesting_provider.save()
    spine = SpecialtyFactory(name="Interventional Spine", parent=pmr)
    chiro = SpecialtyFactory(name="Chiropractic")
    ready_case.items.get().category.accepted_specialties.add(chiro)

    exact_busy = _reviewer("exact_busy", specialty=spine)
    _reviewer("similar_idle", specialty=chiro)
    similar_busy_late = _reviewer("similar_busy_late", specialty=chiro)
    similar_busy_early = _reviewer("similar_busy_early", specialty=chiro)
    for who, due_in in ((exact_busy, 5), (similar_busy_late, 20), (similar_busy_early, 2)):
        other = _ready_copy(coordinator, ready_case)
        Case.objects.filter(pk=other.pk).update(decision_due_date=timezone.localdate() + dt.timedelta(days=due_in))
        services.case_assign_reviewer(case=other, reviewer=who, by=coordinator)

    eligible, excluded = rank_reviewers(Case.objects.get(pk=ready_case.pk))
    assert [c.reviewer.user.username for c in eligible] == [
        "exact_busy",
        "similar_idle",
        "similar_busy_early",
        "similar_busy_late",
    ]
    assert eligible[0].exact_specialty and not eligible[1].exact_specialty
    assert excluded == []


def test_every_other_active_reviewer_is_listed_with_the_reasons(ready_case, reviewer):
    psychiatrist = _reviewer("psy", specialty=SpecialtyFactory(name="Psychiatry"))
    retired = _reviewer("retired")
    retired.active = False
    retired.save()
    eligible, excluded = rank_reviewers(Case.objects.get(pk=ready_case.pk))
    assert [c.reviewer for c in eligible] == [reviewer]
    assert [(c.reviewer, len(c.problems)) for c in excluded] == [(psychiatrist, 1)]


# The race.


@pytest.mark.django_db(transaction=True)
def test_two_coordinators_assigning_at_once_exactly_one_wins(coordinator, reviewer, other_reviewer, queued):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises every writer anyway")
    category = TreatmentCategoryFactory(name="Rehabilitation")
    category.accepted_specialties.add(SpecialtyFactory())
    case = CaseFactory()
    DisputedItemFactory(case=case, category=category, position=1)
    case = services.case_confirm_eligibility(case=case, by=coordinator, eligible=True)
    case = services.case_request_records(case=case, by=coordinator)
    case = services.case_complete_records(case=case, by=coordinator)

    barrier = threading.Barrier(2)
    outcomes = []

    def assign(who):
        try:
            barrier.wait()
            services.case_assign_reviewer(case=case, reviewer=who, by=coordinator)
            outcomes.append("won")
        except Refused:
            outcomes.append("lost")
        finally:
            connection.close()

    threads = [threading.Thread(target=assign, args=(who,)) for who in (reviewer, other_reviewer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost", "won"]
    assert CaseEvent.objects.filter(case=case, to_status="assigned").count() == 1


# Reassignment.


def test_reassigning_excludes_the_previous_reviewer_and_clears_their_draft(
    ready_case, reviewer, other_reviewer, coordinator, queued, django_capture_on_commit_callbacks
):
    case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    Case.objects.filter(pk=case.pk).update(clinical_case_summary="draft by bob")
    item = case.items.get()
    item.decision, item.rationale = "upheld", "bob's reasons"
    item.save()
    Citation.objects.create(item=item, role="review", guideline=GuidelineFactory(), pages="98")
    Citation.objects.create(item=item, role="ca", guideline=GuidelineFactory(), position=1)

    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_reassign_reviewer(
            case=case, reviewer=other_reviewer, by=coordinator, reason="conflict found"
        )
    assert queued == [("notify_reviewer_assigned", (case.pk,))]  # the new reviewer is told
    case.refresh_from_db()
    item.refresh_from_db()
    assert case.reviewer == other_reviewer
    assert case.status == Case.Status.ASSIGNED
    assert case.clinical_case_summary == ""
    assert (item.decision, item.rationale) == ("", "")
    assert list(item.citations.values_list("role", flat=True)) == ["ca"]
    assert CaseExclusion.objects.get(case=case).reviewer == reviewer
    assert _problems(case, reviewer) == ["excluded from this case earlier"]
    assert "conflict found" in case.events.last().note


def test_reassigning_needs_a_reason_and_an_eligible_reviewer(ready_case, reviewer, other_reviewer, coordinator):
    case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    with pytest.raises(Refused, match="reason"):
        services.case_reassign_reviewer(case=case, reviewer=other_reviewer, by=coordinator, reason=" ")
    License.objects.filter(reviewer=other_reviewer).update(status=License.Status.REVOKED)
    with pytest.raises(Refused):
        services.case_reassign_reviewer(case=case, reviewer=other_reviewer, by=coordinator, reason="unavailable")
    case.refresh_from_db()
    assert case.reviewer == reviewer
    assert not CaseExclusion.objects.exists()  # the refused reassignment left nothing behind


# The notice.


def test_the_assignment_email_names_the_case_and_due_date_and_nothing_medical(
    ready_case, reviewer, coordinator, mailoutbox, django_capture_on_commit_callbacks, queued
):
    from reviews.tasks import notify_reviewer_assigned

    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    assert queued == [("notify_reviewer_assigned", (case.pk,))]
    notify_reviewer_assigned(case.pk)  # what the worker runs
    (email,) = mailoutbox
    assert email.to == [reviewer.user.email]
    assert case.case_number in email.subject
    assert f"{case.decision_due_date:%m/%d/%Y}" in email.body
    for medical in (case.employee_name, "Physical therapy", case.claim_number):
        assert medical not in email.body and medical not in email.subject


def test_the_assignment_email_of_an_expedited_case_says_so_in_its_subject(
    ready_case, reviewer, coordinator, mailoutbox, django_capture_on_commit_callbacks
):
    from reviews.tasks import notify_reviewer_assigned

    Case.objects.filter(pk=ready_case.pk).update(priority=Case.Priority.EXPEDITED)
    ready_case.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    notify_reviewer_assigned(case.pk)

    (email,) = mailoutbox
    assert email.subject == f"IMR case {case.case_number} assigned to you (expedited)"


def test_no_notice_is_queued_when_the_assignment_fails(
    ready_case, reviewer, coordinator, queued, django_capture_on_commit_callbacks
):
    reviewer.active = False
    reviewer.save()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Refused):
        services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    assert queued == []


# The admin goes through the same rules.


def _admin_post(client, case, **changes):
    from django.forms.models import model_to_dict

    data = {k: v for k, v in model_to_dict(case).items() if v is not None and k != "status"}
    data.update({f"{prefix}-TOTAL_FORMS": 0 for prefix in ("diagnoses", "items", "documents", "events")})
    data.update({f"{prefix}-INITIAL_FORMS": 0 for prefix in ("diagnoses", "items", "documents", "events")})
    data.update(changes)
    return client.post(f"/admin/reviews/case/{case.pk}/change/", data)


def test_the_admin_refuses_a_reviewer_who_fails_a_rule(client, admin_user, ready_case, reviewer):
    License.objects.filter(reviewer=reviewer).update(status=License.Status.REVOKED)
    client.force_login(admin_user)
    response = _admin_post(client, ready_case, reviewer=reviewer.pk)
    assert response.status_code == 200
    assert "cannot take this case: California licence revoked" in response.content.decode()
    assert Case.objects.get(pk=ready_case.pk).reviewer is None


def test_the_admin_assigns_through_the_service(client, admin_user, ready_case, reviewer, queued):
    client.force_login(admin_user)
    response = _admin_post(client, ready_case, reviewer=reviewer.pk)
    assert response.status_code == 302, response.content.decode()[:2000]
    case = Case.objects.get(pk=ready_case.pk)
    assert (case.status, case.reviewer) == (Case.Status.ASSIGNED, reviewer)
    assert case.events.filter(to_status="assigned", actor=admin_user).exists()


def test_the_admin_asks_for_a_reason_to_reassign(client, admin_user, coordinator, ready_case, reviewer, other_reviewer):
    case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    client.force_login(admin_user)
    response = _admin_post(client, case, reviewer=other_reviewer.pk)
    assert "Give the reason for reassigning" in response.content.decode()
    response = _admin_post(client, case, reviewer=other_reviewer.pk, reassign_reason="conflict found")
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).reviewer == other_reviewer


def test_the_new_reviewer_must_open_every_document_the_previous_one_opened(
    ready_case, reviewer, other_reviewer, coordinator, queued
):
    from reviews.models import CaseDocument
    from tests.factories import CaseDocumentFactory

    document = CaseDocumentFactory(case=ready_case)
    case = services.case_assign_reviewer(case=ready_case, reviewer=reviewer, by=coordinator)
    case = services.case_accept(case=case, by=reviewer.user, attested=True)
    services.document_open(document=CaseDocument.objects.get(pk=document.pk), by=reviewer.user)
    assert not [p for p in services.submission_problems(case) if p.where == "documents"]

    case = services.case_reassign_reviewer(case=case, reviewer=other_reviewer, by=coordinator, reason="conflict")

    document.refresh_from_db()
    assert document.first_opened_at is None
    assert f"You have not opened {document}." in [str(p) for p in services.submission_problems(case)]
    services.document_open(document=CaseDocument.objects.get(pk=document.pk), by=other_reviewer.user)
    assert not [p for p in services.submission_problems(Case.objects.get(pk=case.pk)) if p.where == "documents"]
