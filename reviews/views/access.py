"""A case's access history for coordinators: who read which of its data, when, and from which address."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..audit import case_reads, record_access
from ..permissions import coordinator_required, get_case_for_coordinator

READS_PER_PAGE = 50


def read_description(entry) -> str:
    """What the read showed, in words: "case page", "Document: Progress report, Dr. Marsh (opened)", a list."""
    data = entry.additional_data or {}
    page = data.get("page", "")
    if entry.object_pk == "":  # a list (reviews.audit.record_list_access)
        others = len(data.get("shown", [])) - 1
        return f"{page}, with {others} other case{'s' if others != 1 else ''}" if others else page
    if entry.content_type.model == "case":
        return page or "case"
    how = page or (f"{data['format']} download" if "format" in data else "opened")
    return f"{entry.content_type.name.capitalize()}: {entry.object_repr} ({how})"


@require_GET
@coordinator_required
def case_access_history(request, case_number):
    """Every read of the case's data, newest first, 50 a page, in 7 queries (session, user, groups, the
    case, the count, the page of reads with their actors, and the record of this read)."""
    case = get_case_for_coordinator(request.user, case_number)
    record_access(case, by=request.user, page="access history")
    page = Paginator(case_reads(case), READS_PER_PAGE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.description = read_description(entry)
    return render(request, "reviews/case_access.html", {"case": case, "page": page})
