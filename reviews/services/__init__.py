"""Every write that changes state, one module per area; import them from here."""

from .assignment import case_assign_reviewer, case_reassign_reviewer
from .cases import (
    case_complete_records,
    case_confirm_eligibility,
    case_create,
    case_intake,
    case_number_next,
    case_register,
    case_request_records,
    item_category_correct,
)
from .documents import document_add, document_add_many, document_open
from .errors import Problem, Refused
from .imports import ImportResult, cases_import_csv
from .letters import letter_correct, letter_queue, letter_retry, letter_serve_again
from .parties import organization_get_or_create, provider_get_or_create
from .public_copy import (
    PublicCopy,
    public_copy_confirm,
    public_copy_keep,
    public_copy_of,
    public_copy_remove,
)
from .published_import import determination_batch_create
from .review import (
    CitationInput,
    case_accept,
    case_approve,
    case_decline,
    case_return_to_reviewer,
    case_submit,
    case_summary_save,
    item_review_save,
    submission_problems,
)
from .steps import case_expedite, case_remand, case_reopen, case_terminate, case_withdraw

__all__ = [
    "Problem",
    "Refused",
    "ImportResult",
    "cases_import_csv",
    "case_assign_reviewer",
    "case_reassign_reviewer",
    "case_complete_records",
    "case_confirm_eligibility",
    "case_create",
    "case_intake",
    "case_number_next",
    "case_register",
    "case_request_records",
    "item_category_correct",
    "document_add",
    "document_add_many",
    "document_open",
    "organization_get_or_create",
    "provider_get_or_create",
    "PublicCopy",
    "public_copy_confirm",
    "public_copy_keep",
    "public_copy_of",
    "public_copy_remove",
    "determination_batch_create",
    "case_expedite",
    "case_remand",
    "case_reopen",
    "case_terminate",
    "case_withdraw",
    "letter_correct",
    "letter_queue",
    "letter_retry",
    "letter_serve_again",
    "CitationInput",
    "case_accept",
    "case_approve",
    "case_decline",
    "case_return_to_reviewer",
    "case_submit",
    "case_summary_save",
    "item_review_save",
    "submission_problems",
]
