"""Every write that changes state, one module per area; import them from here."""

from .cases import (
    case_complete_records,
    case_confirm_eligibility,
    case_create,
    case_number_next,
    case_register,
    case_request_records,
)

__all__ = [
    "case_complete_records",
    "case_confirm_eligibility",
    "case_create",
    "case_number_next",
    "case_register",
    "case_request_records",
]
