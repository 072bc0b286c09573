"""The eligibility checklist of an IMR application (8 CCR 9792.10.1-3): what to check, and the proposal."""

import datetime as dt
from dataclasses import dataclass

from . import deadlines
from .models import Case, CaseDocument, DisputedItem


@dataclass(frozen=True)
class Check:
    label: str
    passed: bool
    detail: str = ""


def checklist_initial(case: Case) -> dict:
    """What the records already tell: the UR letter is on file, no earlier IMR on the same treatment (2 queries)."""
    return {
        "application_signed": False,
        "ur_served_on": case.ur_decision_date,
        "ur_letter_attached": case.documents.filter(kind=CaseDocument.Kind.UR_LETTER).exists(),
        "no_earlier_imr": not earlier_reviews(case),
    }


def earlier_reviews(case: Case) -> list[str]:
    """Case numbers of other IMRs of the same claim on a treatment of the same (sub)category (1 query)."""
    mine = list(case.items.values_list("category_id", "subcategory_id"))
    others = (
        DisputedItem.objects.filter(case__claim_number=case.claim_number)
        .exclude(case=case)
        .exclude(case__status__in=[Case.Status.INELIGIBLE, Case.Status.WITHDRAWN])
        .values_list("case__case_number", "category_id", "subcategory_id")
    )
    return sorted({number for number, *treatment in others if any(_same_treatment(treatment, m) for m in mine)})


def _same_treatment(a, b) -> bool:
    """Same category, and the same subcategory unless one of them names none."""
    (category_a, sub_a), (category_b, sub_b) = a, b
    return category_a == category_b and (sub_a is None or sub_b is None or sub_a == sub_b)


def run_checklist(
    case: Case, *, application_signed: bool, ur_served_on: dt.date, ur_letter_attached: bool, no_earlier_imr: bool
) -> list[Check]:
    """The four checks, each passed or failed with the detail a coordinator reads."""
    last_day = deadlines.application_due(ur_served_on)
    received = case.application_received_date
    return [
        Check("Application signed by the employee or representative", application_signed),
        Check(
            "Filed within 30 days of service of the UR decision",
            received <= last_day,
            f"received {received:%m/%d/%Y}, last day {last_day:%m/%d/%Y}",
        ),
        Check("UR decision letter attached", ur_letter_attached),
        Check("No earlier IMR on the same treatment for the same claim", no_earlier_imr),
    ]


def proposal(checks: list[Check]) -> tuple[bool, str]:
    """Eligible when every check passed; otherwise ineligible, with the failed checks as the reason."""
    failed = [c for c in checks if not c.passed]
    if not failed:
        return True, ""
    reasons = [c.label.lower() + (f" ({c.detail})" if c.detail else "") for c in failed]
    return False, "Not eligible: " + "; ".join(reasons) + "."
