"""Every transition of a case in one table, checked against the model's declared transitions so the two cannot
drift, and each row driven through its service: who may take it, the event it records, the work it queues.

A new transition adds its rows here (one per source status), with the service call that takes it.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.exceptions import PermissionDenied
from django_fsm import TransitionNotAllowed

from reviews import roles, services
from reviews.models import Case, CaseEvent, Letter, OutboxEntry
from reviews.services import letters as letter_services
from reviews.services.errors import Refused
from reviews.services.workflow import case_transition
from tests.factories import (
    CaseDocumentFactory,
    CaseFactory,
    DisputedItemFactory,
    GuidelineFactory,
    SpecialtyFactory,
    TreatmentCategoryFactory,
    UserFactory,
    confirm_public_copy,
    review_every_item,
)

S = Case.Status
ROLES = {"coordinator": roles.coordinator, "reviewer": roles.assigned_reviewer, "system": roles.system}
NOTIFY_REVIEWER = "reviews.tasks.notify_reviewer_assigned"
NOTIFY_DECLINED = "reviews.tasks.notify_coordinators_declined"


def write_determination(case, by, who):
    """The reviewer's first save moves the case into review; the rest completes the determination."""
    review_every_item(Case.objects.get(pk=case.pk), by=by, guideline=GuidelineFactory())


def render_letter(case, by, who):
    final = Letter.objects.get(case=case, version=1, kind=Letter.Kind.FINAL_DETERMINATION)
    letter_services.letter_render(letter_id=final.pk)


@dataclass(frozen=True)
class Row:
    source: str
    action: str
    actor: str  # a key of ROLES
    target: str
    note: str  # the start of the event's note
    notice: str | None  # the kind of letter the step produces for the parties, if any
    tasks: tuple[str, ...]  # what it writes to the outbox
    take: Callable | None  # (case, user, who) -> runs the service; None where no service takes it yet


def _reassign(case, by, who):
    return services.case_reassign_reviewer(case=case, reviewer=who.other_reviewer, by=by, reason="unavailable")


def _withdraw(case, by, who):
    return services.case_withdraw(
        case=case, by=by, requested_by="Maria Lopez", requester="employee", requested_on=case.application_received_date
    )


def _terminate(case, by, who):
    return services.case_terminate(
        case=case, by=by, items=list(case.items.all()), authorized_on=case.ur_decision_date, reported_by="Dana"
    )


# Reopening returns a case to the status it was closed from (Case.closed_from): the target is that rule.
REOPEN = Case.reopen._django_fsm.transitions[S.WITHDRAWN].target


def _decline(case, by, who):
    return services.case_decline(case=case, by=by, reason="conflict with the employer")


