"""Bulk intake: the CSV importer, its service, the import_cases command and the upload page; all or nothing."""

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews import services
from reviews.importers import parse_cases_csv
from reviews.management.commands.import_cases import Command as ImportCasesCommand
from reviews.models import Case, CaseEvent, CaseNumberSequence, DisputedItem, Organization, Provider
from reviews.services import cases as case_services
from reviews.services.parties import provider_key
from reviews.views.imports import IMPORTED_SESSION_KEY
from tests.factories import OrganizationFactory, ProviderFactory, TreatmentCategoryFactory

URL = "/cases/import/"
SAMPLE = Path(settings.BASE_DIR) / "static" / "samples" / "cases-import-sample.csv"
ITEM_FIELDS = [
    "request",
    "category",
    "subcategory",
    "body_part",
    "side",
    "spinal_level",
    "ur_action",
    "authorized_part",
    "eligible_scope",
    "remaining_part",
]
HEADER = [
    "priority",
    "employee_name",
    "employee_birth_date",
    "employee_sex",
    "claim_number",
    "adj_number",
    "date_of_injury",
    "employer",
    "claims_administrator",
    "ur_organization",
    "employee_attorney",
    "requesting_provider",
    "requesting_provider_npi",
    "ur_decision_date",
    "application_received_date",
    "diagnoses",
] + [f"item_{n}_{f}" for n in (1, 2) for f in ITEM_FIELDS]


@pytest.fixture
def categories(db):
    rehab = TreatmentCategoryFactory(name="Rehabilitation")
    TreatmentCategoryFactory(name="Physical therapy", parent=rehab)
    injection = TreatmentCategoryFactory(name="Injection")
    TreatmentCategoryFactory(name="Facet joint injection", parent=injection)
    TreatmentCategoryFactory(name="Diagnostic testing")
    return {"rehab": rehab, "injection": injection}


def row(n=1, **changes):
    """A valid row: claim CLM-<n>, two items; override any column."""
    values = {
        "priority": "standard",
        "employee_name": f"Employee {n}",
        "employee_birth_date": "06/14/1980",
        "employee_sex": "F",
        "claim_number": f"CLM-{n:04d}",
        "adj_number": f"ADJ{1000000 + n}",
        "date_of_injury": "03/04/2024",
        "employer": "Golden State Grocers, Inc.",
        "claims_administrator": "Pacific Claims Management",
        "ur_organization": "",
        "employee_attorney": "",
        "requesting_provider": "Dr. Linda Marsh",
        "requesting_provider_npi": "1609876543",
        "ur_decision_date": "10/01/2026",
        "application_received_date": "2026-10-08",
        "diagnoses": "M51.26 Lumbar disc displacement; M54.2 Cervicalgia",
        "item_1_request": "Physical therapy 2x6 weeks lumbar spine",
        "item_1_category": "Rehabilitation",
        "item_1_subcategory": "Physical therapy",
        "item_1_body_part": "Lumbar spine",
        "item_1_ur_action": "modified",
        "item_1_authorized_part": "6 sessions",
        "item_2_request": "Facet joint injections L4-5, L5-S1",
        "item_2_category": "injection",
        "item_2_side": "bilateral",
        "item_2_spinal_level": "L4-5, L5-S1",
        "item_2_ur_action": "Denied",
    }
    values.update(changes)
    return values


