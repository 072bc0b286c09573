"""Every page bench_pages times costs the same number of queries with 40 cases or with 400."""

import io
import random

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviews.management.commands.bench_pages import Command

# Queries per page, as the benchmark's personas open them (bench_pages prints the same column). Each
# starts with 1 session, 2 user, 3 the user's groups (role); the rest are the page's own.
BUDGETS = {}


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
    print(few)
    assert few == BUDGETS
