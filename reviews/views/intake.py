"""Intake: the coordinator's page to create a case, and the autocomplete behind its party fields."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import all_valid
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .. import services
from ..forms.intake import CaseIntakeForm, DiagnosisFormSetFactory, DisputedItemFormSetFactory
from ..models import Organization, normalize_name
from ..permissions import coordinator_required
from ..services import parties
from ..services.errors import Refused


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_intake(request):
    """One page for a new case: its facts, its parties (on file or new), diagnoses and disputed items."""
    data = request.POST if request.method == "POST" else None
    form = CaseIntakeForm(data)
    diagnoses = DiagnosisFormSetFactory(data, prefix="diagnoses")
    items = DisputedItemFormSetFactory(data, prefix="items")
    duplicate = ""
    if data is not None and all_valid([form, diagnoses, items]):
        try:
            case = _create(request.user, form, diagnoses, items)
        except Refused as refused:  # the same dispute is open already: shown beside the box that confirms it
            duplicate = str(refused)
        except ValidationError as error:  # a race (a party changed meanwhile). Nothing was saved.
            _add_errors(form, error)
        else:
            messages.success(request, f"Case {case.case_number} created.")
            return redirect("reviews:case_detail", case_number=case.case_number)
    context = {"form": form, "diagnoses": diagnoses, "items": items, "duplicate": duplicate}
    return render(request, "reviews/case_intake.html", context, status=400 if data is not None else 200)


@transaction.atomic
def _create(user, form, diagnoses, items):
    """Add the parties not on file and create the case: one transaction, so a refusal leaves nothing behind."""
    fields = form.case_fields()
    for case_field, (kind, name) in form.organization_names().items():
        fields[case_field] = services.organization_get_or_create(kind=kind, name=name, by=user)
    try:
        fields["requesting_provider"] = services.provider_get_or_create(
            name=form.cleaned_data["provider_name"], npi=form.cleaned_data["provider_npi"], by=user
        )
    except ValidationError as error:
        raise ValidationError(
            {{"npi": "provider_npi", "name": "provider_name"}.get(k, k): v for k, v in error.message_dict.items()}
        ) from error
    return services.case_create(
        by=user,
        diagnoses=diagnoses.rows(),
        items=items.rows(),
        confirm_duplicate=form.cleaned_data["confirm_duplicate"],
        **fields,
    )


def _add_errors(form, error: ValidationError) -> None:
    for field, field_messages in getattr(error, "message_dict", {None: error.messages}).items():
        form.add_error(field if field in form.fields else None, field_messages)


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