def csv_bytes(*rows, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, restval="", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def import_rows(coordinator, *rows, **kwargs):
    return services.cases_import_csv(by=coordinator, file=csv_bytes(*rows, **kwargs), filename="cases.csv")


def reasons_of(result, line):
    """Every problem of one line, as "column: message" (just the message for the row as a whole)."""
    return " | ".join(
        f"{error.column}: {error.message}" if error.column else error.message
        for error in result.errors
        if error.line == line
    )


# The service: a good file


def test_a_good_file_creates_every_case_with_its_items_and_diagnoses_under_consecutive_numbers(coordinator, categories):
    result = import_rows(coordinator, row(1), row(2, priority="Expedited"), row(3))
    assert result.ok, result.errors
    year = timezone.localdate().year % 100
    assert [c.case_number for c in result.cases] == [f"CM{year:02d}-000000{n}" for n in (1, 2, 3)]
    assert Case.objects.count() == 3
    case = Case.objects.get(claim_number="CLM-0002")
    assert case.priority == Case.Priority.EXPEDITED
    assert case.status == Case.Status.RECEIVED
    assert (case.employee_birth_date, case.date_of_injury) == (dt.date(1980, 6, 14), dt.date(2024, 3, 4))
    assert (case.ur_decision_date, case.application_received_date) == (dt.date(2026, 10, 1), dt.date(2026, 10, 8))
    assert [(d.position, d.icd10_code, d.description) for d in case.diagnoses.all()] == [
        (1, "M51.26", "Lumbar disc displacement"),
        (2, "M54.2", "Cervicalgia"),
    ]
    first, second = case.items.all()
    assert (first.position, first.category, first.subcategory.name) == (1, categories["rehab"], "Physical therapy")
    assert (first.ur_action, first.authorized_part) == (DisputedItem.URAction.MODIFIED, "6 sessions")
    assert (second.category, second.side, second.spinal_level) == (categories["injection"], "bilateral", "L4-5, L5-S1")
    assert second.ur_action == DisputedItem.URAction.DENIED


def test_each_imported_case_records_the_file_and_line_it_came_from(coordinator, categories):
    import_rows(coordinator, row(1), row(2))
    case = Case.objects.get(claim_number="CLM-0002")
    notes = list(case.events.values_list("note", flat=True))
    assert "imported from cases.csv, line 3" in notes
    assert set(case.events.values_list("actor", flat=True)) == {coordinator.pk}


def test_organisations_are_matched_by_normalised_name_and_created_once_when_missing(coordinator, categories):
    grocer = OrganizationFactory(kind=Organization.Kind.EMPLOYER, name="Golden State Grocers, Inc.")
    result = import_rows(
        coordinator,
        row(1, employer="GOLDEN STATE GROCERS INC"),
        row(2, employer="Bay Area Transit", employee_attorney="Reyes & Partners"),
        row(3, employer="bay area transit"),
    )
    assert result.ok, result.errors
    transit = Organization.objects.get(kind=Organization.Kind.EMPLOYER, normalized_name="bay area transit")
    assert transit.name == "Bay Area Transit"
    assert [c.employer for c in result.cases] == [grocer, transit, transit]
    assert Organization.objects.filter(kind=Organization.Kind.EMPLOYER).count() == 2
    assert Organization.objects.filter(kind=Organization.Kind.CLAIMS_ADMINISTRATOR).count() == 1
    assert result.cases[1].employee_attorney.kind == Organization.Kind.LAW_FIRM
    assert result.cases[0].employee_attorney is None and result.cases[0].ur_organization is None


def test_the_same_name_of_another_kind_is_another_organisation(coordinator, categories):
    OrganizationFactory(kind=Organization.Kind.CLAIMS_ADMINISTRATOR, name="Acme")
    result = import_rows(coordinator, row(1, employer="Acme", claims_administrator="Acme"))
    assert result.ok
    assert Organization.objects.filter(normalized_name="acme").count() == 2


def test_the_requesting_provider_is_matched_by_npi_then_by_name_and_otherwise_created(coordinator, categories):
    marsh = ProviderFactory(name="Linda Marsh, MD", npi="1609876543")
    cho = ProviderFactory(name="Dr. Daniel Cho", npi="")
    result = import_rows(
        coordinator,
        row(1, requesting_provider="Dr. Linda Marsh", requesting_provider_npi="1609876543"),
        row(2, requesting_provider="Daniel Cho, MD", requesting_provider_npi=""),
        row(3, requesting_provider="Dr. Rebecca Stone", requesting_provider_npi="1234567893"),
        row(4, requesting_provider="Rebecca Stone", requesting_provider_npi=""),
        row(5, requesting_provider="Dr. Linda Marsh", requesting_provider_npi=""),
    )
    assert result.ok, result.errors
    stone = Provider.objects.get(npi="1234567893")
    assert stone.name == "Dr. Rebecca Stone"
    assert [c.requesting_provider for c in result.cases] == [marsh, cho, stone, stone, marsh]
    assert Provider.objects.count() == 3


def test_an_npi_on_file_under_another_name_is_reported_not_guessed(coordinator, categories):
    ProviderFactory(name="Linda Marsh, MD", npi="1609876543")
    result = import_rows(coordinator, row(1, requesting_provider="Lena Marsh", requesting_provider_npi="1609876543"))
    assert [(e.column, e.message) for e in result.errors] == [
        ("requesting_provider_npi", "NPI 1609876543 belongs to Linda Marsh, MD.")
    ]
    assert not Case.objects.exists()


def test_a_namesake_with_another_npi_is_another_physician(coordinator, categories):
    ProviderFactory(name="Dr. John Smith", npi="1111111111")
    result = import_rows(
        coordinator, row(1, requesting_provider="Dr. John Smith", requesting_provider_npi="2222222222")
    )
    assert result.ok
    assert Provider.objects.filter(name="Dr. John Smith").count() == 2


def test_physician_names_are_matched_without_titles_or_degrees():
    assert provider_key("Dr. Linda Marsh") == provider_key("Linda Marsh, MD") == provider_key("LINDA MARSH")
    assert provider_key("Marsh, Linda") != provider_key("Linda Marsh")  # a name, not a degree, after the comma


@pytest.mark.parametrize(
    ("written", "expected"),
    [("10/01/2026", dt.date(2026, 10, 1)), ("1/2/2026", dt.date(2026, 1, 2)), ("2026-01-02", dt.date(2026, 1, 2))],
)
def test_dates_are_read_as_mm_dd_yyyy_or_iso(coordinator, categories, written, expected):
    result = import_rows(coordinator, row(1, ur_decision_date=written, application_received_date="10/08/2026"))
    assert result.ok, result.errors
    assert result.cases[0].ur_decision_date == expected


def test_column_names_are_matched_ignoring_case_spaces_and_order_and_optional_columns_may_be_left_out(
    coordinator, categories
):
    required = [
        "priority",
        "employee_name",
        "claim_number",
        "date_of_injury",
        "employer",
        "claims_administrator",
        "requesting_provider",
        "ur_decision_date",
        "application_received_date",
        "diagnoses",
        "item_1_request",
        "item_1_category",
        "item_1_ur_action",
    ]
    values = row(1, item_1_ur_action="denied")
    spreadsheet = [name.replace("_", " ").title() for name in reversed(required)]
    data = csv_bytes(
        {label: values[name] for label, name in zip(spreadsheet, reversed(required), strict=True)}, header=spreadsheet
    )
    result = services.cases_import_csv(by=coordinator, file=b"\xef\xbb\xbf" + data)  # Excel's byte-order mark
    assert result.ok, result.errors
    case = result.cases[0]
    assert (case.employee_sex, case.employee_birth_date, case.adj_number) == ("U", None, "")
    assert case.items.get().request_text == "Physical therapy 2x6 weeks lumbar spine"


def test_blank_rows_and_unused_item_groups_are_skipped_and_line_numbers_still_match_the_spreadsheet(
    coordinator, categories
):
    one_item = {f"item_2_{f}": "" for f in ITEM_FIELDS}
    data = csv_bytes(
        row(1, **one_item),
        {},
        row(2, item_1_request="Line one\nline two", item_1_remaining_part="6 sessions", **one_item),
        row(3, priority="?"),
    )
    result = services.cases_import_csv(by=coordinator, file=data)
    # header 1, row 2, blank 3, multi-line cell row 4, bad row 5
    assert [e.line for e in result.errors] == [5]
    ok = services.cases_import_csv(by=coordinator, file=csv_bytes(row(1, **one_item), {}, row(2, **one_item)))
    assert ok.ok
    assert [c.items.count() for c in ok.cases] == [1, 1]


def test_diagnoses_may_be_separated_by_line_breaks_and_codes_written_without_the_dot(coordinator, categories):
    result = import_rows(
        coordinator, row(1, diagnoses="m5126 - Lumbar disc displacement\nG89.4: Chronic pain syndrome")
    )
    assert result.ok, result.errors
    assert list(result.cases[0].diagnoses.values_list("icd10_code", "description")) == [
        ("M51.26", "Lumbar disc displacement"),
        ("G89.4", "Chronic pain syndrome"),
    ]


def test_the_sample_file_imports_cleanly_into_the_demo_data(db):
    call_command("seed_demo", stdout=io.StringIO())
    coordinator = get_user_model().objects.get(username="coordinator")  # the demo coordinator
    before = Organization.objects.count()
    result = services.cases_import_csv(by=coordinator, file=SAMPLE.read_bytes(), filename=SAMPLE.name)
    assert result.ok, result.errors
    assert [c.claim_number for c in result.cases] == ["GSG-2025-004417", "SCIF-05547819", "PCM-2024-118842"]
    assert [c.items.count() for c in result.cases] == [2, 3, 2]
    assert [c.priority for c in result.cases] == ["standard", "expedited", "formulary"]
    # Every party of the sample but the new physician is already in the demo data, written differently.
    assert Organization.objects.count() == before
    assert result.cases[0].employer.name == "Golden State Grocers, Inc."
    assert Provider.objects.filter(name="Rebecca Stone, MD").count() == 1


# The service: all or nothing


def test_one_bad_row_among_good_ones_imports_nothing_and_names_its_line_and_reason(coordinator, categories):
    organizations, sequences = Organization.objects.count(), CaseNumberSequence.objects.count()
    result = import_rows(coordinator, row(1, employer="A New Employer"), row(2, item_1_category="Physio"), row(3))
    assert not result.ok
    assert result.cases == []
    assert [(e.line, e.claim_number) for e in result.errors] == [(3, "CLM-0002")]
    assert 'item_1_category: Unknown treatment category "Physio"' in reasons_of(result, 3)
    assert "Diagnostic testing, Injection, Rehabilitation" in reasons_of(result, 3)  # what would have been right
    assert Case.objects.count() == 0
    assert Organization.objects.count() == organizations
    assert CaseNumberSequence.objects.count() == sequences


def test_every_bad_row_is_reported_with_every_reason(coordinator, categories):
    result = import_rows(
        coordinator,
        row(1, priority="urgent", diagnoses="M5 back pain"),
        row(2),
        row(3, employee_name="", date_of_injury="12/01/2026"),
        row(4, item_2_ur_action="approved"),
    )
    assert sorted({e.line for e in result.errors}) == [2, 4, 5]
    assert "priority: Select a valid choice. urgent is not one of the available choices." in reasons_of(result, 2)
    assert "diagnoses: Diagnosis 1 (M5), its code: Enter an ICD-10 code such as M51.26" in reasons_of(result, 2)
    assert "employee_name: This field is required." in reasons_of(result, 4)
    assert "date_of_injury: The date of injury must be on or before the UR decision date." in reasons_of(result, 4)
    assert "item_2_ur_action: Select a valid choice. approved is not one" in reasons_of(result, 5)
    assert Case.objects.count() == 0


# The rules themselves are the intake page's (test_intake_paths runs each on both paths); these are
# what the importer reads from the cells, and what only a file can get wrong.
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"priority": "urgent"}, "priority: Select a valid choice. urgent is not one of the available choices."),
        ({"employee_sex": "X"}, "employee_sex: Select a valid choice. X is not one of the available choices."),
        ({"claim_number": ""}, "claim_number: This field is required."),
        ({"diagnoses": ""}, "diagnoses: Add at least one diagnosis."),
        ({"diagnoses": "M54.2 Cervicalgia; 54.2 Neck pain"}, "diagnoses: Diagnosis 2 (54.2), its code: Enter an"),
        ({"diagnoses": "M54.2 Cervicalgia; (back pain)"}, "diagnoses: Diagnosis 2 (no code), its code: This field is"),
        ({"item_1_category": "Physio"}, 'item_1_category: Unknown treatment category "Physio" (known: Diagnostic'),
        ({"item_1_subcategory": "Massage"}, 'item_1_subcategory: Unknown treatment subcategory "Massage".'),
        ({"item_1_subcategory": "Facet joint injection"}, "item_1_subcategory: Pick a subcategory of the chosen"),
        ({"item_2_side": "up"}, "item_2_side: Select a valid choice. up is not one of the available choices."),
        ({"item_2_request": ""}, "item_2_request: This field is required."),
        ({"item_1_eligible_scope": "all"}, "item_1_eligible_scope: Select a valid choice. all is not one"),
        (
            {"requesting_provider_npi": "1.60988E+09"},
            "the spreadsheet turned it into a number (format the column as Text)",
        ),
        (
            {f"item_{n}_{f}": "" for n in (1, 2) for f in ITEM_FIELDS},
            "item_1_request: Add at least one disputed item.",
        ),
    ],
)
def test_each_rule_refuses_the_row_with_its_reason(coordinator, categories, changes, reason):
    result = import_rows(coordinator, row(1), row(2, **changes))
    assert [e.line for e in result.errors] == [3]
    assert reason in reasons_of(result, 3)
    assert Case.objects.count() == 0


