"""Quality review: the submitted determinations waiting for a coordinator, the preview, return or approve."""

from django.contrib import messages
from django.db.models import F, Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_fsm import can_proceed, has_transition_perm

from .. import services
from ..audit import record_access, record_list_access
from ..forms.quality import ApproveForm, ReturnForm
from ..letters import letter_queryset, render_letter
from ..models import Case, CaseEvent
from ..pagination import BoundedPaginator
from ..permissions import coordinator_required, get_case_for_coordinator
from ..services.errors import Refused

S = Case.Status
QA_PER_PAGE = 50
# Quality review works from the top (expedited, then longest waiting); past this many the page says so.
QA_LIST_LIMIT = 1000

# What the letter reads, and the review's own history: submissions, returns with their comments, approval.
QA_PAGE = (
    letter_queryset()
    .select_related("reviewer__user", "redaction__confirmed_by")
    .prefetch_related(
        Prefetch(
            "events",
            queryset=CaseEvent.objects.filter(to_status__in=[S.SUBMITTED, S.RETURNED, *S.FINAL])
            .exclude(from_status=F("to_status"))
            .select_related("actor")
            .order_by("-created_at", "-id"),
            to_attr="review_events",
        )
    )
)


@require_GET
@coordinator_required
def qa_list(request):
    """The determinations waiting for quality review, 50 a page, in 6 queries however many (session, user,
    groups, the bounded count, the page, the audit entry)."""
    paginator = BoundedPaginator(Case.objects.waiting_for_quality_review(), QA_PER_PAGE, limit=QA_LIST_LIMIT)
    page = paginator.get_page(request.GET.get("page"))
    record_list_access(Case, [c.case_number for c in page], by=request.user, page="quality review list")
    return render(request, "reviews/qa_list.html", {"page": page})


def _render_qa(
    request,
    case: Case,
    *,
    return_form=None,
    approve_form=None,
    problems=None,
    refused=False,
    public_copy_refused="",
    status=200,
):
    if not hasattr(case, "review_events"):  # an action's lean fetch, shown again with what went wrong
        case = QA_PAGE.get(pk=case.pk)
    reviewing = has_transition_perm(case.approve, request.user)  # and so return it: the same role and status
    context = {
        # No reviewer, no determination to preview (a coordinator may open this page for any case).
        "letter_html": render_letter(case=case, fmt="html") if case.reviewer_id else "",
        "case": case,
        "documents": case.documents.all(),
        # Empty for a submitted case, unless its records changed since (a document added, an admin edit).
        "problems": services.submission_problems(case) if problems is None else problems,
        "approval_refused": refused,
        "public_copy_refused": public_copy_refused,
        # Whether approval may go ahead with the public copy as it stands (only asked while in review).
        "public_copy": services.public_copy_of(case) if reviewing else None,
        "reviewing": reviewing,
        "return_form": return_form or ReturnForm(),
        "approve_form": approve_form or ApproveForm(),
    }
    return render(request, "reviews/case_qa.html", context, status=status)


def _stale(request, case: Case):
    """Someone else returned or approved the case between this page loading and its form being sent."""
    case.refresh_from_db(fields=["status"])
    messages.error(
        request,
        f"{case} is {case.get_status_display().lower()} now: someone else acted on it first. Nothing was changed.",
    )
    return redirect("reviews:case_qa", case.case_number)


@require_GET
@coordinator_required
def case_qa(request, case_number):
    """The determination as it will be issued, the submission checklist, the documents, and the two actions."""
    case = get_case_for_coordinator(request.user, case_number, QA_PAGE)
    record_access(case, by=request.user, page="quality review")
    return _render_qa(request, case)


@require_POST
@coordinator_required
def case_qa_return(request, case_number):
    case = get_case_for_coordinator(request.user, case_number)
    if not can_proceed(case.return_to_reviewer):
        return _stale(request, case)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        return _render_qa(request, case, return_form=form, status=400)
    try:
        case = services.case_return_to_reviewer(case=case, by=request.user, comments=form.cleaned_data["comments"])
    except Refused as refused:
        if refused.code == "not_allowed":
            return _stale(request, case)
        refused.add_to_form(form)
        return _render_qa(request, case, return_form=form, status=400)
    messages.success(request, f"{case} returned to the reviewer; your comments are at the top of their workspace.")
    return redirect("reviews:qa_list")


@require_POST
@coordinator_required
def case_qa_approve(request, case_number):
    case = get_case_for_coordinator(request.user, case_number)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        return _render_qa(request, case, approve_form=form, status=400)
    try:
        case = services.case_approve(case=case, by=request.user)
    except Refused as refused:
        if refused.code == "not_allowed":
            return _stale(request, case)
        if refused.code == "incomplete":
            # The records changed since submission: the coordinator returns the case with these points.
            return _render_qa(request, case, problems=refused.problems, refused=True, status=409)
        if refused.code == "public_copy_unconfirmed":
            return _render_qa(request, case, public_copy_refused=str(refused), status=409)
        messages.error(request, f"Approval refused: {refused} Nothing was changed.")
        return redirect("reviews:case_qa", case.case_number)
    decided = f"{case.decision_date:%m/%d/%Y}"
    messages.success(
        request, f"{case} approved, decision date {decided}: the determination is final, its letter queued."
    )
    return redirect("reviews:qa_list")
