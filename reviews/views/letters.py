"""The letters and notices of a case: status (polled while rendering), downloads, retry, correction, service."""

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
from ..forms.casework import MailingForm
from ..models import Case, Letter, LetterDelivery
from ..permissions import coordinator_required, get_case_for_coordinator, get_case_for_reviewer, is_coordinator
from ..services import letters as letter_services
from ..services.errors import Refused


def _case_for(user, case_number):
    """Coordinators see every case's letters; a reviewer only those of a case they accepted (else 404)."""
    if is_coordinator(user):
        return get_case_for_coordinator(user, case_number)
    return get_case_for_reviewer(user, case_number)


def letters_context(case) -> dict:
    """The case's letter versions and notices, with their deliveries, in three queries.

    On each: `retryable` (failed, or queued or rendering for too long), `unserved` (ready a while and
    an e-mail not sent: Serve again), `served_count` and `fully_served` (every party's copy sent or
    recorded as mailed). `unsent_copies` counts the parties still to be served across the case;
    `correctable` says whether a corrected version may be asked for now.
    """
    rows = list(case.letters.prefetch_related("deliveries").order_by("-version", "kind"))
    stuck_before = letter_services.stuck_since()
    unserved = set(
        Letter.objects.ready_unserved(before=timezone.now() - dt.timedelta(seconds=settings.IMR_LETTER_UNSERVED_AFTER))
        .filter(case=case)
        .values_list("pk", flat=True)
    )
    for letter in rows:
        working = letter.status in (Letter.Status.QUEUED, Letter.Status.RENDERING)
        letter.stuck = working and letter.status_changed_at < stuck_before
        letter.unserved = letter.pk in unserved
        letter.retryable = letter.kind != Letter.Kind.PUBLIC_COPY and (
            letter.status == Letter.Status.FAILED or letter.stuck
        )
        deliveries = list(letter.deliveries.all())
        letter.served_count = sum(d.served_at is not None for d in deliveries)
        letter.fully_served = bool(deliveries) and letter.served_count == len(deliveries)
    served = [letter for letter in rows if letter.kind != Letter.Kind.PUBLIC_COPY]
    letter_rows = [letter for letter in rows if not letter.is_notice]
    rendering = any(
        letter.status in (Letter.Status.QUEUED, Letter.Status.RENDERING) and not letter.stuck for letter in rows
    )
    return {
        "case": case,
        "letters": letter_rows,
        # The letter's card: once there is a letter, or one is on its way (approved), or imported.
        "letter_card": bool(letter_rows or case.imported_from) or case.determination_final,
        "notices": sorted((letter for letter in rows if letter.is_notice), key=lambda n: (n.created_at, n.pk)),
        "unsent_copies": sum(
            len(letter.deliveries.all()) - letter.served_count
            for letter in served
            if letter.status == Letter.Status.READY
        ),
        "rendering": rendering,
        # A correction is a new version of the issued letter, one at a time (services.letters.letter_correct).
        "correctable": case.status == Case.Status.ISSUED and not rendering,
    }


@require_GET
@login_required
def case_letters(request, case_number):
    """The letters page; the panel alone for htmx, as it asks for itself every two seconds while a letter renders."""
    case = _case_for(request.user, case_number)
    record_access(case, by=request.user, page="letters")
    template = "reviews/includes/_letters.html" if request.htmx else "reviews/case_letters.html"
    return render(request, template, letters_context(case))


@require_GET
@login_required
def letter_download(request, case_number, version, kind, fmt):
    version = int(version)
    case = _case_for(request.user, case_number)
    if kind not in Letter.Kind.values:
        raise Http404("No such letter.")
    letter = get_object_or_404(case.letters, version=version, kind=kind, status=Letter.Status.READY)
    record_access(letter, by=request.user, case_number=case.case_number, format=fmt)
    name = f"{case.case_number}-v{version}{'' if kind == Letter.Kind.FINAL_DETERMINATION else f'-{kind}'}"
    if fmt == "txt":
        response = HttpResponse(letter.text, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.txt"'
    elif fmt == "pdf" and letter.pdf:
        response = FileResponse(letter.pdf.open("rb"), content_type="application/pdf", filename=f"{name}.pdf")
    else:
        raise Http404("No such file.")
    return response  # Cache-Control: reviews.middleware.NoStoreMiddleware


def _letter_action(
    request, case_number, version, service, done: str, kind=Letter.Kind.FINAL_DETERMINATION, notice=False
):
    """Run a coordinator's action on a version of the letter or of a notice; its refusal or `done` comes back
    as a message."""
    case = get_case_for_coordinator(request.user, case_number)
    letter = get_object_or_404(case.letters, version=version, kind=kind)
    if letter.is_notice != notice:  # the notices' URLs are for notices only
        raise Http404("No such notice.")
    try:
        service(letter=letter, by=request.user)
    except Refused as refused:
        refused.add_to_messages(request)
    else:
        name = f"{letter.get_kind_display()} v{version}" if letter.is_notice else f"Letter version {version}"
        messages.success(request, f"{name} {done}.")
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
def notice_retry(request, case_number, kind, version):
    return _letter_action(request, case_number, version, services.letter_retry, "queued again", kind=kind, notice=True)


@require_POST
@coordinator_required
def notice_serve_again(request, case_number, kind, version):
    return _letter_action(
        request,
        case_number,
        version,
        services.letter_serve_again,
        "queued for service on the parties not yet served",
        kind=kind,
        notice=True,
    )


@require_POST
@coordinator_required
def delivery_mailed(request, case_number, delivery_id):
    """Record the mailing of a postal copy; a bad date comes back on the letters page, beside that copy."""
    case = get_case_for_coordinator(request.user, case_number)
    delivery = get_object_or_404(LetterDelivery.objects.select_related("letter"), pk=delivery_id, letter__case=case)
    form = MailingForm(request.POST)
    if form.is_valid():
        mailed_on = form.cleaned_data["mailed_on"]
        try:
            services.delivery_record_mailing(delivery=delivery, mailed_on=mailed_on, by=request.user)
        except Refused as refused:
            refused.add_to_form(form)
        else:
            messages.success(
                request,
                f"{delivery.letter.get_kind_display()} v{delivery.letter.version}: mailing to {delivery.recipient}"
                f" recorded ({mailed_on:%m/%d/%Y}).",
            )
            return redirect("reviews:case_letters", case.case_number)
    context = letters_context(case) | {"mailing_form": form, "mailing_delivery": delivery.pk}
    return render(request, "reviews/case_letters.html", context)


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
