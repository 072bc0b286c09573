"""reviews.bulk writes what bulk_create writes (COPY on PostgreSQL), and the history of what it wrote."""

import json

import pytest
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from reviews import bulk
from reviews.audit import record_bulk_created
from reviews.models import Case, Citation, DisputedItem

from .factories import CaseFactory, GuidelineFactory, TreatmentCategoryFactory


def _unsaved_copies(case: Case, number: str) -> tuple[Case, DisputedItem]:
    copy = Case(**{f.attname: getattr(case, f.attname) for f in Case._meta.concrete_fields if not f.primary_key})
    copy.case_number = number
    return copy, DisputedItem(position=1, request_text='Norco 10/325 mg #60, "as needed"', rationale="a\\b\tc")


def _columns(obj) -> dict:
    return {k: v for k, v in model_to_dict(type(obj).objects.get(pk=obj.pk)).items() if k not in ("id", "case")}


@pytest.mark.django_db
def test_insert_writes_the_rows_bulk_create_writes_and_sets_their_keys():
    case = CaseFactory()
    guideline = GuidelineFactory()
    by_insert, item_a = _unsaved_copies(case, "CM99-0000001")
    by_bulk_create, item_b = _unsaved_copies(case, "CM99-0000002")
    bulk.insert([by_insert])
    Case.objects.bulk_create([by_bulk_create])
    category = TreatmentCategoryFactory()
    item_a.case, item_b.case = by_insert, by_bulk_create
    item_a.category = item_b.category = category
    bulk.insert([item_a])
    DisputedItem.objects.bulk_create([item_b])
    bulk.insert([Citation(item=item_a, role=Citation.Role.REVIEW, position=1, guideline=guideline, pages="98-99")])

    assert by_insert.pk and not by_insert._state.adding
    assert _columns(by_insert) | {"case_number": ""} == _columns(by_bulk_create) | {"case_number": ""}
    assert _columns(item_a) == _columns(item_b)
    assert item_a.citations.get().pages == "98-99"


@pytest.mark.django_db
def test_a_row_the_database_refuses_is_an_integrity_error_and_nothing_of_the_insert_is_kept():
    case = CaseFactory()
    fresh, _ = _unsaved_copies(case, "CM99-0000001")
    clash, _ = _unsaved_copies(case, case.case_number)
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert([fresh, clash])
    assert not Case.objects.filter(case_number=fresh.case_number).exists()


@pytest.mark.django_db
def test_an_unsaved_relation_is_refused_before_anything_is_written():
    case = CaseFactory()
    unsaved, item = _unsaved_copies(case, "CM99-0000001")
    item.case = unsaved
    with pytest.raises(ValueError, match="unsaved related object"):
        bulk.insert([item])


@pytest.mark.django_db
def test_the_history_of_bulk_created_rows_is_what_auditlog_writes_for_a_creation(coordinator):
    case = CaseFactory()
    record_bulk_created([case], by=coordinator)
    entry = LogEntry.objects.get(object_id=case.pk, content_type__model="case", actor=coordinator)
    own = [f.name for f in Case._meta.concrete_fields]
    expected = json.loads(json.dumps(model_instance_diff(None, case, fields_to_check=own)))
    assert entry.changes == expected and entry.action == LogEntry.Action.CREATE and entry.actor == coordinator
