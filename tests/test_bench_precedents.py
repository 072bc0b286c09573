"""bench_precedents prints the search's figures beside a lookup, and keeps its items only when asked."""

import io
import re

from django.core.management import call_command

from reviews.management.commands.bench_precedents import CASE_PREFIX, PROBES
from reviews.models import Case


def test_bench_precedents_prints_every_probe_and_the_ratio_and_keeps_nothing(db):
    out = io.StringIO()

    call_command("bench_precedents", items=30, runs=2, stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("bench_precedents: 30 decided items of issued determinations generated in ")
    assert "rolled back afterwards" in lines[0]
    for label, words, _ in PROBES:
        assert any(line.startswith(label) and line.endswith(words) for line in lines), label
    assert re.fullmatch(r"ratio search / lookup \(medians\): [0-9.]+", lines[-1])
    assert not Case.objects.filter(case_number__startswith=CASE_PREFIX).exists()


def test_bench_precedents_keep_commits_the_items_and_a_second_run_reuses_them(db):
    call_command("bench_precedents", items=20, runs=1, keep=True, stdout=io.StringIO())
    cases = Case.objects.filter(case_number__startswith=CASE_PREFIX).count()
    assert cases > 0
    out = io.StringIO()

    call_command("bench_precedents", items=20, runs=1, keep=True, stdout=out)

    assert "20 decided items of issued determinations kept from an earlier run" in out.getvalue()
    assert Case.objects.filter(case_number__startswith=CASE_PREFIX).count() == cases
