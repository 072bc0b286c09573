"""The expert reviewer's pages: queue, conflict attestation, workspace with autosave, letter preview, submission."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case as SqlCase
from django.db.models import IntegerField, Prefetch, Q, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import services
from ..audit import record_access
from ..forms.review import AttestForm, DeclineForm, ItemReviewForm, SummaryForm
from ..letters import letter_queryset, render_letter
from ..models import Case, Citation, DisputedItem, Guideline
from ..permissions import get_case_for_reviewer, is_coordinator, is_reviewer
from ..services.errors import Refused
from .letters import letters_context

CASE_WITH_PARTIES = Case.objects.select_related(
    "employer",
    "claims_administrator",
    "ur_organization",
    "employee_attorney",
    "requesting_provider__group",
    "requesting_provider__specialty",
)
ATTEST_PAGE = CASE_WITH_PARTIES.prefetch_related(
    Prefetch("items", queryset=DisputedItem.objects.select_related("category", "subcategory"))
)
# Everything the workspace and the preview show, in a fixed number of queries: the case with its
# parties (1), diagnoses (1), items (1), their citations with guidelines (1), documents (1).
REVIEW_PAGE = CASE_WITH_PARTIES.prefetch_related(
    "diagnoses",
    Prefetch(
        "items",
        queryset=DisputedItem.objects.select_related("category", "subcategory").prefetch_related(
            Prefetch("citations", queryset=Citation.objects.select_related("guideline"))
        ),
    ),
    "documents",
)

STALE_MESSAGE = (
    "Not saved: this panel was changed in another tab or window since you opened it. "
    "Reload to see the latest; your text is kept here."
)
GUIDELINE_SEARCH_MAX = 100


def guidelines_in_search_order(queryset=None):
    """Guidelines by their place in the medical evidence search sequence (8 CCR 9792.21.1), then title."""
    queryset = queryset if queryset is not None else Guideline.objects.all()
    rank = SqlCase(
        *[When(source=source, then=Value(n)) for source, n in Guideline.SEARCH_SEQUENCE.items()],
        default=Value(9),
        output_field=IntegerField(),
    )
    return queryset.annotate(sequence_rank=rank).order_by("sequence_rank", "title", "edition")


def _reviewer_required(view):
    """Anonymous users go to the login page; signed-in users who are not reviewers get 403."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not is_reviewer(request.user):
            raise PermissionDenied("This page is for expert reviewers.")
        return view(request, *args, **kwargs)

    return wrapper


def _autosave_login_required(view):
    """Autosave answers 401 (not a redirect) to an expired session: the page keeps the text and says so."""

    @wraps(view)
    def wrapper(request, case_number, **kwargs):
        if not request.user.is_authenticated:
            panel = f"item-{kwargs['position']}" if "position" in kwargs else "summary"
            workspace = reverse("reviews:case_workspace", args=[case_number])
            return _save_status(
                request,
                panel,
                status=401,
                state="expired",
                message="Not saved: your session has expired. Your text is kept in this browser.",
                login_url=f"{reverse('account_login')}?next={workspace}",
            )
        return view(request, case_number, **kwargs)

    return wrapper


def _save_status(request, panel: str, *, status=200, state="saved", message="", version=None, login_url=""):
    """The panel's save mark for an autosave request; after a save, the new version in X-IMR-Version."""
    context = {"panel": panel, "state": state, "message": message, "login_url": login_url}
    response = render(request, "reviews/includes/_ws_save_status.html", context, status=status)
    if version is not None:
        response["X-IMR-Version"] = str(version)
    response["Cache-Control"] = "no-store"
    return response


def _not_saved(request, panel: str, refused: Refused):
    """409: the draft is stale (another tab saved since), or the review is no longer editable."""
    message = STALE_MESSAGE if refused.code == "stale_draft" else f"Not saved: {refused}"
    return _save_status(request, panel, status=409, state="conflict", message=message)


def _saved(request, panel: str, version: int, warnings=()):
    now = timezone.localtime()
    message = f"Saved at {now:%H:%M:%S}." + "".join(f" {w}" for w in warnings)
    return _save_status(request, panel, state="warning" if warnings else "saved", message=message, version=version)


