"""render_letter and bench_letters: the support command and the benchmark."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reviews.models import Case


@pytest.fixture
def example(db):
    call_command("seed_demo", stdout=StringIO())
    return Case.objects.get(claim_number="DEMO-2007-0221")


def test_render_letter_writes_the_text_with_the_organisation_from_the_environment(example, tmp_path, settings):
    settings.IMR_ORGANIZATION_NAME = "MAXIMUS Federal Services"
    settings.IMR_ORGANIZATION_SHORT_NAME = "MAXIMUS"
    out = tmp_path / "letter.txt"
    letters_before = list(example.letters.values_list("pk", "status"))
    call_command(
        "render_letter", example.case_number, "--layout", "2014", "--public", "-o", str(out), stderr=StringIO()
    )
    text = out.read_text()
    assert text.startswith(f"Case Number:          {example.case_number}\n")
    assert "MAXIMUS guideline: Decision based on MTUS" in text
    assert "Linda Marsh" not in text
    assert list(example.letters.values_list("pk", "status")) == letters_before  # rendered, not stored


def test_render_letter_writes_a_pdf_and_html(example, tmp_path):
    call_command(
        "render_letter", example.case_number, "--format", "pdf", "-o", str(tmp_path / "l.pdf"), stderr=StringIO()
    )
    assert (tmp_path / "l.pdf").read_bytes().startswith(b"%PDF")
    call_command(
        "render_letter", example.case_number, "--format", "html", "-o", str(tmp_path / "l.html"), stderr=StringIO()
    )
    assert "Case Number:" in (tmp_path / "l.html").read_text()


def test_render_letter_refuses_an_unknown_case_or_one_without_a_reviewer(example):
    with pytest.raises(CommandError, match="No case CM99-0000001"):
        call_command("render_letter", "CM99-0000001")
    unassigned = Case.objects.filter(reviewer=None).first()
    with pytest.raises(CommandError, match="has no reviewer yet"):
        call_command("render_letter", unassigned.case_number)


@pytest.mark.django_db(transaction=True)  # the two-process run forks: the data must be committed
def test_bench_letters_prints_rates_for_each_format_and_the_pdf_ratio():
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("bench_letters", "--count", "2", stdout=out)
    printed = out.getvalue()
    for fmt in ("text", "html", "pdf"):
        assert f"\n{fmt} " in printed
    assert "ratio" in printed and "WeasyPrint alone" in printed