def test_a_claim_number_twice_in_the_file_is_refused_on_its_second_line(coordinator, categories):
    result = import_rows(coordinator, row(1), row(2), row(3, claim_number="clm-0001"))
    assert [e.line for e in result.errors] == [4]
    assert "claim_number: clm-0001 is already on line 2 (one row per case" in reasons_of(result, 4)


def test_cells_are_read_as_spreadsheet_users_write_them(coordinator, categories):
    changes = {"priority": "EXPEDITED", "employee_sex": "female", "item_2_side": "L", "item_2_ur_action": "deny"}
    result = import_rows(coordinator, row(1, item_1_eligible_scope="Original", **changes))
    assert result.ok, result.errors
    case = result.cases[0]
    assert (case.priority, case.employee_sex) == ("expedited", "F")
    first, second = case.items.all()
    assert (first.eligible_scope, second.side, second.ur_action) == ("original", "left", "denied")


def test_a_file_imported_twice_is_refused_on_every_line_as_open_disputes(coordinator, categories):
    first = import_rows(coordinator, row(1), row(2))
    again = import_rows(coordinator, row(1), row(2))
    assert [(e.line, e.column) for e in again.errors] == [(2, "confirm_duplicate"), (3, "confirm_duplicate")]
    assert again.errors[0].message.startswith(
        f"{first.cases[0].case_number} is open for the same claim, UR decision date and request."
    )
    assert Case.objects.count() == 2


