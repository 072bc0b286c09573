"""What a user may do next on a case: the workflow transitions they may take now, each mapped to its page.

The pages show `case_actions(case, user)` (template tag `{% case_actions case user as actions %}`)
instead of comparing statuses: a transition the model declares, with a role the user holds, from
the case's status now, shows up as soon as it has a row in ACTIONS.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.urls import reverse

from .forms.casework import RecordsCompleteForm, RecordsRequestForm
from .models import Case

S = Case.Status


@dataclass(frozen=True)
class Action:
    label: str
    url_name: str  # a reviews URL taking the case number: the page (or, with `form`, the POST) that takes it
    style: str = "primary"  # the Bootstrap button colour
    hint: str = ""  # one line above the button, on the case page
    form: Callable[[Case], forms.Form] | None = None  # an inline form posted to the URL, shown by `template`
    template: str = ""
    side: bool = False  # a step beside the main path (withdrawal, termination, ...): the case page's own block


# A transition's row, by name, or by (name, source status) where it reads differently from one status.
# Transitions without a row show no button: "issue" is the letter task's, and "release" (declining) is
# offered on the attestation page that "accept" links to.
ACTIONS: dict[str | tuple[str, str], Action] = {
    "confirm_eligible": Action(
        "Check eligibility", "reviews:case_eligibility", hint="Check the application against the eligibility checklist."
    ),
    "confirm_ineligible": Action("Check eligibility", "reviews:case_eligibility"),
    "request_records": Action(
        "Request records",
        "reviews:case_request_records",
        form=lambda case: RecordsRequestForm(),
        template="reviews/includes/_action_request_records.html",
    ),
    "complete_records": Action(
        "Records complete",
        "reviews:case_records_complete",
        form=lambda case: RecordsCompleteForm(case=case),
        template="reviews/includes/_action_records_complete.html",
    ),
    "assign": Action("Assign a reviewer", "reviews:case_assign", hint="Choose an eligible expert reviewer."),
    ("reassign", S.ASSIGNED): Action(
        "Reassign…", "reviews:case_assign", style="outline-secondary", hint="With the reviewer, waiting for acceptance."
    ),
    "reassign": Action("Reassign…", "reviews:case_assign", style="outline-secondary", hint="With the reviewer."),
    "accept": Action("Check conflicts and accept", "reviews:case_attest"),
    ("start_review", S.RETURNED): Action("Address comments", "reviews:case_workspace", style="warning"),
    "start_review": Action("Open workspace", "reviews:case_workspace", style="outline-primary"),
    "submit": Action("Open workspace", "reviews:case_workspace", style="outline-primary"),
    "return_to_reviewer": Action("Quality review", "reviews:case_qa", hint="The reviewer submitted the determination."),
    "approve": Action("Quality review", "reviews:case_qa"),
    # The steps beside the main path (reviews.views.steps), in their own block of the case page.
    "withdraw": Action("Withdraw…", "reviews:case_withdraw", style="outline-secondary", side=True),
    "terminate_items": Action(
        "Record an authorisation…", "reviews:case_terminate", style="outline-secondary", side=True
    ),
    "terminate": Action("Record an authorisation…", "reviews:case_terminate", style="outline-secondary", side=True),
    "expedite": Action("Convert to expedited…", "reviews:case_expedite", style="outline-secondary", side=True),
    "remand": Action("Remand…", "reviews:case_remand", style="outline-secondary", side=True),
    "reopen": Action("Reopen…", "reviews:case_reopen", style="outline-secondary", side=True),
}


@dataclass(frozen=True)
class AvailableAction:
    """A row of ACTIONS for one case: its URL, and its form when it has one."""

    transition: str
    label: str
    style: str
    hint: str
    template: str
    url: str
    form: forms.Form | None


def case_actions(case: Case, user, *, side: bool = False) -> list[AvailableAction]:
    """The actions `user` may take on `case` now, in workflow order, one per page (two transitions taken
    on one page, such as approve and return on quality review, show one button: the first one's).

    The main path's, or with `side` the steps beside it (withdrawal, termination, expedition, remand, reopening).
    """
    available, pages = [], set()
    for transition in case.get_available_user_status_transitions(user):
        action = ACTIONS.get((transition.name, case.status)) or ACTIONS.get(transition.name)
        if action is None or action.url_name in pages or action.side != side:
            continue
        pages.add(action.url_name)
        available.append(
            AvailableAction(
                transition=transition.name,
                label=action.label,
                style=action.style,
                hint=action.hint,
                template=action.template,
                url=reverse(action.url_name, args=[case.case_number]),
                form=action.form(case) if action.form else None,
            )
        )
    return available
