"""The notices to the parties (DESIGN.md section 4): queued by the step they report, in its transaction.

A notice lives as the letter does (services/letters.py renders and serves it, once per version,
through the outbox): rendered to HTML, text and PDF, e-mailed to the parties with an address and
listed for mailing to the others.
"""

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max
from django.utils import timezone

from ..models import Case, Letter
from .letters import letter_render_queue

# Which notice a case in each status may be sent: the step it reports must have happened.
NOTICE_STATUSES = {
    Letter.Kind.ASSIGNMENT_NOTICE: [Case.Status.AWAITING_RECORDS],
    Letter.Kind.INELIGIBILITY: [Case.Status.INELIGIBLE],
    Letter.Kind.WITHDRAWAL_NOTICE: [Case.Status.WITHDRAWN],
    Letter.Kind.TERMINATION_NOTICE: [Case.Status.TERMINATED],
}


def notice_queue(*, case: Case, kind: str, by: AbstractBaseUser | None, on: dt.date | None = None) -> Letter:
    """Queue the notice `kind` of `case`, dated `on` (default today), for rendering and service.

    Call inside the transaction of the step the notice reports, after its transition (the caller
    holds the case lock): the notice commits or rolls back with the step. A notice sent again
    (a case reopened and closed again) is the next version. Raises ValueError for a kind that is
    not a notice or a case whose status the notice does not report (a programming error). `by`, who
    took the step, is on the step's own CaseEvent.
    """
    if case.status not in NOTICE_STATUSES.get(kind, ()):
        raise ValueError(f"No {kind!r} notice for a case that is {case.status}.")
    last = case.letters.filter(kind=kind).aggregate(v=Max("version"))["v"] or 0
    notice = Letter.objects.create(
        case=case,
        kind=kind,
        version=last + 1,
        dated=on or timezone.localdate(),
        # A notice's later version is the same step reported again, not a correction of the first.
        correction_reason="sent again" if last else "",
    )
    letter_render_queue(notice)  # the step's own CaseEvent records it; the notice is listed on the case page
    return notice
