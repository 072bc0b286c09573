"""Template helpers shared by the case pages: due dates with the time left, status badges."""

import datetime as dt

from django import template
from django.utils import timezone

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


@register.inclusion_tag("reviews/includes/_status.html")
def status_badge(case):
    return {"label": case.get_status_display(), "tone": STATUS_TONES.get(case.status, "dark")}


def time_left(due: dt.date | None, now: dt.datetime | None = None) -> tuple[str, str]:
    """("3 days left" / "5 h left" / "2 days overdue", tone) for a date due at the end of its day, local time."""
    if due is None:
        return "", "secondary"
    now = timezone.localtime(now)
    end = timezone.make_aware(dt.datetime.combine(due + dt.timedelta(days=1), dt.time.min))
    hours = (end - now).total_seconds() / 3600
    if hours < 0:
        days = (now.date() - due).days
        return (f"{days} day{'s' if days != 1 else ''} overdue" if days else "overdue"), "danger"
    if hours < 48:
        return f"{int(hours)} h left", "warning"
    days = (due - now.date()).days
    return f"{days} days left", "secondary"


@register.inclusion_tag("reviews/includes/_due.html")
def due(date):
    label, tone = time_left(date)
    return {"date": date, "label": label, "tone": tone}
