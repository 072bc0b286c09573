"""Bulk intake: read a CSV of cases (one row per case, its items in numbered columns) and validate every row.

The file
--------
UTF-8 text (Excel: *Save As > CSV UTF-8*; a byte-order mark is fine), comma-separated, the
first line the column names. Column names are matched loosely: case, spaces and hyphens do
not matter ("Employee name" = "employee_name"). Columns may come in any order; optional
columns may be left out. A blank row is skipped. A sample with three cases is served at
static/samples/cases-import-sample.csv.

Case columns (* = required):

  priority*                   standard, expedited or formulary
  employee_name*              as on the application
  employee_birth_date         date
  employee_sex                F, M or U (female, male, not stated); blank = not stated
  claim_number*               unique within the file
  adj_number                  WCAB case number, e.g. ADJ10456721
  date_of_injury*             date
  employer*                   organisation name
  claims_administrator*       organisation name
  ur_organization             organisation name
  employee_attorney           law firm name
  requesting_provider*        physician name, e.g. Dr. Daniel Cho
  requesting_provider_npi     ten digits
  ur_decision_date*           date
  application_received_date*  date
  diagnoses*                  "M51.26 Lumbar disc displacement; M54.2 Cervicalgia": an ICD-10 code and
                              its text, diagnoses separated by semicolons (or line breaks), in order

Item columns, one group per disputed item, numbered from 1 (item_1_..., item_2_..., as many
groups as the file needs; a row leaves the groups it does not use blank):

  item_N_request*             the request as written on the RFA
  item_N_category*            top-level DWC treatment category, e.g. Rehabilitation
  item_N_subcategory          a subcategory of that category, e.g. Physical therapy
  item_N_body_part            e.g. Lumbar spine
  item_N_side                 left, right or bilateral (L, R, B); blank = not applicable
  item_N_spinal_level         e.g. L4-5, L5-S1
  item_N_ur_action*           denied, modified or delayed
  item_N_authorized_part      what UR authorised: required when modified, only then
  item_N_eligible_scope       for a modified request, what the review decides: remaining (the
                              remaining portion, the default) or original (the whole request)
  item_N_remaining_part       the remaining portion, e.g. "Physical therapy 2 sessions"; worked out
                              from the request and the authorised part when they count sessions

Dates are MM/DD/YYYY as California forms write them (M/D/YYYY, as spreadsheets export
them, too) or YYYY-MM-DD; the year always has four digits. They must be in the order of the
process: date of injury <= UR decision date <= application received date, none in the
future, the birth date before the injury.

Why one row per case with numbered item columns, rather than one row per item with the case
repeated: a coordinator types (or pastes) the case facts once, so two rows of one case can
never disagree on the employee, the dates or the parties; sorting or filtering the sheet
cannot split a case from its items; a claim number appearing twice is an error we can
report instead of a merge we would have to guess; and a line number in an error report
points at one whole case. The cost is a wide sheet, which is why item groups the file does
not need can be left out altogether.

Parties are matched, never duplicated, as on the intake page (services.parties): organisations
by kind and normalised name ("ACME, Inc." is "Acme Inc"); the requesting provider by NPI, which
must belong to a physician of that name, else by name without a "Dr." title or a trailing
", MD"-style degree; whatever is not found is created at import. Treatment categories must exist (top level,
case-insensitive; subcategories under their category).

This module only reads the database (categories, existing cases); services.imports writes.
"""

import csv
import datetime as dt
import io
import re
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from .models import (
    ICD10_RE,
    Case,
    Diagnosis,
    DisputedItem,
    Organization,
    Provider,
    TreatmentCategory,
    modified_request_parts,
    normalize_name,
)

