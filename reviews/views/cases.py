"""The coordinator's case list: filtered, searched and sorted by due date, 50 cases a page, 1,000 at most (250 for a
search)."""

import datetime as dt

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from .. import deadlines
from ..audit import record_list_access
from ..filters import CaseFilter
from ..models import Case
from ..pagination import SEARCH_LIMIT, BoundedPaginator
from ..permissions import coordinator_required

CASES_PER_PAGE = 50
# Past this many matching cases the list asks for a narrower filter (see BoundedPaginator).
CASE_LIST_LIMIT = 1000


def with_time_left(cases, *, now: dt.datetime, field: str = "decision_due_date"):
    """Give each case `due_on` (the date in `field`) and its `time_left`; returns the cases as a list."""
    cases = list(cases)
    for case in cases:
        case.due_on = getattr(case, field)
        case.time_left = deadlines.case_time_left(case, due=case.due_on, now=now)
    return cases


@require_GET
@coordinator_required
def case_list(request):
    """Every case a coordinator may look for: open ones by default, expedited first, then by due date."""
    filterset = CaseFilter(request.GET, queryset=Case.objects.for_case_list())
    cases = filterset.qs  # validates the filters: cleaned_data is read below
    searching = bool(filterset.form.cleaned_data.get("q"))
    limit = SEARCH_LIMIT if searching else CASE_LIST_LIMIT
    page = BoundedPaginator(cases, CASES_PER_PAGE, limit=limit).get_page(request.GET.get("page"))
    page.object_list = with_time_left(page.object_list, now=timezone.now())
    record_list_access(Case, [c.case_number for c in page.object_list], by=request.user, page="case list")
    sort = filterset.form.cleaned_data.get("sort", "")
    context = {
        "filter": filterset,
        "page": page,
        "searching": searching,
        "sort": sort,
        # The due-date heading goes round: expedited first (default), earliest first, latest first.
        "next_sort": {"": "due", "due": "-due"}.get(sort),
    }
    # A filter value that is not on offer (a stale link, a hand-edited URL) is shown in place.
    return render(request, "reviews/case_list.html", context, status=200 if filterset.is_valid() else 400)
