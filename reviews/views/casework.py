"""The coordinator's case page and its actions: eligibility, records, assignment."""

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_fsm import can_proceed

from .. import eligibility, services
from ..assignment import rank_reviewers
from ..audit import record_access
from ..forms.casework import (
    AssignForm,
    EligibilityForm,
    ItemCategoryForm,
    ReassignForm,
    RecordsCompleteForm,
    RecordsRequestForm,
)
from ..forms.intake import item_catalogue
from ..models import Case, CaseEvent, DisputedItem
from ..permissions import coordinator_required, get_case_for_coordinator
from ..services.errors import Refused
from .letters import letters_context

CASE_PAGE = Case.objects.select_related(
    "employer",
    "claims_administrator",
    "ur_organization",
    "employee_attorney",
    "requesting_provider__specialty",
    "reviewer__user",
    # Not remand_of: few cases are remands (for the others Django reads nothing), and each table joined
    # adds to planning this query, which already takes PostgreSQL longer than running it.
).prefetch_related(
    "diagnoses",
    Prefetch("items", queryset=DisputedItem.objects.select_related("category", "subcategory")),
    "documents",
    Prefetch("events", queryset=CaseEvent.objects.select_related("actor").order_by("-created_at", "-id")),
    "exclusions__reviewer__user",
)


def _stale(request, case: Case, action: str):
    messages.error(request, f"{case} is now {case.get_status_display().lower()}: it cannot be {action} any more.")
    return redirect("reviews:case_detail", case.case_number)


@require_GET
@coordinator_required
def case_detail(request, case_number):
    case = get_case_for_coordinator(request.user, case_number, CASE_PAGE)
    record_access(case, by=request.user, page="case")
    context = {
        "case": case,
        "documents": case.documents.all(),
        # Only an issued determination is remanded: other cases skip the query.
        "remands": list(case.remands.all()) if case.status == Case.Status.ISSUED else [],
    }
    context.update(letters_context(case))  # the letter once approved; the notices from the records request on
    return render(request, "reviews/case_detail.html", context)


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_eligibility(request, case_number):
    case = get_case_for_coordinator(request.user, case_number)
    record_access(case, by=request.user, page="eligibility")
    if not can_proceed(case.confirm_eligible):
        return _stale(request, case, "checked for eligibility")
    initial = eligibility.checklist_initial(case)
    form = EligibilityForm(request.POST or None, initial=initial)
    answers = form.cleaned_data if form.is_valid() else initial
    checks = eligibility.run_checklist(case, **{k: answers[k] for k in initial})
    proposed_eligible, proposed_reason = eligibility.proposal(checks)
    if not form.is_bound or request.POST.get("action") == "check":
        # A fresh form whose decision follows the checklist as answered so far.
        answered = {k: answers[k] for k in initial}
        form = EligibilityForm(
            initial={**answered, "eligible": "yes" if proposed_eligible else "no", "reason": proposed_reason}
        )
    elif form.is_valid():
        data = form.cleaned_data
        if data["eligible"] and not proposed_eligible and not data["reason"].strip():
            form.add_error("reason", "The checklist fails: say why the case is eligible all the same.")
        else:
            summary = "; ".join(f"{c.label}: {'yes' if c.passed else 'no'}" for c in checks)
            try:
                case = services.case_confirm_eligibility(
                    case=case,
                    by=request.user,
                    eligible=data["eligible"],
                    reason=f"{data['reason']} [{summary}]".strip(),
                )
            except Refused as refused:
                if refused.code == "not_allowed":
                    return _stale(request, case, "checked for eligibility")
                refused.add_to_form(form)
            else:
                if data["eligible"]:
                    messages.success(request, f"{case} is eligible. Send the notice and request the records next.")
                else:
                    messages.info(request, f"{case} is ineligible and closed.")
                return redirect("reviews:case_detail", case.case_number)
    return render(
        request,
        "reviews/case_eligibility.html",
        {"case": case, "form": form, "checks": checks, "proposed_eligible": proposed_eligible},
    )