def test_a_refusal_by_the_intake_service_becomes_a_row_error_and_rolls_every_case_back(
    coordinator, categories, monkeypatch
):
    real_case_create = case_services.case_create

    def refusing_case_create(**kwargs):
        if kwargs["claim_number"] == "CLM-0002":
            raise ValidationError({"employee_name": ["Refused by the model."]})
        return real_case_create(**kwargs)

    monkeypatch.setattr(case_services, "case_create", refusing_case_create)
    result = import_rows(coordinator, row(1, employer="Brand New Employer"), row(2), row(3))
    assert [(e.line, e.column, e.message) for e in result.errors] == [(3, "employee_name", "Refused by the model.")]
    assert Case.objects.count() == 0
    assert CaseEvent.objects.count() == 0
    assert not Organization.objects.filter(normalized_name="brand new employer").exists()
    assert not CaseNumberSequence.objects.filter(last_value__gt=0).exists()


def test_only_coordinators_may_import(reviewer, categories):
    with pytest.raises(PermissionDenied):
        services.cases_import_csv(by=reviewer.user, file=csv_bytes(row(1)))
    assert Case.objects.count() == 0


def test_importing_reads_the_catalogues_once_and_each_row_costs_the_same(coordinator, categories):
    def queries_for(n):
        data = csv_bytes(*[row(100 * n + i) for i in range(n)])  # claims of their own: no duplicate disputes
        with CaptureQueriesContext(connection) as ctx:
            result = services.cases_import_csv(by=coordinator, file=data)
        assert result.ok
        catalogue = [q for q in ctx.captured_queries if 'FROM "reviews_guideline"' in q["sql"]]
        return len(ctx.captured_queries), len(catalogue)

    queries_for(1)  # the user's groups are read once and cached on the user
    (two, catalogue_two), (three, _), (ten, catalogue_ten) = queries_for(2), queries_for(3), queries_for(10)
    assert catalogue_two == catalogue_ten == 1
    assert ten - two == 8 * (three - two)


