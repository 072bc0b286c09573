"""Home: the coordinator's dashboard, and the reviewer's own cases."""

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from .. import deadlines
from ..audit import record_list_access
from ..models import Case, Letter, LetterDelivery, Reviewer
from ..permissions import is_coordinator, is_reviewer
from ..services import letters as letter_services
from .cases import with_time_left

# Each case list of the dashboard shows its most urgent cases and links to the case list for the
# rest: ten read at a glance, and the page takes two thirds of the time it took with 25 (bench_pages).
CASES_SHOWN = 10
# The letter lists show more: each row is a piece of work to do, not a pointer to a queue.
LIST_CAP = 25


@require_GET
@login_required
def home(request):
    """The landing page: the dashboard for coordinators; reviewers go to their queue."""
    if is_coordinator(request.user):
        dashboard = dashboard_context()
        record_list_access(Case, dashboard_case_numbers(dashboard), by=request.user, page="dashboard")
        return render(request, "reviews/home.html", {"dashboard": dashboard})
    if is_reviewer(request.user):
        return redirect("reviews:reviewer_queue")
    return render(request, "reviews/home.html", {})


def dashboard_context() -> dict:
    """Everything the coordinator's dashboard shows, in a fixed number of queries (11) whatever the caseload.

    1 holidays of the due-soon window, 2 counts by status (open ones counted with the overdue and
    due-soon totals, closed ones estimated past a size: CaseQuerySet.dashboard_counts),
    5 capped lists (overdue, due soon, waiting for records, for assignment, for quality
    review), 1 aggregated reviewer load, 1 capped list of letters and notices needing attention
    (failed, stuck, or ready and not served) and 1 capped list of postal copies to mail.
    """
    now = timezone.now()
    today = timezone.localdate(now)
    soon_until = deadlines.due_soon_until(today)
    counts = Case.objects.dashboard_counts(today=today, soon_until=soon_until)
    by_status = counts["by_status"]
    rows = Case.objects.for_dashboard()
    S = Case.Status
    return {
        "today": today,
        "soon_until": soon_until,
        # Open statuses as tiles, in workflow order; the closed ones follow in a quieter line.
        "open_counts": [(s, by_status.get(s, 0)) for s in S.OPEN],
        "closed_counts": [(s, by_status.get(s, 0)) for s in S.CLOSED],
        "closed_estimated": bool(counts["estimated"]),
        "overdue": _capped(rows.overdue(today), counts["overdue"], now),
        "due_soon": _capped(rows.due_between(today, soon_until), counts["due_soon"], now),
        "awaiting_records": _capped(
            rows.filter(status=S.AWAITING_RECORDS).order_by(
                "expedited_last", F("records_due_date").asc(nulls_last=True), "case_number"
            ),
            by_status.get(S.AWAITING_RECORDS, 0),
            now,
            field="records_due_date",
        ),
        "ready_for_assignment": _capped(
            rows.filter(status=S.READY_FOR_ASSIGNMENT), by_status.get(S.READY_FOR_ASSIGNMENT, 0), now
        ),
        "submitted": _capped(rows.filter(status=S.SUBMITTED), by_status.get(S.SUBMITTED, 0), now),
        "reviewer_loads": list(Reviewer.objects.for_load_panel()),
        "letters": list(
            Letter.objects.needing_attention(
                stuck_before=letter_services.stuck_since(now),
                unserved_before=now - dt.timedelta(seconds=settings.IMR_LETTER_UNSERVED_AFTER),
            )[:LIST_CAP]
        ),
        # One more than shown, to say there are more without counting them all.
        "to_mail": list(LetterDelivery.objects.to_mail()[: LIST_CAP + 1]),
        "cap": LIST_CAP,
    }


def dashboard_case_numbers(dashboard: dict) -> list[str]:
    """The numbers of the cases the dashboard's lists show, for the audit log."""
    lists = ("overdue", "due_soon", "awaiting_records", "ready_for_assignment", "submitted")
    numbers = [case.case_number for name in lists for case in dashboard[name]["cases"]]
    return numbers + [letter.case.case_number for letter in dashboard["letters"]]


def _capped(cases, total: int, now, field: str = "decision_due_date") -> dict:
    """The first CASES_SHOWN cases of a list with their time left, and how many there are in all."""
    return {"cases": with_time_left(cases[:CASES_SHOWN], now=now, field=field), "total": total, "cap": CASES_SHOWN}