@require_GET
@never_cache
@_reviewer_required
def reviewer_queue(request):
    """The reviewer's landing page: their own cases, expedited first then by due date, in 5 queries."""
    cases = Case.objects.for_reviewer_queue(request.user.reviewer)
    return render(request, "reviews/reviewer_queue.html", {"cases": cases, "tab": "open"})


COMPLETED_PER_PAGE = 25


@require_GET
@never_cache
@_reviewer_required
def reviewer_completed(request):
    """The reviewer's finished determinations, latest first, 25 a page: the queue's "Completed" tab."""
    cases = Case.objects.for_reviewer_completed(request.user.reviewer)
    page = Paginator(cases, COMPLETED_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "reviews/reviewer_completed.html", {"page": page, "tab": "completed"})


@require_http_methods(["GET", "POST"])
@never_cache
@login_required
def case_attest(request, case_number):
    """Before any record is visible: the parties by name, the conflict attestation, accept or decline."""
    case = get_case_for_reviewer(request.user, case_number, accepted=False, queryset=ATTEST_PAGE)
    if request.method == "GET":
        record_access(case, by=request.user, page="attestation")
    action = request.POST.get("action") if request.method == "POST" else None
    accept_form = AttestForm(request.POST if action == "accept" else None)
    decline_form = DeclineForm(request.POST if action == "decline" else None)
    try:
        if action == "accept" and accept_form.is_valid():
            services.case_accept(case=case, by=request.user, attested=True)
            messages.success(request, f"You accepted {case}. The records are open to you now.")
            return redirect("reviews:case_workspace", case.case_number)
        if action == "decline" and decline_form.is_valid():
            services.case_decline(case=case, by=request.user, reason=decline_form.cleaned_data["reason_text"])
            messages.info(request, f"You declined {case}. The coordinators have been told; it is no longer yours.")
            return redirect("reviews:reviewer_queue")
    except Refused as refused:
        if refused.code == "not_allowed":
            messages.error(request, f"{case} changed a moment ago (reassigned or withdrawn); nothing was recorded.")
            return redirect("reviews:reviewer_queue")
        refused.add_to_form(accept_form if action == "accept" else decline_form)
    status = 400 if request.method == "POST" else 200
    context = {"case": case, "accept_form": accept_form, "decline_form": decline_form}
    return render(request, "reviews/case_attest.html", context, status=status)


def _items_with_rows(case: Case) -> list[DisputedItem]:
    """The case's items (prefetched with REVIEW_PAGE), each with its panel id and its citations by role."""
    items = list(case.items.all())
    for item in items:
        item.panel = f"item-{item.position}"
        item.ca_rows = [c for c in item.citations.all() if c.role == Citation.Role.CLAIMS_ADMINISTRATOR]
        item.review_rows = [c for c in item.citations.all() if c.role == Citation.Role.REVIEW]
    return items


def _workspace(request, case: Case, *, problems=(), status=200):
    """Render the workspace of `case` (fetched with REVIEW_PAGE), with the submission problems in place."""
    items = _items_with_rows(case)
    cited = {}
    for item in items:
        item.problems = [p for p in problems if p.where == item.panel]
        cited.update({c.guideline_id: c.guideline for c in item.citations.all()})
    guidelines = list(guidelines_in_search_order(Guideline.objects.filter(active=True)))
    # A guideline taken out of the catalogue stays selectable where it is already cited.
    options = guidelines + [g for pk, g in cited.items() if pk not in {x.pk for x in guidelines}]
    context = {
        "case": case,
        "items": items,
        "documents": list(case.documents.all()),
        "guidelines": guidelines,
        "guideline_options": options,
        "editable": case.status in Case.Status.EDITABLE,
        "problems": problems,
        "terminated_items": [item for item in items if item.terminated],
        "summary_problems": [p for p in problems if p.where == "summary"],
        "document_problems": [p for p in problems if p.where == "documents"],
    }
    if case.determination_final:
        context.update(letters_context(case))
    return render(request, "reviews/case_workspace.html", context, status=status)


@require_GET
@never_cache
@login_required
def case_workspace(request, case_number):
    """The accepted case: records and facts on the left, the summary and one panel per item on the right."""
    case = get_case_for_reviewer(request.user, case_number, queryset=REVIEW_PAGE)
    record_access(case, by=request.user, page="workspace")
    return _workspace(request, case)


