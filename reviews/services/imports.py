"""Bulk intake: create every case of a CSV file, or none of them."""

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from ..importers import ORGANIZATION_COLUMNS, CaseRow, RowError, parse_cases_csv, provider_key
from ..models import Case, CaseEvent, Organization, Provider, normalize_name
from ..permissions import is_coordinator
from .cases import case_create


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

    parties = _Parties()
    cases, errors = [], []
    for row in rows:
        try:
            case = case_create(by=by, diagnoses=row.diagnoses, items=row.items, **parties.resolve(row), **row.fields)
        except ValidationError as error:
            # case_create's own savepoint has undone this row; carry on to report every refused row.
            errors.append(RowError(row.line, _reasons(error), row.fields["claim_number"]))
            continue
        CaseEvent.record(case, by=by, note=f"imported from {filename}, line {row.line}")
        cases.append(case)
    if errors:
        transaction.set_rollback(True)  # the cases of the good rows, and any party created for them, go too
        return ImportResult(errors=errors)
    return ImportResult(cases=cases)


def _reasons(error: ValidationError) -> tuple[str, ...]:
    if hasattr(error, "error_dict"):
        return tuple(
            f"{name}: {message}" if name != "__all__" else message
            for name, messages in error.message_dict.items()
            for message in messages
        )
    return tuple(error.messages)


class _Parties:
    """Finds or creates the organisations and the provider a row names, once per import."""

    def __init__(self):
        self.organizations: dict[tuple[str, str], Organization] = {}
        # Physicians have no normalised column to match in SQL; one read of (id, name, NPI) serves the file.
        self.by_npi: dict[str, Provider] = {}
        self.by_name: dict[str, Provider] = {}
        for provider in Provider.objects.only("id", "name", "npi").order_by("id"):
            self._remember(provider)

    def _remember(self, provider: Provider) -> None:
        if provider.npi:
            self.by_npi.setdefault(provider.npi, provider)
        self.by_name.setdefault(provider_key(provider.name), provider)

    def resolve(self, row: CaseRow) -> dict:
        """The Case's party fields for the row: organisation columns share the Case field names."""
        fields = dict.fromkeys(ORGANIZATION_COLUMNS)
        for column, kind in ORGANIZATION_COLUMNS.items():
            if name := row.organizations[column]:
                fields[column] = self.organization(kind, name)
        fields["requesting_provider"] = self.provider(row.provider_name, row.provider_npi)
        return fields

    def organization(self, kind: str, name: str) -> Organization:
        key = (kind, normalize_name(name))
        if key not in self.organizations:
            # get_or_create retries the read when a concurrent import created the same row first.
            self.organizations[key], _ = Organization.objects.get_or_create(
                kind=kind, normalized_name=key[1], defaults={"name": name}
            )
        return self.organizations[key]

    def provider(self, name: str, npi: str) -> Provider:
        """By NPI; else by name, but never a namesake whose different NPI says it is someone else."""
        if npi and npi in self.by_npi:
            return self.by_npi[npi]
        namesake = self.by_name.get(provider_key(name))
        if namesake is not None and not (npi and namesake.npi):
            return namesake
        provider = Provider.objects.create(name=name, npi=npi)
        self._remember(provider)
        return provider