TRANSITIONS = [
    Row(
        S.RECEIVED,
        "confirm_eligible",
        "coordinator",
        S.ELIGIBLE,
        "eligible",
        None,
        (),
        lambda case, by, who: services.case_confirm_eligibility(case=case, by=by, eligible=True),
    ),
    Row(
        S.RECEIVED,
        "confirm_ineligible",
        "coordinator",
        S.INELIGIBLE,
        "Filed late",
        Letter.Kind.INELIGIBILITY,
        ("reviews.tasks.letter_render",),
        lambda case, by, who: services.case_confirm_eligibility(case=case, by=by, eligible=False, reason="Filed late"),
    ),
    Row(
        S.ELIGIBLE,
        "request_records",
        "coordinator",
        S.AWAITING_RECORDS,
        "records requested, due ",
        Letter.Kind.ASSIGNMENT_NOTICE,
        ("reviews.tasks.letter_render",),
        lambda case, by, who: services.case_request_records(case=case, by=by),
    ),
    Row(
        S.AWAITING_RECORDS,
        "complete_records",
        "coordinator",
        S.READY_FOR_ASSIGNMENT,
        "records complete, decision due ",
        None,
        (),
        lambda case, by, who: services.case_complete_records(case=case, by=by),
    ),
    Row(
        S.READY_FOR_ASSIGNMENT,
        "assign",
        "coordinator",
        S.ASSIGNED,
        "assigned to Bob Reviewer",
        None,
        (NOTIFY_REVIEWER,),
        lambda case, by, who: services.case_assign_reviewer(case=case, reviewer=who.reviewer, by=by),
    ),
    *(
        Row(
            source,
            "reassign",
            "coordinator",
            S.ASSIGNED,
            "reassigned from Bob Reviewer, MD to Charlie Reviewer, MD: unavailable",
            None,
            (NOTIFY_REVIEWER,),
            _reassign,
        )
        for source in S.WITH_REVIEWER
    ),
    *(
        Row(
            source,
            "release",
            "reviewer",
            S.READY_FOR_ASSIGNMENT,
            "declined by Bob Reviewer, MD: conflict with the employer",
            None,
            (NOTIFY_DECLINED,),
            _decline,
        )
        for source in (S.ASSIGNED, S.ACCEPTED)
    ),
    Row(
        S.ASSIGNED,
        "accept",
        "reviewer",
        S.ACCEPTED,
        "accepted; attested no material",
        None,
        (),
        lambda case, by, who: services.case_accept(case=case, by=by, attested=True),
    ),
    *(
        Row(source, "start_review", "reviewer", S.IN_REVIEW, "review started", None, (), write_determination)
        for source in (S.ACCEPTED, S.RETURNED)
    ),
    Row(
        S.IN_REVIEW,
        "submit",
        "reviewer",
        S.SUBMITTED,
        "submitted for quality review",
        None,
        (),
        lambda case, by, who: services.case_submit(case=case, by=by),
    ),
    Row(
        S.SUBMITTED,
        "return_to_reviewer",
        "coordinator",
        S.RETURNED,
        "returned to the reviewer: Cite the pages.",
        None,
        (),
        lambda case, by, who: services.case_return_to_reviewer(case=case, by=by, comments="Cite the pages."),
    ),
    Row(
        S.SUBMITTED,
        "approve",
        "coordinator",
        S.APPROVED,
        "approved",
        Letter.Kind.FINAL_DETERMINATION,
        ("reviews.tasks.letter_render",),
        lambda case, by, who: services.case_approve(case=case, by=by),
    ),
    Row(
        S.APPROVED, "issue", "system", S.ISSUED, "letter v1 ready", None, ("reviews.tasks.letter_serve",), render_letter
    ),
    # The steps beside the main path (services.steps); target None: recorded without a change of status.
    *(
        Row(
            source,
            "withdraw",
            "coordinator",
            S.WITHDRAWN,
            "Withdrawn at the request of",
            Letter.Kind.WITHDRAWAL_NOTICE,
            ("reviews.tasks.letter_render",),
            _withdraw,
        )
        for source in S.BEFORE_DECISION
    ),
    *(
        Row(
            source,
            "terminate",
            "coordinator",
            S.TERMINATED,
            "The claims administrator authorised",
            Letter.Kind.TERMINATION_NOTICE,
            ("reviews.tasks.letter_render",),
            _terminate,
        )
        for source in S.BEFORE_DECISION
    ),
    *(Row(source, "terminate_items", "coordinator", None, "", None, (), None) for source in S.BEFORE_DECISION),
    *(Row(source, "change_dispute", "coordinator", None, "", None, (), None) for source in S.DISPUTE_CHANGEABLE),
    *(Row(source, "expedite", "coordinator", None, "", None, (), None) for source in S.BEFORE_DECISION),
    Row(S.ISSUED, "remand", "coordinator", None, "", None, (), None),
    *(Row(source, "reopen", "coordinator", REOPEN, "", None, (), None) for source in S.REOPENABLE),
]
DRIVEN = [row for row in TRANSITIONS if row.take is not None]


def _row_id(row: Row) -> str:
    return f"{row.action}-from-{row.source}"


def test_the_table_lists_every_declared_transition_with_its_role():
    declared = Case._meta.get_field("status").get_all_transitions(Case)
    assert {(t.source, t.name, t.permission, t.target) for t in declared} == {
        (row.source, row.action, ROLES[row.actor], row.target) for row in TRANSITIONS
    }


@pytest.mark.parametrize("status", S)
def test_a_case_moves_only_along_the_table(status):
    for action in {row.action for row in TRANSITIONS}:
        case = Case(status=status)
        rows = [row for row in TRANSITIONS if row.action == action and row.source == status]
        if action == "reopen":  # its own tests: tests/test_models.py, tests/test_steps.py
            continue
        if rows:
            getattr(case, action)()
            assert case.status == (rows[0].target or status)
        else:
            with pytest.raises(TransitionNotAllowed):
                getattr(case, action)()


