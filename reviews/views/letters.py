"""The letters of a case: status (polled while rendering), downloads, retry and correction."""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from .. import services
from ..audit import record_access
from ..models import Letter
from ..permissions import coordinator_required, get_case_for_coordinator, get_case_for_reviewer, is_coordinator
from ..services import letters as letter_services
from ..services.errors import Refused

KINDS = {"final": Letter.Kind.FINAL_DETERMINATION, "public": Letter.Kind.PUBLIC_COPY}


def _case_for(user, case_number):
    """Coordinators see every case's letters; a reviewer only those of a case they accepted (else 404)."""
    if is_coordinator(user):
        return get_case_for_coordinator(user, case_number)
    return get_case_for_reviewer(user, case_number)


def letters_context(case) -> dict:
    """The case's letters; `retryable` on the failed ones and on those queued or rendering for too long."""
    letters = list(case.letters.order_by("-version", "kind"))
    stuck_before = letter_services.stuck_since()
    unserved = set(
        Letter.objects.ready_unserved(before=timezone.now() - dt.timedelta(seconds=settings.IMR_LETTER_UNSERVED_AFTER))
        .filter(case=case)
        .values_list("pk", flat=True)
    )
    for letter in letters:
        working = letter.status in (Letter.Status.QUEUED, Letter.Status.RENDERING)
        letter.stuck = working and letter.status_changed_at < stuck_before
        letter.unserved = letter.pk in unserved
        letter.retryable = letter.kind == Letter.Kind.FINAL_DETERMINATION and (
            letter.status == Letter.Status.FAILED or letter.stuck
        )
    return {
        "case": case,
        "letters": letters,
        "rendering": any(
            letter.status in (Letter.Status.QUEUED, Letter.Status.RENDERING) and not letter.stuck for letter in letters
        ),
    }


@require_GET
@login_required
def case_letters(request, case_number):
    """The letters page; the panel alone for htmx, as it asks for itself every two seconds while a letter renders."""
    case = _case_for(request.user, case_number)
    template = "reviews/includes/_letters.html" if request.htmx else "reviews/case_letters.html"
    return render(request, template, letters_context(case))


@require_GET
@login_required
def letter_download(request, case_number, version, kind, fmt):
    version = int(version)
    case = _case_for(request.user, case_number)
    letter = get_object_or_404(case.letters, version=version, kind=KINDS[kind], status=Letter.Status.READY)
    record_access(letter, by=request.user, case_number=case.case_number, format=fmt)
    name = f"{case.case_number}-v{version}{'-public' if kind == 'public' else ''}"
    if fmt == "txt":
        response = HttpResponse(letter.text, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.txt"'
    elif fmt == "pdf" and letter.pdf:
        response = FileResponse(letter.pdf.open("rb"), content_type="application/pdf", filename=f"{name}.pdf")
    else:
        raise Http404("No such file.")
    return response  # Cache-Control: reviews.middleware.NoStoreMiddleware


def _letter_action(request, case_number, version, service, done: str):
    """Run a coordinator's action on a version of the letter; its refusal or `done` comes back as a message."""
    case = get_case_for_coordinator(request.user, case_number)
    letter = get_object_or_404(case.letters, version=version, kind=Letter.Kind.FINAL_DETERMINATION)
    try:
        service(letter=letter, by=request.user)
    except Refused as refused:
        refused.add_to_messages(request)
    else:
        messages.success(request, f"Letter version {version} {done}.")
    return redirect("reviews:case_detail", case.case_number)


@require_POST
@coordinator_required
def letter_retry(request, case_number, version):
    return _letter_action(request, case_number, version, services.letter_retry, "queued again")


@require_POST
@coordinator_required
def letter_serve_again(request, case_number, version):
    return _letter_action(
        request, case_number, version, services.letter_serve_again, "queued for service on the parties not yet served"
    )


@require_POST
@coordinator_required
def letter_correct(request, case_number):
    case = get_case_for_coordinator(request.user, case_number)
    try:
        letter = services.letter_correct(case=case, by=request.user, reason=request.POST.get("reason", ""))
    except Refused as refused:
        refused.add_to_messages(request)
    else:
        messages.success(request, f"Corrected letter version {letter.version} queued.")
    return redirect("reviews:case_detail", case.case_number)