# The service: the file as a whole


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"\n\n", "The file is empty"),
        (csv_bytes(), "The file has column names but no cases."),
        (b"priority,employee_name\nstandard,Ana Lopez\n", "Missing column(s): claim_number, date_of_injury"),
        (b"employee_name,priority,claim_number", "item_1_request, item_1_category, item_1_ur_action"),
        ("Café,Crème\n".encode("latin-1"), "The file is not UTF-8 text (byte 0xE9 on line 1)"),
        (b"PK\x03\x04\x14\x00\x06\x00", "This is an Excel workbook, not a CSV file"),
        (b"priority;employee_name;claim_number\n", "separated by semicolons or tabs"),
        (b"priority\n" + b"x" * 200_000, "The file is not readable CSV: field larger than field limit"),
    ],
)
def test_a_file_that_is_not_a_cases_csv_gets_a_clear_message(coordinator, categories, data, message):
    result = services.cases_import_csv(by=coordinator, file=data)
    assert not result.ok
    assert message in " ".join(error.message for error in result.errors)
    assert Case.objects.count() == 0


def test_unknown_and_repeated_columns_are_named_on_line_one(coordinator, categories):
    header = [*HEADER, "item_1_categroy", "Employee name", "notes"]
    result = import_rows(coordinator, row(1), header=header)
    assert {e.line for e in result.errors} == {1}
    reasons = reasons_of(result, 1)
    assert "Unknown column(s): item_1_categroy, notes" in reasons
    assert "Column(s) appearing twice: employee_name." in reasons


