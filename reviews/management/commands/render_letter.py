"""Render a case's letter without storing it: for checks and support."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reviews import letters


class Command(BaseCommand):
    requires_system_checks = []  # a support tool: it must work even while another part is broken
    help = (
        "Render the Final Determination of CASE_NUMBER as text, HTML or PDF without storing it. "
        "The organisation names come from IMR_ORGANIZATION_NAME and IMR_ORGANIZATION_SHORT_NAME."
    )

    def add_arguments(self, parser):
        parser.add_argument("case_number")
        parser.add_argument("--format", choices=["text", "html", "pdf"], default="text")
        parser.add_argument("--layout", choices=letters.LAYOUTS, help="default: the IMR_LETTER_LAYOUT setting")
        parser.add_argument("--public", action="store_true", help="the public copy, names and numbers removed")
        parser.add_argument("-o", "--output", help="write to this file instead of standard output")

    def handle(self, *args, case_number, format, layout, public, output, **options):
        try:
            case = letters.letter_queryset().get(case_number=case_number)
        except letters.Case.DoesNotExist:
            raise CommandError(f"No case {case_number}.") from None
        if case.reviewer is None:
            raise CommandError(f"{case_number} has no reviewer yet: there is no determination to render.")
        html_or_text = "html" if format == "pdf" else format
        rendered = letters.render_letter(case=case, fmt=html_or_text, layout=layout, public=public)
        data = letters.render_pdf(rendered) if format == "pdf" else rendered.encode()
        if output:
            Path(output).write_bytes(data)
            self.stderr.write(f"Wrote {len(data)} bytes to {output}.")
        elif format == "pdf" and sys.stdout.isatty():
            raise CommandError("A PDF is binary: give -o FILE, or redirect standard output.")
        else:
            self.stdout.flush()
            sys.stdout.buffer.write(data)