# The walk: a case taken along the main path, by the services, up to the status a row starts from.
MAIN_PATH = [
    "confirm_eligible",
    "request_records",
    "complete_records",
    "assign",
    "accept",
    "start_review",
    "submit",
    "approve",
]


def actor(row: Row, who) -> object:
    return {"coordinator": who.coordinator, "reviewer": who.reviewer.user, "system": None}[row.actor]


def case_at(status, who) -> Case:
    """A new case with one item (for the personas' specialty) and one document, walked to `status`.

    A submitted case has its public copy confirmed, as quality review does before approving.
    """
    category = TreatmentCategoryFactory(name="Rehabilitation")
    category.accepted_specialties.add(SpecialtyFactory())
    case = CaseFactory()
    DisputedItemFactory(case=case, category=category, position=1)
    CaseDocumentFactory(case=case)
    if status == S.RETURNED:
        case = case_at(S.SUBMITTED, who)
        return services.case_return_to_reviewer(case=case, by=who.coordinator, comments="Cite the pages.")
    for action in MAIN_PATH:
        case = Case.objects.get(pk=case.pk)
        if case.status == status:
            return case
        row = next(r for r in TRANSITIONS if r.action == action and r.source == case.status)
        row.take(case, actor(row, who), who)
        if row.target == S.SUBMITTED:
            confirm_public_copy(case, by=who.coordinator)
    return Case.objects.get(pk=case.pk)


@pytest.mark.parametrize("row", DRIVEN, ids=_row_id)
def test_each_transition_through_its_service_records_its_event_and_queues_its_work(row, who, queued, media):
    case = case_at(row.source, who)
    assert case.status == row.source
    events_before = set(CaseEvent.objects.filter(case=case).values_list("pk", flat=True))
    outbox_before = set(OutboxEntry.objects.values_list("pk", flat=True))
    letters_before = set(Letter.objects.filter(case=case).values_list("pk", flat=True))

    row.take(Case.objects.get(pk=case.pk), actor(row, who), who)

    assert Case.objects.get(pk=case.pk).status == row.target
    moves = CaseEvent.objects.filter(case=case, from_status=row.source, to_status=row.target).exclude(
        pk__in=events_before
    )
    assert [(e.actor, e.note[: len(row.note)]) for e in moves] == [(actor(row, who), row.note)]
    assert sorted(OutboxEntry.objects.exclude(pk__in=outbox_before).values_list("task", flat=True)) == sorted(row.tasks)
    new_letters = Letter.objects.filter(case=case).exclude(pk__in=letters_before)
    notices = set(new_letters.exclude(kind=Letter.Kind.PUBLIC_COPY).values_list("kind", flat=True))
    assert notices == ({row.notice} if row.notice else set())


def _others(row: Row, who) -> list:
    """Users who do not hold the row's role: the other role and a signed-in user with none."""
    plain = UserFactory(username="mallory")
    if row.actor == "coordinator":
        return [who.reviewer.user, plain]
    if row.actor == "reviewer":
        return [who.coordinator, who.other_reviewer.user, plain]
    return [who.coordinator, who.reviewer.user]


@pytest.mark.parametrize("row", DRIVEN, ids=_row_id)
def test_no_one_without_the_role_may_take_a_transition(row, who, queued, media):
    case = case_at(row.source, who)
    snapshot = (Case.objects.values().get(pk=case.pk), CaseEvent.objects.filter(case=case).count())
    for user in _others(row, who):
        with pytest.raises(PermissionDenied):
            if row.actor == "system":  # its service acts as no user: the core is asked directly
                case_transition(case, row.action, by=user)
            else:
                row.take(Case.objects.get(pk=case.pk), user, who)
    assert (Case.objects.values().get(pk=case.pk), CaseEvent.objects.filter(case=case).count()) == snapshot


def test_a_transition_from_another_status_is_refused_and_changes_nothing(who, queued):
    case = case_at(S.ASSIGNED, who)
    events = CaseEvent.objects.filter(case=case).count()
    with pytest.raises(Refused) as refused:
        services.case_request_records(case=case, by=who.coordinator)
    assert refused.value.code == "not_allowed"
    assert Case.objects.get(pk=case.pk).status == S.ASSIGNED
    assert CaseEvent.objects.filter(case=case).count() == events
