"""Every refusal a user can fix is the one error type, Refused with a code, and changes nothing.

Two checks: a scenario per refusal across the services (each asserting the code and that the case,
its timeline, its letters and the outbox are as they were), and a reading of reviews/services that
no module raises anything else for a refusal.
"""

import ast
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from reviews import services
from reviews.models import Case, CaseDocument, CaseEvent, Letter, OutboxEntry, Reviewer
from reviews.services.errors import Refused
from tests.factories import CaseDocumentFactory
from tests.test_transitions import case_at

S = Case.Status
SERVICES = Path(services.__file__).parent


def _item_save(case, by, version):
    item = case.items.get()
    return services.item_review_save(
        item=item,
        by=by,
        version=version,
        decision="upheld",
        ca_cited_no_evidence=True,
        ca_citations=[],
        review_citations=[],
        review_cited_no_evidence=True,
        rationale="x",
        internal_note="",
    )


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _add_document(case, personas, name: str, content: bytes):
    return services.document_add(
        case=case,
        by=personas.coordinator,
        file=SimpleUploadedFile(name, content),
        kind=CaseDocument.Kind.OTHER,
        submitted_by=CaseDocument.SubmittedBy.EMPLOYEE,
    )


class Scenario(NamedTuple):
    status: str  # the case is walked to it (tests.test_transitions.case_at)
    call: Callable  # (case, personas) -> the service call to be refused
    code: str  # the refusal's code
    before: Callable | None = None  # (case, personas) -> what the refusal needs beyond the walk


# One row per refusal, by what it refuses; `c` is the case, `w` the personas.
SCENARIOS = {
    "ineligible without a reason": Scenario(
        S.RECEIVED,
        lambda c, w: services.case_confirm_eligibility(case=c, by=w.coordinator, eligible=False, reason=" "),
        "reason_missing",
    ),
    "a step from the wrong status": Scenario(
        S.RECEIVED,
        lambda c, w: services.case_complete_records(case=c, by=w.coordinator),
        "not_allowed",
    ),
    "an ineligible reviewer": Scenario(
        S.READY_FOR_ASSIGNMENT,
        lambda c, w: services.case_assign_reviewer(case=c, reviewer=w.reviewer, by=w.coordinator),
        "not_eligible",
        before=lambda c, w: Reviewer.objects.filter(pk=w.reviewer.pk).update(active=False),
    ),
    "reassigning without a reason": Scenario(
        S.ASSIGNED,
        lambda c, w: services.case_reassign_reviewer(case=c, reviewer=w.other_reviewer, by=w.coordinator, reason=""),
        "reason_missing",
    ),
    "accepting without the attestation": Scenario(
        S.ASSIGNED,
        lambda c, w: services.case_accept(case=c, by=w.reviewer.user, attested=False),
        "attestation_missing",
    ),
    "declining without a reason": Scenario(
        S.ASSIGNED,
        lambda c, w: services.case_decline(case=c, by=w.reviewer.user, reason=" "),
        "reason_missing",
    ),
    "a stale summary": Scenario(
        S.IN_REVIEW,
        lambda c, w: services.case_summary_save(case=c, by=w.reviewer.user, text="x", version=c.summary_version - 1),
        "stale_draft",
    ),
    "a stale item": Scenario(S.IN_REVIEW, lambda c, w: _item_save(c, w.reviewer.user, version=0), "stale_draft"),
    "editing a submitted review": Scenario(
        S.SUBMITTED,
        lambda c, w: services.case_summary_save(case=c, by=w.reviewer.user, text="x", version=c.summary_version),
        "not_editable",
    ),
    "submitting an incomplete review": Scenario(
        S.ACCEPTED,
        lambda c, w: services.case_submit(case=c, by=w.reviewer.user),
        "incomplete",
    ),
    "returning without comments": Scenario(
        S.SUBMITTED,
        lambda c, w: services.case_return_to_reviewer(case=c, by=w.coordinator, comments=" "),
        "comments_missing",
    ),
    "approving with a document the reviewer did not open": Scenario(
        S.SUBMITTED,
        lambda c, w: services.case_approve(case=c, by=w.coordinator),
        "incomplete",
        before=lambda c, w: CaseDocumentFactory(case=c),
    ),
    "approving an unconfirmed public copy": Scenario(
        S.SUBMITTED,
        lambda c, w: services.case_approve(case=c, by=w.coordinator),
        "public_copy_unconfirmed",
        before=lambda c, w: services.public_copy_remove(case=c, by=w.coordinator, text="lifting"),
    ),
    "approving when the reviewer's licence lapsed": Scenario(
        S.SUBMITTED,
        lambda c, w: services.case_approve(case=c, by=w.coordinator),
        "credentials_lapsed",
        before=lambda c, w: w.reviewer.licenses.update(expires_on=dt.date(2000, 1, 1)),
    ),
    "removing no text from the public copy": Scenario(
        S.SUBMITTED,
        lambda c, w: services.public_copy_remove(case=c, by=w.coordinator, text="  "),
        "text_missing",
    ),
    "changing the public copy outside quality review": Scenario(
        S.IN_REVIEW,
        lambda c, w: services.public_copy_keep(case=c, by=w.coordinator, text="Bob"),
        "not_in_quality_review",
    ),
    "confirming a public copy that changed": Scenario(
        S.SUBMITTED,
        lambda c, w: services.public_copy_confirm(case=c, by=w.coordinator, digest="not-what-was-shown"),
        "public_copy_changed",
    ),
    "correcting a letter before any is ready": Scenario(
        S.APPROVED,
        lambda c, w: services.letter_correct(case=c, by=w.coordinator, reason="typo"),
        "no_letter",
    ),
    "correcting a letter without a reason": Scenario(
        S.APPROVED,
        lambda c, w: services.letter_correct(case=c, by=w.coordinator, reason=""),
        "reason_missing",
    ),
    "retrying a letter that is rendering": Scenario(
        S.APPROVED,
        lambda c, w: services.letter_retry(letter=c.letters.first(), by=w.coordinator),
        "not_retryable",
    ),
    "serving again a letter not ready": Scenario(
        S.APPROVED,
        lambda c, w: services.letter_serve_again(letter=c.letters.first(), by=w.coordinator),
        "not_servable",
    ),
    "a document that is no PDF or image": Scenario(
        S.RECEIVED,
        lambda c, w: _add_document(c, w, "setup.pdf", b"MZ\x90\x00" + b"\x00" * 100),
        "bad_file",
    ),
    "a document for an approved case": Scenario(
        S.APPROVED,
        lambda c, w: _add_document(c, w, "late.png", _png()),
        "closed",
    ),
}


