"""The coordinator's pages for the steps beside the main path: withdrawal, termination, expedition, remand, reopening.

Each page is one form and one service (reviews.services.steps); a refusal is shown in place on the form.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_fsm import can_proceed

from .. import services
from ..audit import record_access
from ..forms.steps import ExpediteForm, RemandForm, ReopenForm, TerminateForm, WithdrawForm
from ..models import Case
from ..permissions import coordinator_required, get_case_for_coordinator
from ..services.errors import Refused


@dataclass(frozen=True)
class Step:
    name: str  # the URL name, reviews:case_<name>; reviews.actions links the case page to it
    transition: str  # the Case transition that says whether the step is open now
    label: str  # the page's button
    title: str
    intro: str
    form: type
    service: Callable
    done: Callable[[Case], str]  # the message after the step, given the case the service returned
    button_class: str = "btn-primary"

    def available(self, case: Case) -> bool:
        return can_proceed(getattr(case, self.transition))


STEPS = {
    step.name: step
    for step in (
        Step(
            name="withdraw",
            transition="withdraw",
            label="Withdraw…",
            title="Withdraw the application",
            intro="The applicant may withdraw at any time before the decision. The case closes; record who asked "
            "and the date of their request.",
            form=WithdrawForm,
            service=services.case_withdraw,
            done=lambda case: f"{case} is withdrawn and closed.",
            button_class="btn-danger",
        ),
        Step(
            name="terminate",
            transition="terminate_items",
            label="Record an authorisation…",
            title="The claims administrator authorised treatment",
            intro="An authorised item is no longer disputed: it leaves the review and the letter. When every item "
            "still in review is authorised, the case is terminated.",
            form=TerminateForm,
            service=services.case_terminate,
            done=lambda case: (
                f"{case} is terminated: every item was authorised."
                if case.status == Case.Status.TERMINATED
                else f"Authorisation recorded on {case}; the review goes on with the other items."
            ),
        ),
        Step(
            name="expedite",
            transition="expedite",
            label="Convert to expedited…",
            title="Convert to an expedited review",
            intro="On the treating physician's certification of an imminent, serious threat to the employee's health. "
            "The clocks recompute from the day of the certification; the reviewer is told.",
            form=ExpediteForm,
            service=services.case_expedite,
            done=lambda case: (
                f"{case} is expedited."
                + (f" The decision is due {case.decision_due_date:%m/%d/%Y}." if case.decision_due_date else "")
            ),
        ),
        Step(
            name="remand",
            transition="remand",
            label="Remand…",
            title="Remand of the determination",
            intro="An issued determination is never reopened. A remand opens a new case with the same parties, "
            "diagnoses, items and records, and the earlier letter; it goes to a different reviewer.",
            form=RemandForm,
            service=services.case_remand,
            done=lambda case: f"{case} opened as the remand of {case.remand_of}. Assign a different reviewer.",
        ),
        Step(
            name="reopen",
            transition="reopen",
            label="Reopen…",
            title="Reopen the case",
            intro="A withdrawn, terminated or ineligible case returns to the step it was closed at, with its reviewer "
            "and clocks as they stood; a terminated case gets back the items its closing step terminated.",
            form=ReopenForm,
            service=services.case_reopen,
            done=lambda case: f"{case} is reopened: {case.get_status_display().lower()}.",
        ),
    )
}


def _step_page(request, case_number: str, step: Step):
    case = get_case_for_coordinator(request.user, case_number)
    if request.method == "GET" and not step.available(case):
        messages.error(request, f"{case} is {case.get_status_display().lower()}: {step.title.lower()} is not open.")
        return redirect("reviews:case_detail", case.case_number)
    if request.method == "GET" and step.name == "remand" and (remand := case.remands.first()):
        messages.error(request, f"{case} was remanded already: {remand} re-reviews it.")
        return redirect("reviews:case_detail", case.case_number)
    if request.method == "GET":
        record_access(case, by=request.user, page=step.name)  # the page names the employee and the items
    kwargs = {"case": case} if step.form is TerminateForm else {}
    form = step.form(request.POST or None, **kwargs)
    if form.is_valid():
        try:
            result = step.service(case=case, by=request.user, **form.cleaned_data)
        except Refused as refused:
            refused.add_to_form(form)
        else:
            messages.success(request, step.done(result))
            return redirect("reviews:case_detail", result.case_number)
    context = {"case": case, "form": form, "step": step}
    return render(request, "reviews/case_step.html", context, status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_withdraw(request, case_number):
    return _step_page(request, case_number, STEPS["withdraw"])


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_terminate(request, case_number):
    return _step_page(request, case_number, STEPS["terminate"])


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_expedite(request, case_number):
    return _step_page(request, case_number, STEPS["expedite"])


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_remand(request, case_number):
    return _step_page(request, case_number, STEPS["remand"])


@require_http_methods(["GET", "POST"])
@coordinator_required
def case_reopen(request, case_number):
    return _step_page(request, case_number, STEPS["reopen"])
