"""Template helpers shared by the case pages: due dates with the time left, status and priority badges, next actions."""

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from .. import actions, deadlines
from ..models import Case

register = template.Library()

STATUS_TONES = {
    Case.Status.RECEIVED: "secondary",
    Case.Status.ELIGIBLE: "secondary",
    Case.Status.AWAITING_RECORDS: "warning",
    Case.Status.READY_FOR_ASSIGNMENT: "info",
    Case.Status.ASSIGNED: "primary",
    Case.Status.ACCEPTED: "primary",
    Case.Status.IN_REVIEW: "primary",
    Case.Status.SUBMITTED: "info",
    Case.Status.RETURNED: "warning",
    Case.Status.APPROVED: "success",
    Case.Status.ISSUED: "success",
}


PRIORITY_STYLES = {
    Case.Priority.EXPEDITED: "text-bg-danger",
    Case.Priority.FORMULARY: "text-bg-info",
    Case.Priority.STANDARD: "text-bg-light border",
}

# The badges and due dates are written in Python, not included: they are on every row of the lists,
# where an include per row doubles the render time (bench_pages).


@register.simple_tag
def status_badge(case):
    return format_html(
        '<span class="badge text-bg-{} fw-normal">{}</span>',
        STATUS_TONES.get(case.status, "dark"),
        case.get_status_display(),
    )


@register.simple_tag
def priority_badge(priority, standard=True):
    """`{% priority_badge case.priority %}`; `standard=False` shows nothing for a standard case, where
    only the exceptions should stand out."""
    if priority == Case.Priority.STANDARD and not standard:
        return ""
    return format_html(
        '<span class="badge {} fw-normal">{}</span>', PRIORITY_STYLES[priority], Case.Priority(priority).label
    )


NO_DATE = mark_safe('<span class="text-body-secondary">—</span>')


@register.simple_tag
def due(date, priority=""):
    """A due date with the time left: `{% due case.decision_due_date case.priority %}`."""
    return due_left(date, deadlines.time_left(date, expedited=priority == Case.Priority.EXPEDITED, now=timezone.now()))


@register.simple_tag
def due_left(date, left, stacked=False):
    """A due date with the time left already worked out (deadlines.TimeLeft, or None for a clock that has
    stopped): `{% due_left case.due_on case.time_left %}`; `stacked` puts the time left under the date."""
    if not date:
        return NO_DATE
    shown = format_html(
        '<span class="text-nowrap{}">{}</span>',
        " text-danger" if left and left.tone == "danger" else "",
        f"{date:%m/%d/%Y}",
    )
    if left is None:
        return shown
    return format_html(
        '{}{}<span class="small text-nowrap {}">{}</span>',
        shown,
        mark_safe("<br>") if stacked else " ",
        left.css,
        left.label,
    )


@register.inclusion_tag("reviews/includes/_decision_clock.html")
def decision_clock(case, short=False):
    """The decision clock where a case is shown: `{% decision_clock case %}`.

    "Decision due <date> <time left>" while the review runs; once decided, the decision date, and
    for a case closed without a decision, its status: a clock that has stopped does not count on.
    `short` is for a cell under a "Decision due" heading: the due date, with the time left if running.
    """
    stopped = bool(case.decision_date) or case.status in Case.Status.CLOSED
    left = None if stopped else deadlines.case_time_left(case, due=case.decision_due_date, now=timezone.now())
    return {"case": case, "stopped": stopped, "left": left, "short": short}


@register.simple_tag
def case_actions(case, user, side=False):
    """The actions `user` may take on `case` now (reviews.actions): `{% case_actions case user as actions %}`;
    `side=True` for the steps beside the main path."""
    return actions.case_actions(case, user, side=side)
