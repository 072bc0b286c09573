"""Bulk intake: read a CSV of cases (one row per case, its items in numbered columns) into the intake page's fields.

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
  claim_number*               once per file
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
  remand_of                   the earlier case this one re-reviews, e.g. CM25-0001234
  confirm_duplicate           yes: create it anyway when an open case holds the same dispute

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
them, too) or YYYY-MM-DD; the year always has four digits.

One set of rules
----------------
Each row is checked by the intake page's own forms (forms.intake.CaseIntake) and taken in by
the same service, so a row is refused for exactly what the page refuses, with the page's
message, reported as (line, column, message). This module reads the file, turns each row's
cells into the page's fields (a category by its name, "L" for left, the diagnoses cell into
diagnosis rows) and the forms' errors back into columns. It refuses itself only what a cell
cannot say in the page's terms (a category name not in the catalogue) and what only a file
can get wrong (its encoding, its columns, a claim number on two lines).

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
", MD"-style degree; whatever is not found is created at import.
"""

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field

from .models import Case, DisputedItem

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
    "remand_of": (False, "the earlier case this one re-reviews, e.g. CM25-0001234"),
    "confirm_duplicate": (False, "yes: create it anyway when an open case holds the same dispute"),
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

# Intake page field -> the column it comes from (the same name unless listed).
FIELD_COLUMNS = {
    "employer_name": "employer",
    "claims_administrator_name": "claims_administrator",
    "ur_organization_name": "ur_organization",
    "employee_attorney_name": "employee_attorney",
    "provider_name": "requesting_provider",
    "provider_npi": "requesting_provider_npi",
}
ITEM_FIELD_COLUMNS = {"request_text": "request"}

# Cell spellings a spreadsheet user writes -> the page's values; anything else goes to the form as written.
PRIORITIES = {v: v for v in Case.Priority.values}
SEXES = {"f": "F", "female": "F", "m": "M", "male": "M", "u": "U", "unknown": "U", "not stated": "U", "": "U"}
SIDES = {v: v for v in DisputedItem.Side.values} | {"l": "left", "r": "right", "b": "bilateral"}
UR_ACTIONS = {v: v for v in DisputedItem.URAction.values} | {"deny": "denied", "modify": "modified", "delay": "delayed"}
YES = {"yes", "y", "true", "1", "x"}
NO = {"no", "n", "false", "0", ""}

_DIAGNOSIS = re.compile(r"^([A-Za-z0-9.]+)\s*[-–:,]?\s*(.*)$", re.DOTALL)
_XLSX_MAGIC, _XLS_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


@dataclass(frozen=True)
class RowError:
    """One problem: its line (header = line 1; None for the file as a whole), its column ("" for the
    row or the header as a whole), what is wrong, and the row's claim number to find it by."""

    line: int | None
    column: str
    message: str
    claim_number: str = ""


@dataclass
class CaseRow:
    """One row of the file: its cells by column name, and what its cells already got wrong."""

    line: int
    values: dict[str, str]
    problems: dict[str, str] = field(default_factory=dict)  # column -> message

    @property
    def claim_number(self) -> str:
        return self.values.get("claim_number", "")


def column_guide() -> list[tuple[str, bool, str]]:
    """(column, required, format) for the upload page, items shown as their first group."""
    return [(name, required, hint) for name, (required, hint) in CASE_COLUMNS.items()] + [
        (f"item_1_{name}", required, hint) for name, (required, hint) in ITEM_COLUMNS.items()
    ]


def parse_cases_csv(data: bytes | str) -> tuple[list[CaseRow], list[RowError]]:
    """Read the file: its rows, or what makes it no case file at all (encoding, columns, no rows).

    Nothing is read from the database. Line numbers are the spreadsheet's row numbers (the
    header is line 1; a cell with line breaks is one row). A claim number on two lines is
    refused on the second; each row's other checks are CaseIntake's (see intake_data).
    """
    text, problem = _decode(data)
    if problem:
        return [], [problem]
    if "\x00" in text:  # PostgreSQL stores no NUL character in text; a spreadsheet never writes one
        lines = sorted({text.count("\n", 0, at) + 1 for at in (m.start() for m in re.finditer("\x00", text))})
        where = ", ".join(map(str, lines[:10])) + (" ..." if len(lines) > 10 else "")
        return [], [
            RowError(
                None,
                "",
                f"The file contains NUL characters (byte 0x00, on line {where}): it is not plain CSV text. "
                "Remove them, or save the file again from the spreadsheet as CSV UTF-8.",
            )
        ]
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        return [], [RowError(None, "", f"The file is not readable CSV: {error}.")]
    if not records or not any(cell.strip() for cell in records[0]):
        return [], [RowError(None, "", "The file is empty: the first line must hold the column names.")]
    header = [_column_name(cell) for cell in records[0]]
    if reasons := _header_problems(header, raw=records[0]):
        return [], [RowError(1, "", reason) for reason in reasons]
    rows = []
    claims: dict[str, int] = {}  # claim number -> its first line
    for line, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        row = CaseRow(line, {})
        for position, cell in enumerate(record):
            if name := (header[position] if position < len(header) else ""):
                row.values[name] = cell.strip()
            elif cell.strip():
                row.problems[f"column {position + 1}"] = f'"{cell.strip()[:40]}" is under no column name.'
        if claim := row.claim_number.casefold():
            if claim in claims:
                row.problems["claim_number"] = (
                    f"{row.claim_number} is already on line {claims[claim]} (one row per case: put its items in "
                    "the item columns)."
                )
            claims.setdefault(claim, line)
        rows.append(row)
    if not rows:
        return [], [RowError(None, "", "The file has column names but no cases.")]
    return rows, []