@require_POST
@coordinator_required
def case_request_records(request, case_number):
    case = get_case_for_coordinator(request.user, case_number)
    form = RecordsRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the date the notice was sent.")
        return redirect("reviews:case_detail", case.case_number)
    try:
        case = services.case_request_records(case=case, by=request.user, **form.cleaned_data)
    except Refused:
        return _stale(request, case, "sent a request for records")
    messages.success(request, f"Records requested for {case}; due {case.records_due_date:%m/%d/%Y}.")
    return redirect("reviews:case_detail", case.case_number)


@require_POST
@coordinator_required
def case_records_complete(request, case_number):
    case = get_case_for_coordinator(request.user, case_number)
    form = RecordsCompleteForm(request.POST, case=case)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("complete_on", ["Enter a valid date."])))
        return redirect("reviews:case_detail", case.case_number)
    try:
        case = services.case_complete_records(case=case, by=request.user, on=form.cleaned_data["complete_on"])
    except Refused:
        return _stale(request, case, "marked records complete")
    messages.success(request, f"Records complete. The decision on {case} is due {case.decision_due_date:%m/%d/%Y}.")
    return redirect("reviews:case_detail", case.case_number)


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_assign(request, case_number):
    """Rank the reviewers for a ready case (or one to reassign) and assign in one click."""
    case = get_case_for_coordinator(
        request.user, case_number, Case.objects.select_related("reviewer__user", "requesting_provider__specialty")
    )
    record_access(case, by=request.user, page="assignment")
    reassigning = can_proceed(case.reassign)  # the page takes both transitions
    if not (reassigning or can_proceed(case.assign)):
        return _stale(request, case, "assigned")
    form = (ReassignForm if reassigning else AssignForm)(request.POST or None)
    if form.is_valid():
        reviewer = form.cleaned_data["reviewer"]
        try:
            if reassigning:
                case = services.case_reassign_reviewer(
                    case=case, reviewer=reviewer, by=request.user, reason=form.cleaned_data["reason"]
                )
            else:
                case = services.case_assign_reviewer(case=case, reviewer=reviewer, by=request.user)
        except Refused as refused:
            if refused.code == "not_allowed":
                messages.error(request, f"{case} was assigned by someone else a moment ago; nothing was changed.")
                return redirect("reviews:case_detail", case.case_number)
            refused.add_to_messages(request)
        else:
            messages.success(request, f"{case} assigned to {reviewer}.")
            if address := reviewer.user.email:
                messages.info(request, f"An e-mail telling them is on its way to {address}.")
            else:
                messages.warning(
                    request, f"No e-mail was sent: {reviewer} has no e-mail address on file. Tell them yourself."
                )
            return redirect("reviews:case_detail", case.case_number)
    elif form.is_bound:
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
    eligible, excluded = rank_reviewers(case)
    return render(
        request,
        "reviews/case_assign.html",
        {
            "case": case,
            "eligible": eligible,
            "excluded": excluded,
            "reassigning": reassigning,
            "item_forms": ItemCategoryForm.for_items(case),
        },
        status=400 if form.is_bound else 200,
    )


@require_POST
@coordinator_required
def item_category(request, case_number, position):
    """Correct one item's treatment category from the assign page, where a wrong one keeps reviewers out."""
    case = get_case_for_coordinator(request.user, case_number)
    item = get_object_or_404(DisputedItem, case=case, position=position)
    form = ItemCategoryForm(request.POST, catalogue=item_catalogue())
    if not form.is_valid():
        messages.error(
            request, f"Item {position} was not changed: " + " ".join(m for e in form.errors.values() for m in e)
        )
        return redirect("reviews:case_assign", case.case_number)
    try:
        item = services.item_category_correct(item=item, by=request.user, **form.cleaned_data)
    except Refused as refusal:
        messages.error(request, f"Item {position} was not changed: {refusal}")
        return redirect("reviews:case_detail", case.case_number)
    messages.success(
        request, f"Item {position} is now {item.subcategory or item.category}; the reviewers are ranked again."
    )
    return redirect("reviews:case_assign", case.case_number)
