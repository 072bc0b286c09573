"""E-mail to reviewers and coordinators: assignment notices and the deadline digest. No medical details."""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .. import deadlines
from ..models import Case
from ..permissions import COORDINATORS


def _absolute(path: str) -> str:
    return settings.IMR_BASE_URL.rstrip("/") + path


def _send(template: str, context: dict, recipients: list[str]) -> None:
    context = {**context, "organization_name": settings.IMR_ORGANIZATION_NAME}
    subject = render_to_string(f"emails/{template}-subject.txt", context).strip()
    body = render_to_string(f"emails/{template}-body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def reviewer_assigned_email_send(*, case: Case) -> None:
    """Tell the case's reviewer they have a new case: number, priority, due date and a link only.

    A reviewer without an e-mail address gets none (the assigning coordinator was told so).
    """
    if address := case.reviewer.user.email:
        _send("case-assigned", {"case": case, "link": _absolute(reverse("reviews:home"))}, [address])


def reviewer_expedited_email_send(*, case: Case) -> None:
    """Tell the case's reviewer it is now expedited and when the decision is due; no medical details.

    A reviewer without an address is not written to: the workspace and the queue show the change.
    """
    if not case.reviewer.user.email:
        return
    link = _absolute(reverse("reviews:reviewer_queue"))
    _send("case-expedited", {"case": case, "link": link}, [case.reviewer.user.email])


def _coordinator_addresses() -> list[str]:
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=COORDINATORS)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )


def coordinators_declined_email_send(*, case: Case) -> None:
    """Tell the coordinators a reviewer declined a case, so they assign it again."""
    if recipients := _coordinator_addresses():
        link = _absolute(reverse("reviews:case_assign", args=[case.case_number]))
        _send("case-declined", {"case": case, "link": link}, recipients)


@transaction.atomic
def deadline_sweep(*, today: dt.date | None = None) -> tuple[list[int], list[int]]:
    """Claim the open cases that became overdue or due soon and were not yet announced.

    Claimed cases are marked in the same transaction, so a second sweep (or one running at
    the same moment: skip_locked) never announces them again. Returns (overdue, due_soon) ids;
    the caller sends the digest after commit.
    """
    today = today or timezone.localdate()
    now = timezone.now()
    # The same "overdue" and "due soon" as the dashboard's lists (CaseQuerySet).
    overdue = list(
        Case.objects.overdue(today)
        .filter(overdue_notified_at__isnull=True)
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )
    due_soon = list(
        Case.objects.due_between(today, deadlines.due_soon_until(today))
        .filter(due_soon_notified_at__isnull=True)
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )
    Case.objects.filter(pk__in=overdue).update(overdue_notified_at=now)
    # An overdue case was due soon too: never announce it as due soon afterwards.
    Case.objects.filter(pk__in=overdue + due_soon, due_soon_notified_at__isnull=True).update(due_soon_notified_at=now)
    return overdue, due_soon


def deadline_digest_send(*, overdue_ids: list[int], due_soon_ids: list[int]) -> int:
    """E-mail one digest to every active coordinator; returns the number of recipients."""
    recipients = _coordinator_addresses()
    if not recipients or not (overdue_ids or due_soon_ids):
        return 0
    cases = Case.objects.filter(pk__in=overdue_ids + due_soon_ids).order_by("decision_due_date", "case_number")
    context = {
        "overdue": [c for c in cases if c.pk in overdue_ids],
        "due_soon": [c for c in cases if c.pk in due_soon_ids],
        "link": _absolute(reverse("reviews:home")),
    }
    _send("deadline-digest", context, recipients)
    return len(recipients)
