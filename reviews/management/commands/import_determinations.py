"""Import published determinations: import_determinations PATH... [--update] [--as USERNAME]."""

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from reviews.management.acting import acting_user
from reviews.services.published_import import DeterminationImporter, letter_text

SUFFIXES = (".txt", ".pdf")


def letter_files(paths: list[Path]) -> list[Path]:
    """The .txt and .pdf files named, and those under the folders named, in a stable order."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        else:
            found.append(path)
    return found


class Command(BaseCommand):
    help = (
        "Import published Final Determinations (.txt from `pdftotext -layout`, or .pdf) as issued historical "
        "cases. Each file is imported on its own; a file that cannot be read is reported and leaves nothing. "
        "Exits non-zero when any file failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, help="Files or folders (searched for .txt and .pdf).")
        parser.add_argument("--update", action="store_true", help="Replace a case imported before.")
        parser.add_argument("--as", dest="username", metavar="USERNAME", help="The coordinator importing.")

    def handle(self, *args, paths, update, username, **options):
        user = acting_user(username)
        try:
            importer = DeterminationImporter(by=user, update=update)
        except PermissionDenied as error:
            raise CommandError(f"{user.get_username()} is not a case coordinator: {error}") from error
        files = letter_files(paths)
        if not files:
            raise CommandError("No .txt or .pdf file found.")
        counts = {"imported": 0, "replaced": 0, "skipped": 0, "failed": 0}
        letters = ((path.name, lambda path=path: letter_text(path.name, path.read_bytes())) for path in files)
        for path, outcome in zip(files, importer.run_many(letters), strict=True):
            counts[outcome.status] += 1
            if outcome.status == "failed":
                self.stderr.write(f"{path}: {outcome.reason}")
            elif outcome.status == "skipped":
                self.stdout.write(f"{path}: {outcome.case_number} skipped, {outcome.reason}")
            else:
                self.stdout.write(f"{path}: {outcome.case_number} {outcome.status}")
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        if counts["failed"]:
            raise CommandError(f"{summary}.")
        self.stdout.write(self.style.SUCCESS(f"{summary}."))
