"""Bulk intake from the command line: import_cases FILE.csv [--as USERNAME]; all rows or none."""

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from reviews import services
from reviews.management.acting import acting_user


class Command(BaseCommand):
    help = (
        "Create one case per row of a CSV file (columns: see reviews/importers.py or "
        "static/samples/cases-import-sample.csv). If any row is bad, nothing is imported and every bad line is listed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8, comma-separated, column names first).")
        parser.add_argument(
            "--as",
            dest="username",
            metavar="USERNAME",
            help="The coordinator the cases are taken in by (default: the first active superuser).",
        )

    def handle(self, *args, file: Path, username: str | None, **options):
        user = acting_user(username)
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror or error}.") from error
        try:
            result = services.cases_import_csv(by=user, file=data, filename=file.name)
        except PermissionDenied as error:
            raise CommandError(f"{user.get_username()} is not a case coordinator: {error}") from error
        if not result.ok:
            for error in result.errors:
                where = f"line {error.line}" if error.line else "file"
                claim = f" (claim {error.claim_number})" if error.claim_number else ""
                column = f"{error.column}: " if error.column else ""
                self.stderr.write(f"{file.name}: {where}{claim}: {column}{error.message}")
            bad = result.bad_lines
            raise CommandError(
                f"Nothing imported: {bad} bad line{'s' if bad != 1 else ''}." if bad else "Nothing imported."
            )
        for case in result.cases:
            self.stdout.write(f"{case.case_number}  claim {case.claim_number}  {case.employee_name}")
        count = len(result.cases)
        self.stdout.write(self.style.SUCCESS(f"Imported {count} case{'s' if count != 1 else ''} from {file.name}."))
