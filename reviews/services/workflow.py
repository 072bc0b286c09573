"""The transition core: every workflow action on a case runs through case_transition."""

from django.contrib.auth.models import AbstractBaseUser
from django_fsm import can_proceed

from ..models import Case, CaseEvent
from .errors import Refused


def case_transition(case: Case, action: str, *, by: AbstractBaseUser, note: str = "", **changes) -> Case:
    """Lock the case, run the fsm transition `action`, apply `changes`, save, and record the event.

    Returns the locked, saved case. Raises Refused (code "not_allowed") when the case is not in
    a source state of `action`. Callers are atomic and write their follow-ups (outbox) in the same
    transaction; the lock makes concurrent actions on one case run one at a time.
    """
    case = Case.objects.select_for_update().get(pk=case.pk)
    transition = getattr(case, action)
    if not can_proceed(transition):
        raise Refused(
            f"Case {case.case_number} is {case.get_status_display().lower()}: it cannot be changed this way now.",
            code="not_allowed",
        )
    from_status = case.status
    transition()
    for field, value in changes.items():
        setattr(case, field, value)
    case.save()
    CaseEvent.record(case, by=by, note=note, from_status=from_status)
    return case