def item_groups(row: CaseRow) -> list[int]:
    """The item group numbers the row fills, in order; each becomes one item form."""
    numbers = sorted({int(m.group(1)) for name in row.values if (m := ITEM_COLUMN_RE.match(name))})
    return [n for n in numbers if any(row.values.get(f"item_{n}_{name}") for name in ITEM_COLUMNS)]


def intake_data(row: CaseRow, catalogue: dict) -> dict[str, str]:
    """The row as the intake page would post it (forms.intake.CaseIntake's fields).

    Cells that cannot be said in the page's terms are noted in row.problems (and go to the form
    as written, so that nothing else about them is reported twice).
    """
    get = row.values.get
    data = {name: get(name, "") for name in CASE_COLUMNS if name not in ("diagnoses", "confirm_duplicate")}
    for page_field, column in FIELD_COLUMNS.items():
        data[page_field] = data.pop(column)
    data["priority"] = PRIORITIES.get(data["priority"].lower(), data["priority"])
    data["employee_sex"] = SEXES.get(data["employee_sex"].lower(), data["employee_sex"])
    npi = re.sub(r"[\s-]", "", data["provider_npi"])
    if "E+" in npi.upper():
        row.problems["requesting_provider_npi"] = (
            f'"{npi}" is not ten digits: the spreadsheet turned it into a number (format the column as Text).'
        )
    data["provider_npi"] = npi
    confirm = get("confirm_duplicate", "").lower()
    if confirm not in YES | NO:
        row.problems["confirm_duplicate"] = 'Write "yes" to create the case anyway, or leave it blank.'
    data["confirm_duplicate"] = "on" if confirm in YES else ""

    diagnoses = [p.strip() for p in re.split(r"[;\n]", get("diagnoses", "")) if p.strip()]
    data |= _management("diagnoses", len(diagnoses))
    for n, piece in enumerate(diagnoses):
        match = _DIAGNOSIS.match(piece)
        code, description = match.groups() if match else ("", piece)  # "(back pain)": no code to read
        data[f"diagnoses-{n}-icd10_code"] = code.rstrip(".")
        data[f"diagnoses-{n}-description"] = " ".join(description.split())

    groups = item_groups(row)
    data |= _management("items", len(groups))
    top = {c.name.casefold(): c for c in catalogue["category"].values()}
    subs = catalogue["subcategory"].values()
    for index, n in enumerate(groups):
        cells = {name: get(f"item_{n}_{name}", "") for name in ITEM_COLUMNS}
        prefix, column = f"items-{index}-", f"item_{n}_"
        category = top.get(cells["category"].casefold())
        if cells["category"] and category is None:
            known = ", ".join(sorted(c.name for c in top.values()))
            row.problems[f"{column}category"] = f'Unknown treatment category "{cells["category"]}" (known: {known}).'
        subcategory = None
        if cells["subcategory"]:
            named = [s for s in subs if s.name.casefold() == cells["subcategory"].casefold()]
            # Under the category given, else any of that name: the form then says it is of another category.
            mine = [s for s in named if category and s.parent_id == category.pk]
            subcategory = (mine or named or [None])[0]
            if subcategory is None:
                row.problems[f"{column}subcategory"] = f'Unknown treatment subcategory "{cells["subcategory"]}".'
        data[f"{prefix}request_text"] = cells["request"]
        data[f"{prefix}category"] = category.pk if category else cells["category"]
        data[f"{prefix}subcategory"] = subcategory.pk if subcategory else cells["subcategory"]
        data[f"{prefix}side"] = SIDES.get(cells["side"].lower(), cells["side"])
        data[f"{prefix}ur_action"] = UR_ACTIONS.get(cells["ur_action"].lower(), cells["ur_action"])
        data[f"{prefix}eligible_scope"] = cells["eligible_scope"].lower()
        for name in ("body_part", "spinal_level", "authorized_part", "remaining_part"):
            data[f"{prefix}{name}"] = cells[name]
    return data


def intake_errors(row: CaseRow, intake) -> list[RowError]:
    """The row's own problems and every error on its intake forms (a refused CaseIntake), by column.

    A column the row refused itself reports that, not what the form then made of the cell.
    """
    found = list(row.problems.items())

    def add(column: str, messages) -> None:
        if column not in row.problems:
            found.extend((column, message) for message in messages)

    for name, messages in intake.form.errors.items():
        add("" if name == "__all__" else FIELD_COLUMNS.get(name, name), messages)
    for n, form in enumerate(intake.diagnoses.forms, start=1):
        code = form.data.get(f"{form.prefix}-icd10_code", "")
        for name, messages in form.errors.items():
            what = "code" if name == "icd10_code" else "text"
            add("diagnoses", [f"Diagnosis {n} ({code or 'no code'}), its {what}: {message}" for message in messages])
    add("diagnoses", intake.diagnoses.non_form_errors())
    for form, n in zip(intake.items.forms, item_groups(row), strict=False):
        for name, messages in form.errors.items():
            add(f"item_{n}_{ITEM_FIELD_COLUMNS.get(name, name)}" if name != "__all__" else f"item_{n}", messages)
    add("item_1_request", intake.items.non_form_errors())
    return [RowError(row.line, column, message, row.claim_number) for column, message in found]


def _management(prefix: str, total: int) -> dict[str, str]:
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": "0"}


def _decode(data: bytes | str) -> tuple[str, RowError | None]:
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), None
    if data.startswith((_XLSX_MAGIC, _XLS_MAGIC)):
        return "", RowError(None, "", "This is an Excel workbook, not a CSV file: use Save As > CSV UTF-8.")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return "", RowError(
            None,
            "",
            f"The file is not UTF-8 text (byte 0x{data[error.start]:02X} on line {line}): "
            "save it from the spreadsheet as CSV UTF-8.",
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
