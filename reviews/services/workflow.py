"""The transition core: every workflow action on a case runs through case_transition (and case_lock)."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django_fsm import can_proceed, has_transition_perm

from ..models import Case, CaseEvent
from .errors import Refused


def case_lock(case: Case, action: str, *, by: AbstractBaseUser | None, related: tuple[str, ...] = ()) -> Case:
    """Lock the case and check that `by` may take the transition `action` on it now.

    Returns the locked case, read again from the database (with `related` joined), for the service's own
    preconditions; pass it on to case_transition, which then does not lock it again. Raises Refused
    (code "not_allowed") unless the case is in a source status of `action`, and PermissionDenied unless
    `by` holds the role the transition's `permission=` names (reviews/roles.py). Call inside a
    transaction: the lock makes concurrent actions on one case run one at a time.
    """
    case = Case.objects.select_for_update(of=("self",)).select_related(*related).get(pk=case.pk)
    transition = getattr(case, action)
    if not can_proceed(transition):
        raise Refused(
            f"Case {case.case_number} is {case.get_status_display().lower()}: it cannot be changed this way now.",
            code="not_allowed",
        )
    if not has_transition_perm(transition, by):  # authorisation, not a refusal the user can fix
        raise PermissionDenied(f"You may not {action.replace('_', ' ')} case {case.case_number}.")
    case._locked_for = action
    return case


def case_transition(case: Case, action: str, *, by: AbstractBaseUser | None, note: str = "", **changes) -> Case:
    """Take the transition `action`: lock and check (case_lock, unless `case` comes from it), run it, apply
    `changes`, save, and record the CaseEvent with `note`.

    Returns the saved case. Raises what case_lock raises. Callers are atomic and write their follow-ups
    (outbox) in the same transaction.
    """
    if getattr(case, "_locked_for", None) != action:
        case = case_lock(case, action, by=by)
    case._locked_for = None
    from_status = case.status
    getattr(case, action)()
    for field, value in changes.items():
        setattr(case, field, value)
    case.save()
    CaseEvent.record(case, by=by, note=note, from_status=from_status)
    return case