def _state(case):
    return (
        Case.objects.values().get(pk=case.pk),
        CaseEvent.objects.filter(case=case).count(),
        list(Letter.objects.filter(case=case).values("pk", "status")),
        OutboxEntry.objects.count(),
        CaseDocument.objects.filter(case=case).count(),
    )


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_every_refusal_is_refused_with_its_code_and_changes_nothing(scenario, who, queued, media):
    case = case_at(scenario.status, who)
    if scenario.before:
        scenario.before(case, who)
    before = _state(case)

    with pytest.raises(Refused) as refused:
        scenario.call(Case.objects.get(pk=case.pk), who)

    assert refused.value.code == scenario.code
    assert refused.value.problems and all(str(p) for p in refused.value.problems)
    assert _state(case) == before


# Exceptions a service may raise that are not refusals a user can fix, with why.
NOT_REFUSALS = {
    "Refused": "the one error type",
    "PermissionDenied": "authorisation: the user holds no role that may do this",
    "OSError": "published_import: pdftotext missing or failing, the operator's to fix, reported per file",
    "_Refused": "published_import: caught in the same module, it becomes the letter's import outcome",
    "ValueError": "notices.notice_queue: a notice kind that does not fit the case's status, a programming error",
    # The intake form maps these onto its fields (provider name and NPI): intake's rework moves them to Refused.
    "ValidationError": "parties.provider_match: the intake form's field errors",
}


def test_no_service_raises_another_exception_for_a_refusal():
    raised = {}
    for path in SERVICES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = exc.id if isinstance(exc, ast.Name) else ast.unparse(exc)
                raised.setdefault(name, set()).add(path.name)
    assert set(raised) <= set(NOT_REFUSALS), raised
    assert raised["ValidationError"] == {"parties.py"}
