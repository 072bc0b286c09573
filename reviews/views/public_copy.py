"""The public copy in quality review: every removal highlighted, undo or add one, confirm before approval."""

from collections import Counter

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from .. import services
from ..forms.quality import RedactionTextForm
from ..letters import letter_queryset
from ..permissions import coordinator_required, get_case_for_coordinator
from ..services.errors import Refused

# What the page reads: the letter's case, and who confirmed its public copy.
PUBLIC_COPY_PAGE = letter_queryset().select_related("redaction__confirmed_by")


def _removals(public_copy) -> list[dict]:
    """The spans grouped by text and state, what goes before what stays, with the anchor of the first of each."""
    rows, seen = [], Counter()
    for n, passage in enumerate(public_copy.passages):
        for span in passage.spans:
            key = (span.text, span.state)
            if not seen[key]:
                rows.append({"span": span, "anchor": f"p{n}-{span.start}", "key": key})
            seen[key] += 1
    for row in rows:
        row["count"] = seen[row.pop("key")]
    return sorted(rows, key=lambda row: not row["span"].removed)


def _render(request, case, *, form=None, status=200):
    public_copy = services.public_copy_of(case)
    context = {
        "case": case,
        "public_copy": public_copy,
        "removals": _removals(public_copy),
        "removed_count": sum(s.removed for s in public_copy.spans()),
        "editable": case.status == case.Status.SUBMITTED,
        "form": form or RedactionTextForm(),
    }
    return render(request, "reviews/case_public_copy.html", context, status=status)


@require_GET
@coordinator_required
def case_public_copy(request, case_number):
    """The public copy's texts, removals highlighted with their reasons, and the coordinator's controls."""
    case = get_case_for_coordinator(request.user, case_number, PUBLIC_COPY_PAGE)
    return _render(request, case)


def _change(request, case_number, service, done):
    case = get_case_for_coordinator(request.user, case_number)
    form = RedactionTextForm(request.POST)
    if not form.is_valid():
        return _render(request, PUBLIC_COPY_PAGE.get(pk=case.pk), form=form, status=400)
    text = form.cleaned_data["text"]
    try:
        service(case=case, by=request.user, text=text)
    except Refused as refused:
        refused.add_to_messages(request)
    else:
        messages.success(request, done.format(text=text))
    return redirect("reviews:case_public_copy", case.case_number)


@require_POST
@coordinator_required
def public_copy_remove(request, case_number):
    return _change(
        request, case_number, services.public_copy_remove, "“{text}” is removed from the public copy. Confirm it again."
    )


@require_POST
@coordinator_required
def public_copy_keep(request, case_number):
    return _change(
        request, case_number, services.public_copy_keep, "“{text}” stays in the public copy. Confirm it again."
    )


@require_POST
@coordinator_required
def public_copy_confirm(request, case_number):
    case = get_case_for_coordinator(request.user, case_number)
    try:
        services.public_copy_confirm(case=case, by=request.user, digest=request.POST.get("digest", ""))
    except Refused as refused:
        refused.add_to_messages(request)
    else:
        messages.success(request, "Public copy confirmed: it is published as shown when the determination is approved.")
        return redirect("reviews:case_qa", case.case_number)
    return redirect("reviews:case_public_copy", case.case_number)
