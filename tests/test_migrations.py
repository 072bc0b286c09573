"""Data migrations: what they fill in for the rows written before them."""

import datetime as dt
from unittest import mock

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from reviews.models import Case, CaseEvent
from tests.factories import CaseFactory, ReviewerFactory

S = Case.Status


def migrate(*targets):
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_0021_stores_each_case_s_last_submission_from_its_events():
    reviewer = ReviewerFactory()
    waiting = CaseFactory(status=S.SUBMITTED, reviewer=reviewer)
    never = CaseFactory(status=S.IN_REVIEW, reviewer=reviewer)
    moves = [
        (S.IN_REVIEW, S.SUBMITTED),
        (S.SUBMITTED, S.RETURNED),
        (S.IN_REVIEW, S.SUBMITTED),  # the last submission
        (S.SUBMITTED, S.SUBMITTED),  # a document added while it waits: no submission
    ]
    times = [dt.datetime(2026, 11, day, 9, tzinfo=dt.UTC) for day in (2, 3, 4, 5)]
    for (from_status, to_status), at in zip(moves, times, strict=True):
        with mock.patch("django.utils.timezone.now", return_value=at):
            CaseEvent.objects.create(case=waiting, from_status=from_status, to_status=to_status)

    migrate(("reviews", "0020_trim_coordinator_permissions"))  # the column goes, the rows stay
    migrate()  # 0021 adds it again and fills it; the current schema for the tests that follow

    assert Case.objects.get(pk=waiting.pk).submitted_at == times[2]
    assert Case.objects.get(pk=never.pk).submitted_at is None
