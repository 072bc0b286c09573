"""Bulk uploads: a CSV of cases (every case is created, or none), and published determinations (a batch)."""

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_http_methods

from .. import importers, services
from ..forms.imports import CaseImportForm, DeterminationImportForm
from ..models import Case, DeterminationImport
from ..permissions import coordinator_required

# The case numbers of the last successful import, shown once after the redirect (like a message).
IMPORTED_SESSION_KEY = "reviews:imported_case_numbers"


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_import(request):
    result = None
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
    context = {"form": form, "result": result, "imported": imported, "columns": importers.column_guide()}
    return render(request, "reviews/case_import.html", context)


@require_http_methods(["GET", "POST"])
@coordinator_required
def determination_import(request):
    """Upload published determinations; a Celery task imports them and the batch page shows its progress."""
    form = DeterminationImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        batch = services.determination_batch_create(
            files=form.cleaned_data["files"], update=form.cleaned_data["update"], by=request.user
        )
        messages.success(request, f"{len(batch.files)} file{pluralize(len(batch.files))} queued for import.")
        return redirect("reviews:determination_batch", batch_id=batch.pk)
    batches = DeterminationImport.objects.select_related("created_by")[:10]
    status = 400 if request.method == "POST" else 200
    return render(request, "reviews/determination_import.html", {"form": form, "batches": batches}, status=status)


@require_GET
@coordinator_required
def determination_batch(request, batch_id):
    """A batch's progress; htmx asks for the progress card alone every few seconds until it is done."""
    batch = get_object_or_404(DeterminationImport.objects.select_related("created_by"), pk=batch_id)
    template = "reviews/includes/_determination_batch.html" if request.htmx else "reviews/determination_batch.html"
    return render(request, template, {"batch": batch})
