"""The transition core: every workflow action on a case runs through case_transition.

A service without preconditions of its own calls case_transition alone. One with preconditions
locks first (case_lock), checks them on the locked case, and passes that case on:

    case = case_lock(case, "accept", by=by)       # row lock + who may take it
    if not attested: raise Refused(...)           # the service's own preconditions
    return case_transition(case, "accept", by=by, note="accepted")   # status check, change, event
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django_fsm import can_proceed

from ..models import Case, CaseEvent
from .errors import Refused


def case_lock(case: Case, action: str, *, by: AbstractBaseUser | None, related: tuple[str, ...] = ()) -> Case:
    """Lock the case and check that `by` holds the role the transition `action` names (its `permission=`,
    a role of reviews/roles.py), whatever the case's status.

    Returns the locked case, read again from the database (with `related` joined); case_transition
    does not lock it again. Raises PermissionDenied (authorisation, not a refusal the user can fix).
    Call inside a transaction: the lock makes concurrent actions on one case run one at a time.
    """
    case = Case.objects.select_for_update(of=("self",)).select_related(*related).get(pk=case.pk)
    # django-fsm-2's has_transition_perm() asks only about the current status; the role comes first here.
    declared = [t for t in Case._meta.get_field("status").get_all_transitions(Case) if t.name == action]
    if not any(t.has_perm(case, by) for t in declared):
        raise PermissionDenied(f"You may not {action.replace('_', ' ')} case {case.case_number}.")
    case._locked_for = action
    return case


def case_require_status(case: Case, action: str) -> None:
    """Refuse (code "not_allowed") unless the case is in a source status of `action`: someone acted first."""
    if not can_proceed(getattr(case, action)):
        raise Refused(
            f"Case {case.case_number} is {case.get_status_display().lower()}: it cannot be changed this way now.",
            code="not_allowed",
        )


def case_transition(case: Case, action: str, *, by: AbstractBaseUser | None, note: str = "", **changes) -> Case:
    """Take the transition `action`: lock (unless `case` comes from case_lock for it) and check the actor,
    check the source status, run it, apply `changes`, save, and record the CaseEvent with `note`.

    Returns the saved case. Raises what case_lock and case_require_status raise. Callers are atomic and
    write their follow-ups (outbox) in the same transaction.
    """
    if getattr(case, "_locked_for", None) != action:
        case = case_lock(case, action, by=by)
    case_require_status(case, action)
    case._locked_for = None
    from_status = case.status
    getattr(case, action)()
    for field, value in changes.items():
        setattr(case, field, value)
    case.save()
    CaseEvent.record(case, by=by, note=note, from_status=from_status)
    return case
