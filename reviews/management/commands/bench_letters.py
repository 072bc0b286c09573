"""Benchmark: letters per second for text, HTML and PDF, with one and two processes; PDF overhead over WeasyPrint."""

import multiprocessing
import statistics
import time

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from reviews import letters


def _render(args):
    case_number, fmt = args
    case = letters.letter_queryset().get(case_number=case_number)
    html_or_text = "text" if fmt == "text" else "html"
    out = letters.render_letter(case=case, fmt=html_or_text)
    if fmt == "pdf":
        letters.render_pdf(out)


def _rate(case_number, fmt, count, processes):
    """Letters per second rendering `count` letters, each loaded from the database, in `processes` processes."""
    jobs = [(case_number, fmt)] * count
    start = time.perf_counter()
    if processes == 1:
        for job in jobs:
            _render(job)
    else:
        connections.close_all()  # each forked process opens its own
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            pool.map(_render, jobs, chunksize=1)
    return count / (time.perf_counter() - start)


class Command(BaseCommand):
    requires_system_checks = []
    help = "Print letters per second (text, HTML, PDF; 1 and 2 processes) and our PDF time over WeasyPrint's alone."

    def add_arguments(self, parser):
        parser.add_argument("case_number", nargs="?", help="default: the first case with a reviewer and a summary")
        parser.add_argument("--count", type=int, default=20, help="letters per measurement (default 20)")

    def handle(self, *args, case_number, count, **options):
        from weasyprint import HTML

        cases = letters.letter_queryset().exclude(reviewer=None).exclude(clinical_case_summary="")
        case = cases.filter(case_number=case_number).first() if case_number else cases.first()
        if case is None:
            raise CommandError("No case with a determination to render: run seed_demo first.")
        _render((case.case_number, "pdf"))  # warm up fonts and templates before measuring
        self.stdout.write(
            f"Case {case.case_number}, {count} letters per measurement, {multiprocessing.cpu_count()} CPUs"
        )
        self.stdout.write(f"{'format':<6} {'1 process':>12} {'2 processes':>12} {'speed-up':>9}")
        for fmt in ("text", "html", "pdf"):
            one = _rate(case.case_number, fmt, count, 1)
            two = _rate(case.case_number, fmt, count, 2)
            self.stdout.write(f"{fmt:<6} {one:>10.1f}/s {two:>10.1f}/s {two / one:>8.2f}x")

        # Our PDF path (static-only fetcher) against WeasyPrint alone on the same HTML and stylesheet.
        html = letters.render_letter(case=case, fmt="html")
        css = finders.find("letters/letter.css")
        plain = html.replace(f'href="{settings.STATIC_URL}letters/letter.css"', f'href="file://{css}"')
        ours, alone = [], []
        for _ in range(max(count // 2, 5)):
            start = time.perf_counter()
            letters.render_pdf(html)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            HTML(string=plain).write_pdf()
            alone.append(time.perf_counter() - start)
        ratio = statistics.median(ours) / statistics.median(alone)
        self.stdout.write(
            f"PDF median: ours {statistics.median(ours) * 1000:.0f} ms, WeasyPrint alone "
            f"{statistics.median(alone) * 1000:.0f} ms, ratio {ratio:.2f} (target at most 1.2)"
        )