# column -> (required, what the page's column guide says). Order is the sample file's order.
CASE_COLUMNS: dict[str, tuple[bool, str]] = {
    "priority": (True, "standard, expedited or formulary"),
    "employee_name": (True, "as on the application"),
    "employee_birth_date": (False, "date"),
    "employee_sex": (False, "F, M or U (not stated); blank = not stated"),
    "claim_number": (True, "once per file"),
    "adj_number": (False, "WCAB case number, e.g. ADJ10456721"),
    "date_of_injury": (True, "date"),
    "employer": (True, "organisation name"),
    "claims_administrator": (True, "organisation name"),
    "ur_organization": (False, "organisation name"),
    "employee_attorney": (False, "law firm name"),
    "requesting_provider": (True, "physician name, e.g. Dr. Daniel Cho"),
    "requesting_provider_npi": (False, "ten digits"),
    "ur_decision_date": (True, "date"),
    "application_received_date": (True, "date"),
    "diagnoses": (True, "M51.26 Lumbar disc displacement; M54.2 Cervicalgia"),
}
ITEM_COLUMNS: dict[str, tuple[bool, str]] = {
    "request": (True, "as written on the request for authorisation"),
    "category": (True, "top-level treatment category, e.g. Rehabilitation"),
    "subcategory": (False, "of that category, e.g. Physical therapy"),
    "body_part": (False, "e.g. Lumbar spine"),
    "side": (False, "left, right or bilateral (L, R, B)"),
    "spinal_level": (False, "e.g. L4-5, L5-S1"),
    "ur_action": (True, "denied, modified or delayed"),
    "authorized_part": (False, "what UR authorised; required when modified, only then"),
    "eligible_scope": (False, "remaining (default) or original, for a modified request"),
    "remaining_part": (False, "the remaining portion the review decides; worked out when left blank"),
}
ITEM_COLUMN_RE = re.compile(r"^item_([0-9]{1,2})_(" + "|".join(ITEM_COLUMNS) + r")$")
# The case columns and 99 item groups, with room to spare: a wider header is not a case file.
MAX_COLUMNS = 2000

# Organisation columns -> the kind of organisation they name.
ORGANIZATION_COLUMNS = {
    "employer": Organization.Kind.EMPLOYER,
    "claims_administrator": Organization.Kind.CLAIMS_ADMINISTRATOR,
    "ur_organization": Organization.Kind.UR_ORGANIZATION,
    "employee_attorney": Organization.Kind.LAW_FIRM,
}

PRIORITIES = {v: v for v in Case.Priority.values}  # matched lower-cased: "Expedited" is fine
SEXES = {"f": "F", "female": "F", "m": "M", "male": "M", "u": "U", "unknown": "U", "not stated": "U", "": "U"}
SIDES = {v: v for v in DisputedItem.Side.values} | {"l": "left", "r": "right", "b": "bilateral"}
UR_ACTIONS = {v: v for v in DisputedItem.URAction.values} | {"deny": "denied", "modify": "modified", "delay": "delayed"}

_US_DATE = re.compile(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]+)$")
_ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_DIAGNOSIS = re.compile(r"^([A-Za-z0-9.]+)\s*[-–:,]?\s*(.*)$", re.DOTALL)
_CREDENTIALS = {"md", "do", "dc", "dpm", "phd", "psyd", "pharmd", "dds", "np", "pa", "facs", "faaos", "qme", "ame"}
_XLSX_MAGIC, _XLS_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


@dataclass(frozen=True)
class RowError:
    """What is wrong with one line of the file (header = line 1), or with the file as a whole (line None)."""

    line: int | None
    reasons: tuple[str, ...]
    claim_number: str = ""


@dataclass
class CaseRow:
    """One valid row, parsed: Case fields, party names (resolved at import), diagnoses and items."""

    line: int
    fields: dict
    organizations: dict[str, str]  # column -> name as written; blank when the optional column is empty
    provider_name: str
    provider_npi: str
    diagnoses: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)


def provider_key(name: str) -> str:
    """Matching key of a physician's name: "Dr. Linda Marsh" and "Linda Marsh, MD" are the same person."""
    head, comma, tail = name.partition(",")
    if comma and set(normalize_name(tail).split()) <= _CREDENTIALS:
        name = head
    words = normalize_name(name).split()
    if words[:1] in (["dr"], ["doctor"]):
        words = words[1:]
    return " ".join(words)


def column_guide() -> list[tuple[str, bool, str]]:
    """(column, required, format) for the upload page, items shown as their first group."""
    return [(name, required, hint) for name, (required, hint) in CASE_COLUMNS.items()] + [
        (f"item_1_{name}", required, hint) for name, (required, hint) in ITEM_COLUMNS.items()
    ]


def parse_cases_csv(data: bytes | str) -> tuple[list[CaseRow], list[RowError]]:
    """Parse and validate the whole file: every valid row, and every problem of every bad row.

    Nothing is written. The file is good only when the error list is empty. Line numbers are
    the spreadsheet's row numbers (the header is line 1; a cell with line breaks is one row).
    """
    text, problem = _decode(data)
    if problem:
        return [], [problem]
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        return [], [RowError(None, (f"The file is not readable CSV: {error}.",))]
    if not records or not any(cell.strip() for cell in records[0]):
        return [], [RowError(None, ("The file is empty: the first line must hold the column names.",))]
    header = [_column_name(cell) for cell in records[0]]
    if reasons := _header_problems(header, raw=records[0]):
        return [], [RowError(1, tuple(reasons))]
    groups = sorted({int(m.group(1)) for name in header if (m := ITEM_COLUMN_RE.match(name))})
    data_rows = [(line, record) for line, record in enumerate(records[1:], start=2) if any(c.strip() for c in record)]
    if not data_rows:
        return [], [RowError(None, ("The file has column names but no cases.",))]

    checker = _RowChecker(groups)
    checked = []  # (row, its reasons), in file order
    for line, record in data_rows:
        values, reasons = _cells(header, record)
        checked.append((checker.check(line, values, reasons), reasons))
    checker.already_imported(checked)
    errors = [RowError(row.line, tuple(reasons), row.fields["claim_number"]) for row, reasons in checked if reasons]
    if errors:
        return [], errors
    return [row for row, _ in checked], []