def test_an_item_group_needs_its_required_columns(coordinator, categories):
    header = [*HEADER, "item_3_request"]
    result = import_rows(coordinator, row(1), header=header)
    assert "Missing column(s): item_3_category, item_3_ur_action." in reasons_of(result, 1)


def test_a_value_under_no_column_name_is_refused(coordinator, categories):
    data = csv_bytes(row(1)).rstrip(b"\r\n") + b",stray\r\n"
    result = services.cases_import_csv(by=coordinator, file=data)
    assert f'column {len(HEADER) + 1}: "stray" is under no column name.' in reasons_of(result, 2)


def test_parsing_a_text_string_works_as_bytes_do(categories):
    rows, errors = parse_cases_csv(csv_bytes(row(1)).decode())
    assert errors == [] and rows[0].claim_number == "CLM-0001"


# The command


def write(tmp_path, *rows) -> Path:
    path = tmp_path / "cases.csv"
    path.write_bytes(csv_bytes(*rows))
    return path


def test_the_command_prints_the_new_case_numbers(coordinator, categories, tmp_path):
    out = io.StringIO()
    call_command("import_cases", str(write(tmp_path, row(1), row(2))), "--as", "alice", stdout=out)
    numbers = list(Case.objects.order_by("case_number").values_list("case_number", flat=True))
    assert len(numbers) == 2
    for number in numbers:
        assert number in out.getvalue()
    assert "Imported 2 cases from cases.csv." in out.getvalue()
    assert set(CaseEvent.objects.values_list("actor__username", flat=True)) == {"alice"}


def test_the_command_acts_as_the_first_active_superuser_by_default(admin_user, categories, tmp_path):
    call_command("import_cases", str(write(tmp_path, row(1))), stdout=io.StringIO())
    assert Case.objects.get().events.first().actor == admin_user


def test_the_command_lists_every_bad_line_and_fails_with_nothing_imported(coordinator, categories, tmp_path):
    err = io.StringIO()
    path = write(tmp_path, row(1, priority="urgent"), row(2), row(3, item_1_category="Physio"))
    with pytest.raises(CommandError, match="Nothing imported: 2 bad lines."):
        call_command("import_cases", str(path), "--as", "alice", stdout=io.StringIO(), stderr=err)
    assert "cases.csv: line 2 (claim CLM-0001): priority: Select a valid choice." in err.getvalue()
    assert 'cases.csv: line 4 (claim CLM-0003): item_1_category: Unknown treatment category "Physio"' in err.getvalue()
    assert Case.objects.count() == 0


