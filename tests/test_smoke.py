"""The factories build valid rows."""

from tests.factories import CaseFactory, DisputedItemFactory


def test_a_case_from_the_factory_passes_full_clean(db):
    item = DisputedItemFactory(case=CaseFactory())
    item.case.full_clean()
    item.full_clean()