def _decode(data: bytes | str) -> tuple[str, RowError | None]:
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), None
    if data.startswith((_XLSX_MAGIC, _XLS_MAGIC)):
        return "", RowError(None, ("This is an Excel workbook, not a CSV file: use Save As > CSV UTF-8.",))
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return "", RowError(
            None,
            (
                f"The file is not UTF-8 text (byte 0x{data[error.start]:02X} on line {line}): "
                "save it from the spreadsheet as CSV UTF-8.",
            ),
        )


def _column_name(cell: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", cell.strip().lower()).strip("_")


def _header_problems(header: list[str], *, raw: list[str]) -> list[str]:
    named = [name for name in header if name]
    if len(named) == 1 and any(sep in raw[0] for sep in (";", "\t")):
        return ["The columns are separated by semicolons or tabs: save the file as comma-separated CSV."]
    if len(header) > MAX_COLUMNS:
        return [f"The file has {len(header)} columns; a case takes at most {MAX_COLUMNS}."]
    reasons = []
    counts = Counter(named)  # linear: a header of thousands of columns is checked in milliseconds
    if duplicates := sorted(name for name, n in counts.items() if n > 1):
        reasons.append(f"Column(s) appearing twice: {_listed(duplicates)}.")
    if unknown := [name for name in counts if name not in CASE_COLUMNS and not ITEM_COLUMN_RE.match(name)]:
        reasons.append(f"Unknown column(s): {_listed(unknown)} (compare with the sample file).")
    missing = [name for name, (required, _) in CASE_COLUMNS.items() if required and name not in counts]
    groups = sorted({int(m.group(1)) for name in counts if (m := ITEM_COLUMN_RE.match(name))}) or [1]
    for n in groups:
        missing += [f"item_{n}_{f}" for f, (required, _) in ITEM_COLUMNS.items() if required]
    missing = [name for name in missing if name not in counts]
    if missing:
        reasons.append(f"Missing column(s): {_listed(missing)}.")
    return reasons


def _listed(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _cells(header: list[str], record: list[str]) -> tuple[dict[str, str], list[str]]:
    values, reasons = {}, []
    for position, cell in enumerate(record):
        name = header[position] if position < len(header) else ""
        if name:
            values[name] = cell.strip()
        elif cell.strip():
            reasons.append(f'Column {position + 1} has a value ("{cell.strip()[:40]}") but no column name.')
    return values, reasons


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


class _RowChecker:
    """Validates rows one by one with the catalogues read once, and remembers claim numbers across rows."""

    def __init__(self, groups: list[int]):
        self.groups = groups
        self.today = timezone.localdate()
        self.claims: dict[str, int] = {}  # claim number -> first line
        categories = list(TreatmentCategory.objects.only("id", "name", "parent_id"))
        self.categories = {c.name.casefold(): c for c in categories if c.parent_id is None}
        self.subcategories = {(c.parent_id, c.name.casefold()): c for c in categories if c.parent_id}
        self.category_names = ", ".join(sorted(c.name for c in self.categories.values()))

    def check(self, line: int, values: dict[str, str], reasons: list[str]) -> CaseRow:
        """Parse one row; problems are appended to `reasons` (the row is usable only if none were)."""
        get = values.get
        fields = {}

        def required(name: str) -> str:
            value = get(name, "")
            if not value:
                reasons.append(f"{name}: missing.")
            return value

        def text(name: str, model=Case, model_field: str | None = None, *, needed=False) -> str:
            value = required(name) if needed else get(name, "")
            limit = _max_length(model, model_field or name)
            if len(value) > limit:
                reasons.append(f"{name}: {len(value)} characters, at most {limit}.")
            return value

        def date(name: str, *, needed=True) -> dt.date | None:
            value = required(name) if needed else get(name, "")
            if not value:
                return None
            parsed, problem = _parse_date(value)
            if problem:
                reasons.append(f'{name}: "{value}" {problem}.')
            elif parsed > self.today:
                reasons.append(f"{name}: {parsed:%m/%d/%Y} is in the future.")
            return parsed

        if value := required("priority"):
            if value.lower() not in PRIORITIES:
                reasons.append(f'priority: "{value}" is not standard, expedited or formulary.')
            fields["priority"] = PRIORITIES.get(value.lower())
        fields["employee_name"] = text("employee_name", needed=True)
        fields["employee_birth_date"] = date("employee_birth_date", needed=False)
        sex = get("employee_sex", "")
        if sex.lower() not in SEXES:
            reasons.append(f'employee_sex: "{sex}" is not F, M or U.')
        fields["employee_sex"] = SEXES.get(sex.lower(), "U")
        fields["claim_number"] = claim = text("claim_number", needed=True)
        if claim:
            if claim.casefold() in self.claims:
                reasons.append(
                    f"claim_number: {claim} is already on line {self.claims[claim.casefold()]} "
                    "(one row per case: put its items in the item columns)."
                )
            else:
                self.claims[claim.casefold()] = line
        fields["adj_number"] = text("adj_number")
        fields["date_of_injury"] = injury = date("date_of_injury")
        fields["ur_decision_date"] = ur_date = date("ur_decision_date")
        fields["application_received_date"] = received = date("application_received_date")
        birth = fields["employee_birth_date"]
        if birth and injury and birth >= injury:
            reasons.append(f"employee_birth_date: {birth:%m/%d/%Y} is not before the date of injury.")
        if injury and ur_date and injury > ur_date:
            reasons.append(
                f"Dates out of order: date_of_injury {injury:%m/%d/%Y} is after ur_decision_date {ur_date:%m/%d/%Y}."
            )
        if ur_date and received and ur_date > received:
            reasons.append(
                f"Dates out of order: ur_decision_date {ur_date:%m/%d/%Y} is after "
                f"application_received_date {received:%m/%d/%Y}."
            )

        organizations = {}
        for column in ORGANIZATION_COLUMNS:
            name = text(column, Organization, "name", needed=CASE_COLUMNS[column][0])
            if name and not normalize_name(name):
                reasons.append(f'{column}: "{name}" has no letters or digits.')
            organizations[column] = name
        provider_name = text("requesting_provider", Provider, "name", needed=True)
        if provider_name and not provider_key(provider_name):
            reasons.append(f'requesting_provider: "{provider_name}" has no name in it.')
        npi = re.sub(r"[\s-]", "", get("requesting_provider_npi", ""))
        if npi and not re.fullmatch(r"[0-9]{10}", npi):
            hint = " (the spreadsheet turned it into a number: format the column as Text)" if "E+" in npi else ""
            reasons.append(f'requesting_provider_npi: "{npi}" is not ten digits{hint}.')

        row = CaseRow(line, fields, organizations, provider_name, npi)
        row.diagnoses = self._diagnoses(required("diagnoses"), reasons)
        row.items = self._items(values, reasons)
        return row

    def _diagnoses(self, value: str, reasons: list[str]) -> list[dict]:
        found, seen = [], set()
        limit = _max_length(Diagnosis, "description")
        for piece in filter(None, (p.strip() for p in re.split(r"[;\n]", value))):
            code, description = _DIAGNOSIS.match(piece).groups()
            code = code.upper().rstrip(".")
            if "." not in code and len(code) > 3:
                code = f"{code[:3]}.{code[3:]}"  # "M5126" is how spreadsheets often carry M51.26
            if not re.fullmatch(ICD10_RE, code):
                reasons.append(f'diagnoses: "{piece[:40]}" does not start with an ICD-10 code such as M51.26.')
                continue
            description = " ".join(description.split())
            if not description:
                reasons.append(f"diagnoses: {code} has no description (write the code, then its text).")
            elif len(description) > limit:
                reasons.append(f"diagnoses: the description of {code} is longer than {limit} characters.")
            if code in seen:
                reasons.append(f"diagnoses: {code} is listed twice.")
            seen.add(code)
            found.append({"icd10_code": code, "description": description})
        if value and not found and not reasons:
            reasons.append("diagnoses: no diagnosis found.")
        return found

    def _items(self, values: dict[str, str], reasons: list[str]) -> list[dict]:
        items = []
        for n in self.groups:
            cells = {name: values.get(f"item_{n}_{name}", "") for name in ITEM_COLUMNS}
            if not any(cells.values()):
                continue
            col = f"item_{n}_"
            for name, (required, _) in ITEM_COLUMNS.items():
                if required and not cells[name]:
                    reasons.append(f"{col}{name}: missing (item {n} has other values).")
            item = {"request_text": cells["request"]}
            category = subcategory = None
            if cells["category"]:
                category = self.categories.get(cells["category"].casefold())
                if category is None:
                    reasons.append(
                        f'{col}category: unknown treatment category "{cells["category"]}" '
                        f"(known: {self.category_names})."
                    )
            if cells["subcategory"] and category is not None:
                subcategory = self.subcategories.get((category.pk, cells["subcategory"].casefold()))
                if subcategory is None:
                    reasons.append(
                        f'{col}subcategory: "{cells["subcategory"]}" is not a subcategory of {category.name}.'
                    )
            item["category"], item["subcategory"] = category, subcategory
            side = cells["side"].lower()
            if side not in SIDES:
                reasons.append(f'{col}side: "{cells["side"]}" is not left, right or bilateral.')
            item["side"] = SIDES.get(side, "")
            for name in ("body_part", "spinal_level"):
                limit = _max_length(DisputedItem, name)
                if len(cells[name]) > limit:
                    reasons.append(f"{col}{name}: {len(cells[name])} characters, at most {limit}.")
                item[name] = cells[name]
            action = cells["ur_action"].lower()
            if action and action not in UR_ACTIONS:
                reasons.append(f'{col}ur_action: "{cells["ur_action"]}" is not denied, modified or delayed.')
            item["ur_action"] = UR_ACTIONS.get(action, "")
            item["authorized_part"] = cells["authorized_part"]
            if item["ur_action"] == DisputedItem.URAction.MODIFIED and not cells["authorized_part"]:
                reasons.append(f"{col}authorized_part: missing (UR modified item {n}: say what it authorised).")
            if item["ur_action"] and item["ur_action"] != DisputedItem.URAction.MODIFIED and cells["authorized_part"]:
                reasons.append(f"{col}authorized_part: only for a modified request (item {n} was {action}).")
            scope = cells["eligible_scope"].lower()
            if scope and scope not in DisputedItem.EligibleScope.values:
                reasons.append(f'{col}eligible_scope: "{cells["eligible_scope"]}" is not remaining or original.')
            elif (scope or cells["remaining_part"]) and item["ur_action"] != DisputedItem.URAction.MODIFIED:
                reasons.append(f"{col}eligible_scope, remaining_part: only for a modified request (item {n}).")
            item["eligible_scope"], item["remaining_part"] = modified_request_parts(
                ur_action=item["ur_action"],
                request_text=item["request_text"],
                authorized_part=item["authorized_part"],
                eligible_scope=scope,
                remaining_part=cells["remaining_part"],
            )
            if item["eligible_scope"] == DisputedItem.EligibleScope.REMAINING and not item["remaining_part"]:
                reasons.append(
                    f"{col}remaining_part: missing (it cannot be worked out from item {n}'s request and authorised "
                    f"part: write it, or set {col}eligible_scope to original)."
                )
            items.append(item)
        if not items:
            reasons.append("No disputed item: fill item_1_request, item_1_category and item_1_ur_action.")
        return items

    def already_imported(self, checked: list[tuple[CaseRow, list[str]]]) -> None:
        """Flag rows whose claim number and UR decision date are an existing case: the same dispute twice."""
        wanted = {}
        for row, reasons in checked:
            if row.fields["claim_number"] and row.fields["ur_decision_date"]:
                wanted[(row.fields["claim_number"], row.fields["ur_decision_date"])] = reasons
        if not wanted:
            return
        existing = Case.objects.filter(claim_number__in={claim for claim, _ in wanted}).values_list(
            "claim_number", "ur_decision_date", "case_number"
        )
        for claim, ur_date, case_number in existing:
            if (claim, ur_date) in wanted:
                wanted[(claim, ur_date)].append(
                    f"Already imported: claim {claim} with UR decision date {ur_date:%m/%d/%Y} is case {case_number}."
                )


def _parse_date(value: str) -> tuple[dt.date | None, str]:
    """(date, "") or (None, what is wrong); MM/DD/YYYY (or M/D/YYYY) and YYYY-MM-DD."""
    if match := _US_DATE.match(value):
        month, day, year = match.groups()
        if len(year) != 4:
            return None, "needs a four-digit year (MM/DD/YYYY)"
    elif match := _ISO_DATE.match(value):
        year, month, day = match.groups()
    else:
        return None, "is not a date (write MM/DD/YYYY or YYYY-MM-DD)"
    try:
        return dt.date(int(year), int(month), int(day)), ""
    except ValueError:
        return None, "is not a date on the calendar"