def test_the_command_exits_non_zero_on_a_bad_file(coordinator, categories, tmp_path):
    path = write(tmp_path, row(1, priority="urgent"))
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        ImportCasesCommand(stdout=io.StringIO(), stderr=err).run_from_argv(
            ["manage.py", "import_cases", str(path), "--as", "alice"]
        )
    assert exit_info.value.code == 1
    assert "CommandError: Nothing imported: 1 bad line." in err.getvalue()


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("none", [], "No active superuser to act as: pass --as USERNAME"),
        ("coordinator", ["--as", "nobody"], "No active user named 'nobody'."),
        ("reviewer", ["--as", "bob"], "bob is not a case coordinator"),
        ("coordinator", ["--as", "alice", "--missing"], "Cannot read"),
    ],
)
def test_the_command_refuses_clearly_without_a_coordinator_or_a_file(
    request, categories, tmp_path, setup, args, message
):
    if setup != "none":
        request.getfixturevalue(setup)
    path = tmp_path / "absent.csv" if "--missing" in args else write(tmp_path, row(1))
    args = [a for a in args if a != "--missing"]
    with pytest.raises(CommandError, match=message):
        call_command("import_cases", str(path), *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert Case.objects.count() == 0


# The page


def upload(data: bytes, name="cases.csv"):
    return {"file": SimpleUploadedFile(name, data, content_type="text/csv")}


def test_the_page_offers_the_form_the_sample_and_the_column_guide(client, coordinator):
    client.force_login(coordinator)
    response = client.get(URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'enctype="multipart/form-data"' in content
    assert "/static/samples/cases-import-sample.csv" in content
    assert "item_1_authorized_part" in content


def test_importing_on_the_page_redirects_to_a_message_and_a_table_of_the_new_cases(client, coordinator, categories):
    client.force_login(coordinator)
    response = client.post(URL, upload(csv_bytes(row(1), row(2))))
    assert response.status_code == 302 and response["Location"] == URL
    assert Case.objects.count() == 2
    page = client.get(URL)
    content = page.content.decode()
    assert "Imported 2 cases from cases.csv." in content
    numbers = [c.case_number for c in page.context["imported"]]
    assert numbers == list(Case.objects.order_by("case_number").values_list("case_number", flat=True))
    for number in numbers:
        assert f'href="/cases/{number}/"' in content
    assert [c.item_count for c in page.context["imported"]] == [2, 2]
    assert IMPORTED_SESSION_KEY not in client.session  # shown once
    assert not client.get(URL).context["imported"]


def test_a_bad_file_on_the_page_shows_every_bad_line_in_place_and_saves_nothing(client, coordinator, categories):
    client.force_login(coordinator)
    response = client.post(URL, upload(csv_bytes(row(1), row(2, item_1_category="Physio"), row(3, priority="x"))))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Nothing was imported" in content
    assert [(e.line, e.column) for e in response.context["result"].errors] == [(3, "item_1_category"), (4, "priority")]
    assert "Unknown treatment category &quot;Physio&quot;" in content
    assert "2 lines to fix" in content
    assert Case.objects.count() == 0


def test_a_file_that_is_not_csv_is_explained_on_the_page(client, coordinator, categories):
    client.force_login(coordinator)
    response = client.post(URL, upload(b"PK\x03\x04rest-of-a-workbook", name="cases.xlsx"))
    assert response.status_code == 200
    assert "This is an Excel workbook" in response.content.decode()
    assert Case.objects.count() == 0


def test_posting_without_a_file_or_with_a_huge_one_is_a_form_error(client, coordinator, monkeypatch):
    client.force_login(coordinator)
    response = client.post(URL, {})
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == ["This field is required."]
    monkeypatch.setattr("reviews.forms.imports.MAX_IMPORT_BYTES", 10)
    response = client.post(URL, upload(b"priority,employee_name\n"))
    assert "a CSV of cases is at most" in response.context["form"].errors["file"][0]


def test_anonymous_users_are_sent_to_the_login_page(client, db):
    for response in (client.get(URL), client.post(URL, upload(b"x"))):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_reviewers_may_not_import(client, reviewer, categories):
    client.force_login(reviewer.user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, upload(csv_bytes(row(1)))).status_code == 403
    assert Case.objects.count() == 0


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_not_allowed(client, coordinator, method):
    client.force_login(coordinator)
    assert getattr(client, method)(URL).status_code == 405


def test_a_nul_character_in_a_field_is_reported_with_its_line_and_nothing_is_imported(client, coordinator, categories):
    data = csv_bytes(row(1), row(2, employee_name="Maria\x00Lopez"))
    result = services.cases_import_csv(by=coordinator, file=data, filename="cases.csv")
    assert not result.ok and Case.objects.count() == 0
    assert "NUL characters (byte 0x00, on line 3)" in reasons_of(result, None)

    client.force_login(coordinator)
    response = client.post("/cases/import/", {"file": SimpleUploadedFile("cases.csv", data, "text/csv")})
    assert response.status_code == 200  # the page with the reason, not a server error
    assert "NUL characters" in response.content.decode()
    assert Case.objects.count() == 0
