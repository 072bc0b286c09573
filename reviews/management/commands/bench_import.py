"""Benchmark the importer of published determinations: letters per second over N synthetic letters."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from reviews import letters, published
from reviews.management.acting import acting_user
from reviews.management.commands.seed_demo import PUBLISHED_EXAMPLES
from reviews.models import Case
from reviews.services.published_import import DeterminationImporter


class _RollBack(Exception):
    pass


class Command(BaseCommand):
    help = (
        "Render N synthetic published letters with the letter renderer (from the demo's published examples, "
        "each under a new case number), import them, and print letters per second. Everything is rolled back "
        "unless --keep."
    )

    def add_arguments(self, parser):
        parser.add_argument("--letters", type=int, default=1000)
        parser.add_argument("--as", dest="username", metavar="USERNAME", help="The coordinator importing.")
        parser.add_argument("--keep", action="store_true", help="Keep the imported cases.")

    def handle(self, *args, letters: int, username: str | None, keep: bool, **options):
        count = letters
        user = acting_user(username)
        sources = self.synthetic_letters(user, count)
        importer = DeterminationImporter(by=user)
        try:
            with transaction.atomic():
                started = time.perf_counter()
                outcomes = list(
                    importer.run_many((f"bench-{n}.txt", lambda text=text: text) for n, text in enumerate(sources))
                )
                elapsed = time.perf_counter() - started
                items = sum(len(published.parse(text).items) for text in sources[:100]) / min(count, 100)
                if not keep:
                    raise _RollBack
        except _RollBack:
            pass
        failed = [o for o in outcomes if o.status != "imported"]
        if failed:
            raise CommandError(f"{len(failed)} letters not imported, e.g. {failed[0]}")
        self.stdout.write(
            f"{count} letters ({items:.1f} items each) imported in {elapsed:.1f} s: "
            f"{count / elapsed:.0f} letters/s, {1000 * elapsed / count:.2f} ms a letter "
            f"({'kept' if keep else 'rolled back'})."
        )

    def synthetic_letters(self, user, count: int) -> list[str]:
        """Public copies of the examples rendered by our own renderer, each under a case number of its own."""
        templates = []
        try:
            with transaction.atomic():
                importer = DeterminationImporter(by=user)
                for n, path in enumerate(sorted(PUBLISHED_EXAMPLES.glob("*.txt"))):
                    text = path.read_text()
                    text = text.replace(published.parse(text).header["case_number"], f"CM19-99999{n:02d}")
                    outcome = importer.run(text=text, source=path.name)
                    if outcome.status != "imported":
                        raise CommandError(f"{path.name}: {outcome.status} {outcome.reason}")
                    case = letters.letter_queryset().get(case_number=outcome.case_number)
                    text = letters.render_letter(case=case, fmt="text", layout="2016", public=True)
                    templates.append((case.case_number, text))
                raise _RollBack
        except _RollBack:
            pass
        first = Case.objects.filter(case_number__startswith="CM19-").count()
        return [
            text.replace(number, f"CM19-{first + n + 1:07d}")
            for n, (number, text) in ((n, templates[n % len(templates)]) for n in range(count))
        ]
