"""bench_pages: every page it times costs the same queries with 40 cases or 400; its report, --check and --keep."""

import io
import random
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviews.management.commands.bench_pages import CASE_PREFIX, Command
from reviews.models import Case

# Queries per page, as the benchmark's personas open them (bench_pages prints the same column). Each
# starts with 1 session, 2 user, 3 the user's groups (role); the rest are the page's own, listed where
# their own tests leave them unlisted.
# Each page that shows case data includes its one audit entry of the read (reviews.audit).
BUDGETS = {
    # holidays, open counts, closed counts, 5 capped lists, reviewer loads, letters and notices needing
    # attention, postal copies to mail, the audit entry naming the cases shown
    "dashboard": 15,
    # the bounded count, the page, the category and reviewer choices (+ holidays for a due filter), the audit entry
    "case list": 8,
    "case list, filtered": 9,
    "case list, search": 8,
    "case list, all, search": 8,
    "case list, page 500": 8,
    "case page": 12,  # with its letters and notices, and those ready and unserved
    "eligibility": 9,
    "assign": 15,
    # the bounded count, the page, the audit entry
    "QA list": 6,
    "QA page": 14,
    # the case, its letters and notices, their deliveries, the unserved ones, the audit entry
    "letters page": 8,
    "reviewer queue": 6,
    "workspace": 11,
    "preview": 16,
    "precedent search": 16,
    # the newest decisions' date and the most recent matches in them, a count by category, guideline and specialty
    "precedent chart": 9,
    "precedent search, one word": 16,
    # the workspace's panel: the case and its items, the item's category, then as the search page
    "precedent panel": 16,
    # a filter alone: the most recent matches (no date: the walk stops where they are), the category asked
    # for (the filter checks its choice)
    "precedent search, category": 16,
    "precedent chart, category": 9,
    # the bounded count, the page, the filters' catalogues (no total count: show_full_result_count)
    "admin case list": 7,
    "admin case list, search": 7,
    "admin case page": 24,
}


def budgets() -> dict[str, int]:
    """BUDGETS on this database: on PostgreSQL the dashboard's closed counts first read the table's
    statistics, to choose between an estimate and a count (CaseQuerySet.closed_counts)."""
    return {**BUDGETS, "dashboard": BUDGETS["dashboard"] + (connection.vendor == "postgresql")}


@pytest.fixture
def bench(db):
    call_command("seed_demo", stdout=io.StringIO())  # the personas, and a case at each stage
    return Command(stdout=io.StringIO(), stderr=io.StringIO())


def query_counts(command: Command) -> dict[str, int]:
    """Each page's queries on its second request (the first may fill caches)."""
    clients = command.clients()
    counts = {}
    for label, who, url in command.pages(random.Random(1)):
        clients[who].get(url, secure=True)
        with CaptureQueriesContext(connection) as queries:
            response = clients[who].get(url, secure=True)
        assert response.status_code == 200, f"{label}: {url} answered {response.status_code}"
        counts[label] = len(queries)
    return counts


def test_every_page_costs_the_same_queries_with_40_or_400_cases(bench):
    rng = random.Random(4610)
    bench.generate(40, rng, open_cases=1000)
    few = query_counts(bench)

    bench.generate(360, rng, open_cases=1000)
    many = query_counts(bench)

    assert many == few
    assert few == budgets()


def _figures(output: str) -> dict[str, tuple[int, float, float, float]]:
    """page -> (queries, median, p95, ratio to the floor), from the report's table."""
    figures = {}
    for line in output.splitlines()[2:]:
        if line.startswith("check:"):
            continue
        match = re.match(r"^(.+?)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(/\S*)$", line)
        assert match, line
        figures[match[1]] = (int(match[2]), float(match[4]), float(match[5]), float(match[6]))
    return figures


def test_bench_pages_times_every_page_beside_the_floor_and_keeps_nothing(db):
    before = Case.objects.count()
    out = io.StringIO()

    call_command("bench_pages", cases=30, runs=2, check=1000, stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("bench_pages: 30 cases (30 generated at ")
    assert "rolled back afterwards" in lines[0]
    figures = _figures(out.getvalue())
    assert set(figures) == set(BUDGETS)
    assert {page: queries for page, (queries, *_) in figures.items()} == budgets()
    assert all(0 < median <= p95 and ratio > 0 for _, median, p95, ratio in figures.values())
    assert lines[-1] == "check: every page within 1000x the floor"
    assert Case.objects.count() == before  # rolled back


def test_bench_pages_times_the_pages_where_production_requires_the_second_factor(db, settings):
    settings.IMR_MFA_ENROLMENT_OPTIONAL = False  # production mode: coordinators and admins must use TOTP
    out = io.StringIO()

    call_command("bench_pages", cases=5, runs=1, only=["dashboard", "workspace", "admin case page"], stdout=out)

    assert set(_figures(out.getvalue())) == {"dashboard", "workspace", "admin case page"}


def test_bench_pages_check_fails_naming_the_pages_over_the_ratio(db):
    with pytest.raises(CommandError, match=r"over 0.01x the floor: dashboard \(\d+\.\dx\)"):
        call_command("bench_pages", cases=5, runs=1, check=0.01, only=["dashboard"], stdout=io.StringIO())


def test_bench_pages_says_when_only_names_no_page(db):
    with pytest.raises(CommandError, match="No page's label contains 'dashbaord'"):
        call_command("bench_pages", cases=1, runs=1, only=["dashbaord"], stdout=io.StringIO())


def test_bench_pages_keep_commits_the_cases_and_a_second_run_only_tops_up(db):
    call_command("bench_pages", cases=8, runs=1, keep=True, only=["queue"], stdout=io.StringIO())
    assert Case.objects.filter(case_number__startswith=CASE_PREFIX).count() == 8
    out = io.StringIO()

    call_command("bench_pages", cases=12, runs=1, keep=True, only=["queue"], stdout=out)

    assert out.getvalue().startswith("bench_pages: 12 cases (4 generated at ")
    assert Case.objects.filter(case_number__startswith=CASE_PREFIX).count() == 12
