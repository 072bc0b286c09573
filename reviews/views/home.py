"""Home: the landing page of each role."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..models import Case
from ..permissions import is_coordinator, is_reviewer


@require_GET
@login_required
def home(request):
    """The landing page: open cases by status for coordinators, the reviewer's own cases for reviewers."""
    context = {}
    if is_coordinator(request.user):
        counts = dict(Case.objects.values_list("status").annotate(n=Count("id")).order_by())
        context["status_counts"] = [(label, counts.get(value, 0)) for value, label in Case.Status.choices]
    if is_reviewer(request.user):
        context["my_cases"] = (
            Case.objects.filter(reviewer=request.user.reviewer, status__in=Case.WITH_REVIEWER)
            .order_by("decision_due_date")
            .only("case_number", "status", "priority", "decision_due_date")
        )
    return render(request, "reviews/home.html", context)
