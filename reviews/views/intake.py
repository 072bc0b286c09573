"""Intake: the coordinator's page to create a case, and the autocomplete behind its party fields."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ..forms.intake import CaseIntake
from ..models import Organization, normalize_name
from ..permissions import coordinator_required
from ..services import parties


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_intake(request):
    """One page for a new case: its facts, its parties (on file or new), diagnoses and disputed items."""
    intake = CaseIntake(request.POST if request.method == "POST" else None)
    if request.method == "POST" and (case := intake.save(by=request.user)):
        messages.success(request, f"Case {case.case_number} created.")
        return redirect("reviews:case_detail", case_number=case.case_number)
    context = {"form": intake.form, "diagnoses": intake.diagnoses, "items": intake.items, "duplicate": intake.duplicate}
    return render(request, "reviews/case_intake.html", context, status=400 if request.method == "POST" else 200)


@require_GET
@coordinator_required
def organization_search(request):
    """Up to ten organisations of one kind matching `q` (as normalize_name folds it), for the intake form."""
    kind = request.GET.get("kind", "")
    if kind not in Organization.Kind.values:
        return JsonResponse({"error": f"Unknown kind of organisation {kind!r}."}, status=400)
    q = request.GET.get("q", "")
    found = parties.organization_search(kind=kind, q=q)
    exact = next((o for o in found if o.normalized_name == normalize_name(q)), None)
    return JsonResponse(
        {
            "results": [{"id": o.pk, "name": o.name, "detail": ""} for o in found],
            "exact": {"id": exact.pk, "name": exact.name} if exact else None,
        }
    )


@require_GET
@coordinator_required
def provider_search(request):
    """Up to ten providers matching `q` by name or NPI, with NPI, specialty and group to tell namesakes apart."""
    q = request.GET.get("q", "")
    found = parties.provider_search(q=q)
    key = parties.provider_key(q)
    namesakes = [p for p in found if parties.provider_key(p.name) == key]
    exact = namesakes[0] if len(namesakes) == 1 else None
    return JsonResponse(
        {
            "results": [
                {
                    "id": p.pk,
                    "name": p.name,
                    "npi": p.npi,
                    "detail": " · ".join(
                        str(part) for part in (p.npi and f"NPI {p.npi}", p.specialty, p.group) if part
                    ),
                }
                for p in found
            ],
            "exact": {"id": exact.pk, "name": exact.name, "npi": exact.npi} if exact else None,
        }
    )
