"""Bulk intake: create every case of a CSV file, or none of them."""

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction

from ..forms.intake import CaseIntake, item_catalogue
from ..importers import RowError, intake_data, intake_errors, parse_cases_csv
from ..models import Case, CaseEvent
from ..permissions import is_coordinator


@dataclass
class ImportResult:
    """The created cases (in file order), or every problem found; never both."""

    cases: list[Case] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_lines(self) -> int:
        return len({error.line for error in self.errors if error.line})


@transaction.atomic
def cases_import_csv(*, by: AbstractBaseUser, file, filename: str = "") -> ImportResult:
    """Create one case per row of a CSV file (see reviews.importers for the columns), all or nothing.

    `file` is a binary file object (an upload, an open file) or bytes. Each row goes through the
    intake page's forms and service (forms.intake.CaseIntake), in file order; if any row is
    refused, nothing is kept (the new parties included) and the result lists every problem of
    every row with its line and column. Each case records an event naming the file and line.

    Raises PermissionDenied unless `by` is a coordinator.
    """
    if not is_coordinator(by):
        raise PermissionDenied("Only case coordinators may import cases.")
    data = file if isinstance(file, bytes | str) else file.read()
    filename = filename or getattr(file, "name", "") or "a CSV file"
    rows, errors = parse_cases_csv(data)
    if errors:
        return ImportResult(errors=errors)

    catalogue = item_catalogue()  # read once for the file, not once per row
    cases = []
    for row in rows:
        intake = CaseIntake(intake_data(row, catalogue), catalogue=catalogue)
        valid = intake.is_valid()  # a row with problems of its own too: every problem is reported at once
        case = intake.save(by=by) if valid and not row.problems else None
        if case is None:
            errors += intake_errors(row, intake)
            continue
        # Beside the intake's own "application received" event: where the case came from, no status change.
        CaseEvent.record(case, by=by, note=f"imported from {filename}, line {row.line}", from_status=case.status)
        cases.append(case)
    if errors:
        transaction.set_rollback(True)  # the cases of the good rows, and any party created for them, go too
        return ImportResult(errors=errors)
    return ImportResult(cases=cases)
