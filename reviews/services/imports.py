"""Bulk intake: create every case of a CSV file, or none of them."""

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from ..importers import ORGANIZATION_COLUMNS, CaseRow, RowError, parse_cases_csv
from ..models import Case, CaseEvent
from ..permissions import is_coordinator
from .cases import case_create
from .errors import Refused
from .parties import organization_get_or_create, provider_get_or_create


@dataclass
class ImportResult:
    """The created cases (in file order), or every problem found; never both."""

    cases: list[Case] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@transaction.atomic
def cases_import_csv(*, by: AbstractBaseUser, file, filename: str = "") -> ImportResult:
    """Create one case per row of a CSV file (see reviews.importers for the columns), all or nothing.

    `file` is a binary file object (an upload, an open file) or bytes. Every row is validated
    before anything is written; if any row is bad, or case_create refuses one (its
    ValidationError becomes that row's error), nothing is kept and the result lists every
    problem with its line number. Missing organisations and providers are created with the
    cases, and each case records an event naming the file and the line it came from.

    Raises PermissionDenied unless `by` is a coordinator.
    """
    if not is_coordinator(by):
        raise PermissionDenied("Only case coordinators may import cases.")
    data = file if isinstance(file, bytes | str) else file.read()
    filename = filename or getattr(file, "name", "") or "a CSV file"
    rows, errors = parse_cases_csv(data)
    if errors:
        return ImportResult(errors=errors)

    cases, errors = [], []
    for row in rows:
        try:
            case = case_create(by=by, diagnoses=row.diagnoses, items=row.items, **_parties(row, by), **row.fields)
        except (ValidationError, Refused) as error:
            # case_create's own savepoint has undone this row; carry on to report every refused row.
            errors.append(RowError(row.line, _reasons(error), row.fields["claim_number"]))
            continue
        CaseEvent.record(case, by=by, note=f"imported from {filename}, line {row.line}")
        cases.append(case)
    if errors:
        transaction.set_rollback(True)  # the cases of the good rows, and any party created for them, go too
        return ImportResult(errors=errors)
    return ImportResult(cases=cases)


def _reasons(error: ValidationError | Refused) -> tuple[str, ...]:
    if isinstance(error, Refused):
        return tuple(str(problem) for problem in error.problems)
    if hasattr(error, "error_dict"):
        return tuple(
            f"{name}: {message}" if name != "__all__" else message
            for name, messages in error.message_dict.items()
            for message in messages
        )
    return tuple(error.messages)


def _parties(row: CaseRow, by: AbstractBaseUser) -> dict:
    """The Case's party fields for the row (organisation columns share the Case field names), found or added."""
    fields = {
        column: organization_get_or_create(kind=kind, name=name, by=by) if (name := row.organizations[column]) else None
        for column, kind in ORGANIZATION_COLUMNS.items()
    }
    fields["requesting_provider"] = provider_get_or_create(name=row.provider_name, npi=row.provider_npi, by=by)
    return fields
