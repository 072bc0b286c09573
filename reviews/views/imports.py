"""Bulk intake: the coordinator uploads a CSV of cases; every case is created, or none."""

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .. import importers, services
from ..forms.imports import CaseImportForm
from ..models import Case
from ..permissions import coordinator_required

# The case numbers of the last successful import, shown once after the redirect (like a message).
IMPORTED_SESSION_KEY = "reviews:imported_case_numbers"


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_import(request):
    errors = []
    if request.method == "POST":
        form = CaseImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            result = services.cases_import_csv(by=request.user, file=upload, filename=upload.name)
            if result.ok:
                request.session[IMPORTED_SESSION_KEY] = [case.case_number for case in result.cases]
                count = len(result.cases)
                messages.success(request, f"Imported {count} case{'' if count == 1 else 's'} from {upload.name}.")
                return redirect("reviews:case_import")
            errors = result.errors
    else:
        form = CaseImportForm()
    imported = []
    if request.method == "GET" and (numbers := request.session.pop(IMPORTED_SESSION_KEY, None)):
        imported = (
            Case.objects.filter(case_number__in=numbers)
            .annotate(item_count=Count("items", distinct=True), diagnosis_count=Count("diagnoses", distinct=True))
            .only("case_number", "claim_number", "employee_name", "priority", "application_received_date")
            .order_by("case_number")
        )
    context = {"form": form, "errors": errors, "imported": imported, "columns": importers.column_guide()}
    return render(request, "reviews/case_import.html", context)
