"""Documents: the coordinators' upload page, and the permission-checked view that serves a file."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .. import services
from ..documents import max_upload_bytes
from ..forms.documents import DocumentUploadForm
from ..permissions import coordinator_required, get_case_for_coordinator, get_document_for_user
from ..services.errors import Refused

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
@coordinator_required
def document_upload(request, case_number):
    """Upload several files to a case with one set of details; all are stored, or none."""
    case = get_case_for_coordinator(request.user, case_number)
    # Bound on every POST: a POST carrying only files has an empty request.POST.
    form = DocumentUploadForm(request.POST, request.FILES) if request.method == "POST" else DocumentUploadForm()
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            documents = services.document_add_many(
                case=case,
                by=request.user,
                files=data["files"],
                kind=data["kind"],
                author=data["author"],
                service_date=data["service_date"],
                submitted_by=data["submitted_by"],
            )
        except Refused as refused:
            refused.add_to_form(form)
        else:
            count = len(documents)
            messages.success(request, f"{count} document{'s' if count != 1 else ''} added to {case.case_number}.")
            return redirect("reviews:document_upload", case_number=case.case_number)
    status = 400 if form.is_bound else 200
    context = {
        "case": case,
        "form": form,
        "documents": case.documents.all(),
        "closed": not case.takes_documents,
        "max_upload_bytes": max_upload_bytes(),
    }
    return render(request, "reviews/document_upload.html", context, status=status)


@require_GET
@login_required
def document_file(request, case_number, document_id):
    """Stream a document to a coordinator or to the case's reviewer after acceptance; 404 for anyone else."""
    document = get_document_for_user(request.user, case_number, document_id)
    try:
        handle = document.file.storage.open(document.file.name, "rb")
    except FileNotFoundError:
        logger.error("File of document %s of case %s is missing: %s", document.pk, case_number, document.file.name)
        raise Http404("The file of this document is missing from storage.") from None
    document = services.document_open(document=document, by=request.user)
    response = FileResponse(handle, content_type=document.content_type, filename=document.original_name)
    response["X-Content-Type-Options"] = "nosniff"  # Cache-Control: reviews.middleware.NoStoreMiddleware
    return response