@require_POST
@_autosave_login_required
def summary_save(request, case_number):
    """Autosave of the clinical case summary: 200 with the saved mark, 409 when stale or no longer editable."""
    case = get_case_for_reviewer(request.user, case_number)
    form = SummaryForm(request.POST)
    if not form.is_valid():
        message = "Not saved: " + " ".join(m for errors in form.errors.values() for m in errors)
        return _save_status(request, "summary", status=400, state="error", message=message)
    try:
        version = services.case_summary_save(
            case=case,
            by=request.user,
            text=form.cleaned_data["clinical_case_summary"],
            version=form.cleaned_data["version"],
        )
    except Refused as refused:
        return _not_saved(request, "summary", refused)
    return _saved(request, "summary", version)


@require_POST
@_autosave_login_required
def item_save(request, case_number, position):
    """Autosave of one disputed item's panel: decision, both guidelines, rationale."""
    case = get_case_for_reviewer(request.user, case_number)
    item = get_object_or_404(DisputedItem.objects.select_related("case"), case=case, position=position)
    panel = f"item-{position}"
    form = ItemReviewForm(request.POST)
    if not form.is_valid():
        message = "Not saved: " + " ".join(m for errors in form.errors.values() for m in errors)
        return _save_status(request, panel, status=400, state="error", message=message)
    data = form.cleaned_data
    try:
        version = services.item_review_save(
            item=item,
            by=request.user,
            version=data["version"],
            decision=data["decision"],
            ca_cited_no_evidence=data["ca_cited_no_evidence"],
            ca_citations=data["ca_citations"],
            review_citations=data["review_citations"],
            review_cited_no_evidence=data["review_cited_no_evidence"],
            rationale=data["rationale"],
            internal_note=data["internal_note"],
        )
    except Refused as refused:
        return _not_saved(request, panel, refused)
    return _saved(request, panel, version, form.warnings)


@require_POST
@login_required
def case_submit(request, case_number):
    """Submit for quality review; every missing piece is listed in place on the workspace (400)."""
    case = get_case_for_reviewer(request.user, case_number, queryset=REVIEW_PAGE)
    try:
        services.case_submit(case=case, by=request.user)
    except Refused as refused:
        if refused.code != "not_allowed":  # "incomplete": every missing piece, in place
            return _workspace(request, case, problems=refused.problems, status=400)
        if case.status == Case.Status.RETURNED:
            messages.error(
                request,
                "Nothing has changed since quality review returned the case: amend the review in answer "
                "to the comments, then submit again.",
            )
        elif case.status in Case.Status.EDITABLE:
            messages.error(request, "Make at least one change to the review before submitting it.")
        else:
            messages.info(request, f"{case} is already {case.get_status_display().lower()}.")
        return redirect("reviews:case_workspace", case.case_number)
    messages.success(request, f"{case} is submitted for quality review. It is read-only for you now.")
    return redirect("reviews:case_workspace", case.case_number)


@require_GET
@never_cache
@login_required
def case_preview(request, case_number):
    """The letter as it will be issued, rendered from the review as saved now, and what still blocks submission."""
    case = get_case_for_reviewer(request.user, case_number, queryset=letter_queryset())
    record_access(case, by=request.user, page="letter preview")
    editable = case.status in Case.Status.EDITABLE
    context = {
        "case": case,
        "letter_html": render_letter(case=case, fmt="html"),
        "editable": editable,
        "problems": services.submission_problems(case) if editable else [],
    }
    return render(request, "reviews/case_preview.html", context)


@require_GET
@login_required
def guideline_search(request):
    """The guideline catalogue filtered by `q`, in search-sequence order (htmx partial)."""
    if not (is_reviewer(request.user) or is_coordinator(request.user)):
        raise PermissionDenied("The guideline catalogue is for reviewers and coordinators.")
    q = request.GET.get("q", "").strip()[:GUIDELINE_SEARCH_MAX]
    guidelines = Guideline.objects.filter(active=True)
    for word in q.split():
        guidelines = guidelines.filter(
            Q(title__icontains=word)
            | Q(citation_name__icontains=word)
            | Q(edition__icontains=word)
            | Q(source__iexact=word)
        )
    return render(
        request,
        "reviews/includes/_ws_guidelines.html",
        {"guidelines": guidelines_in_search_order(guidelines), "q": q},
    )
