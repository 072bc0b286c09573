"""The coordinator's page for changing a case's disputed items and diagnoses after intake (services/dispute.py)."""

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..audit import record_access
from ..forms.dispute import DiagnosisChangeForm, ItemChangeForm, RemovalForm
from ..models import Case, DisputedItem
from ..permissions import coordinator_required, get_case_for_coordinator
from ..services import dispute
from ..services.errors import Refused

DISPUTE_PAGE = Case.objects.prefetch_related("diagnoses", "items__category", "items__subcategory")


def _context(case: Case, **more) -> dict:
    return {"case": case, "reviewer_relies": case.open_to_reviewer, **more}


def _refused(request, case: Case):
    """The case left the statuses that allow a change: back to the case page, which says where it is."""
    case.refresh_from_db(fields=["status"])
    messages.error(request, f"{case} is {case.get_status_display().lower()}: its items and diagnoses cannot change.")
    return redirect("reviews:case_detail", case.case_number)


def _case_to_change(request, case_number: str, queryset=None) -> Case:
    """The case, for a coordinator; its items and diagnoses are on every page here, so each is a read."""
    case = get_case_for_coordinator(request.user, case_number, queryset)
    record_access(case, by=request.user, page="dispute")
    return case


def _done(request, case: Case, what: str):
    case.refresh_from_db(fields=["status"])
    if case.status == Case.Status.RETURNED:
        what += " The submitted determination went back to the reviewer"
    elif case.open_to_reviewer:
        what += " The reviewer has been told by e-mail"
    messages.success(request, f"{what}.")
    return redirect("reviews:case_dispute", case.case_number)


@require_GET
@coordinator_required
def case_dispute(request, case_number):
    """The items and diagnoses with their change and add links, while the case allows changes."""
    case = _case_to_change(request, case_number, DISPUTE_PAGE)
    if not case.dispute_changeable:
        return _refused(request, case)
    return render(request, "reviews/case_dispute.html", _context(case))


@require_http_methods(["GET", "POST"])
@coordinator_required
def dispute_item(request, case_number, position=None):
    """Change an item's request and details (or add one, without `position`), with the reason."""
    case = _case_to_change(request, case_number)
    if not case.dispute_changeable:
        return _refused(request, case)
    item = DisputedItem(case=case) if position is None else _get(case.items, position)
    form = ItemChangeForm(request.POST or None, instance=item)
    if form.is_bound and form.is_valid():
        reason = form.cleaned_data["reason"]
        try:
            saved = dispute.dispute_item_save(
                case=case, by=request.user, reason=reason, position=position, **form.item_fields()
            )
        except Refused as refused:
            if refused.code == "not_allowed":
                return _refused(request, case)
            refused.add_to_form(form)
        else:
            return _done(request, case, f"Item {saved.position} {'added' if position is None else 'changed'}.")
    context = _context(case, form=form, item=item, removal=RemovalForm() if position else None)
    return render(request, "reviews/dispute_item.html", context, status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
@coordinator_required
def dispute_diagnosis(request, case_number, position=None):
    """Change a diagnosis (or add one, without `position`), with the reason."""
    case = _case_to_change(request, case_number)
    if not case.dispute_changeable:
        return _refused(request, case)
    diagnosis = None if position is None else _get(case.diagnoses, position)
    form = DiagnosisChangeForm(request.POST or None, instance=diagnosis)
    if form.is_bound and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in dispute.DIAGNOSIS_FIELDS}
        try:
            saved = dispute.dispute_diagnosis_save(
                case=case, by=request.user, reason=form.cleaned_data["reason"], position=position, **fields
            )
        except Refused as refused:
            if refused.code == "not_allowed":
                return _refused(request, case)
            refused.add_to_form(form)
        else:
            return _done(request, case, f"Diagnosis {saved} {'added' if position is None else 'changed'}.")
    context = _context(case, form=form, diagnosis=diagnosis, removal=RemovalForm() if position else None)
    return render(request, "reviews/dispute_diagnosis.html", context, status=400 if form.is_bound else 200)


def _get(related, position: int):
    try:
        return related.get(position=position)
    except related.model.DoesNotExist:
        raise Http404(f"No {related.model._meta.verbose_name} {position} on this case.") from None


def _remove(request, case_number, position, service, what: str):
    case = get_case_for_coordinator(request.user, case_number)
    form = RemovalForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why it is removed: the reviewer and the timeline read it.")
    else:
        try:
            service(case=case, by=request.user, reason=form.cleaned_data["reason"], position=position)
        except ObjectDoesNotExist:
            raise Http404(f"No {what.lower()} {position} on this case.") from None
        except Refused as refused:
            if refused.code == "not_allowed":
                return _refused(request, case)
            messages.error(request, str(refused))
        else:
            return _done(request, case, f"{what} {position} removed.")
    return redirect("reviews:case_dispute", case.case_number)


@require_POST
@coordinator_required
def dispute_item_remove(request, case_number, position):
    return _remove(request, case_number, position, dispute.dispute_item_remove, "Item")


@require_POST
@coordinator_required
def dispute_diagnosis_remove(request, case_number, position):
    return _remove(request, case_number, position, dispute.dispute_diagnosis_remove, "Diagnosis")
