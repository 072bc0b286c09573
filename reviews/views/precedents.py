"""The precedent library: the search page with its overturn chart, the public copy of an issued determination,
and the panel of the reviewer's workspace."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from ..audit import record_access, record_list_access
from ..filters import PrecedentFilter
from ..letters import letter_queryset, render_letter
from ..models import Case, DisputedItem, Letter, more_than_charted, more_than_ranked
from ..permissions import get_case_for_reviewer, get_issued_case_for_library, is_coordinator, library_reader_required
from ..precedents import chart, item_words, precedent_page, precedent_rows, ranked_rows

RESULTS_PER_PAGE = 20
PANEL_RESULTS = 5


@require_GET
@library_reader_required
def precedent_search(request):
    """Earlier decisions by words and filters, best match first, beside the share overturned for the same filter."""
    filterset = PrecedentFilter(request.GET, queryset=DisputedItem.objects.all())
    found, words = filterset.qs, filterset.words
    context = {"filter": filterset, "opens_case": is_coordinator(request.user), "browsing": filterset.is_browsing}
    if filterset.is_browsing:
        # No words, no filter: the newest decisions, read from an index. Counting and charting the
        # whole library would cost a second at 100,000 items, for a page most leave at once.
        rows, _ = ranked_rows(found, words="", start=0, stop=RESULTS_PER_PAGE, counted=False)
        context.update(rows=precedent_rows(rows, words=""))
        record_list_access(Case, [r.case_number for r in context["rows"]], by=request.user, page="precedent search")
        return render(request, "reviews/precedent_search.html", context)
    page = precedent_page(found, words=words, number=request.GET.get("page"), per_page=RESULTS_PER_PAGE)
    context.update(
        page=page,
        rows=precedent_rows(page.object_list, words=words),
        recent_only=more_than_ranked(page.paginator.count),
    )
    record_list_access(Case, [r.case_number for r in context["rows"]], by=request.user, page="precedent search")
    return render(request, "reviews/precedent_search.html", context, status=200 if filterset.is_valid() else 400)


@require_GET
@library_reader_required
def precedent_chart(request):
    """The share overturned by category, guideline and reviewer specialty for the search page's words and
    filters (htmx, once the results are shown): figures only, no case is named. A refused filter is left
    out, as the search page leaves it out of the results."""
    filterset = PrecedentFilter(request.GET, queryset=DisputedItem.objects.all())
    if filterset.is_browsing:  # the whole library: the page does not ask, a second's count at 100,000 items
        return HttpResponseBadRequest("Search by words or choose a filter to count the share overturned.")
    shares = chart(filterset.qs.charted(words=filterset.words).overturned_shares())
    context = {"chart": shares, "recent_only": more_than_charted(shares["total"].n)}
    return render(request, "reviews/includes/_precedent_stats.html", context)


@require_GET
@library_reader_required
def precedent_public_copy(request, case_number):
    """An issued determination as published: rendered as its public copy, never the served letter."""
    case = get_issued_case_for_library(request.user, case_number, queryset=letter_queryset())
    record_access(case, by=request.user, page="public copy")
    # The layout the determination was issued in; a case issued without a letter (none yet) takes today's.
    layout = (
        case.letters.filter(kind=Letter.Kind.FINAL_DETERMINATION, status=Letter.Status.READY)
        .order_by("-version")
        .values_list("layout", flat=True)
        .first()
    )
    letter_html = render_letter(case=case, fmt="html", layout=layout or settings.IMR_LETTER_LAYOUT, public=True)
    return render(request, "reviews/precedent_public_copy.html", {"case": case, "letter_html": letter_html})


@require_GET
@login_required
def case_precedents(request, case_number):
    """The workspace's precedent panel for one item of the reviewer's own case (htmx).

    Opened on an item (`item`), it searches with the item's treatment words and its category; the
    panel's form then sends its own words and filters, and only the results are replaced, so the
    field being typed in keeps its focus. Links open in a new tab: the workspace and its unsaved
    text stay where they are.
    """
    case = get_case_for_reviewer(request.user, case_number)
    items = list(case.items.only("case_id", "position", "request_text", "remaining_part", "eligible_scope", "category"))
    chosen = next((i for i in items if str(i.position) == request.GET.get("item")), None)
    if chosen is None:
        raise Http404("No such item.")
    if "q" in request.GET:  # the panel's own form
        data = request.GET
    else:
        data = QueryDict(mutable=True)
        data.update({"q": item_words(chosen), "category": str(chosen.category_id)})
    filterset = PrecedentFilter(data, queryset=DisputedItem.objects.all())
    found, words = filterset.qs, filterset.words
    first, count = ranked_rows(found, words=words, start=0, stop=PANEL_RESULTS)
    form = filterset.form
    form.fields["category"].widget.attrs["class"] = "form-select form-select-sm"  # the panel's narrow column
    wanted = {name: form.data.get(name, "") for name in ("q", "category", "decision")}
    context = {
        "case": case,
        "items": items,
        "chosen": chosen,
        "form": form,
        "values": wanted,
        "rows": (rows := precedent_rows(first, words=words)),
        "count": count,
        "more": more_than_ranked(count),
        "full_search": reverse("reviews:precedent_search") + "?" + urlencode({k: v for k, v in wanted.items() if v}),
    }
    # The reviewer's own case (its items' requests) and the determinations found.
    numbers = [case.case_number, *(r.case_number for r in rows)]
    record_list_access(Case, numbers, by=request.user, page="precedent panel")
    partial = request.htmx and request.htmx.target == "precedent-results"
    template = "reviews/includes/_ws_precedent_results.html" if partial else "reviews/includes/_ws_precedent_panel.html"
    return render(request, template, context)
