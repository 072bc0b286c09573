"""The statutory clocks on the business-day calendar: weekends, holidays and year ends.

Every expected date was worked out by hand from a printed calendar (`python -m calendar 2026 12`).
Tests that read the Holiday table start from an empty one and add the days they are about, so
they do not depend on the years the data migration loaded (the year the test database was made).
"""

import datetime as dt

import pytest

from reviews import deadlines
from reviews.models import Case, Holiday

D = dt.date
STANDARD, EXPEDITED, FORMULARY = Case.Priority.STANDARD, Case.Priority.EXPEDITED, Case.Priority.FORMULARY
NO_HOLIDAYS: frozenset[dt.date] = frozenset()


@pytest.fixture
def calendar(db):
    """An empty holiday calendar; call it with (date, name) pairs to add days."""
    Holiday.objects.all().delete()

    def add(*days):
        Holiday.objects.bulk_create(Holiday(date=day, name=name) for day, name in days)

    return add


@pytest.fixture
def year_end_2026(calendar):
    # Friday 12/25/2026 and Friday 01/01/2027.
    calendar((D(2026, 12, 25), "Christmas Day"), (D(2027, 1, 1), "New Year's Day"))


@pytest.fixture
def presidents_day_2030(calendar):
    calendar((D(2030, 2, 18), "Presidents' Day"))  # a Monday


# add_business_days


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (D(2030, 3, 1), 1, D(2030, 3, 4)),  # Fri + 1 -> Mon
        (D(2030, 2, 28), 5, D(2030, 3, 7)),  # Thu + 5 -> Thu, over one weekend
        (D(2030, 3, 2), 1, D(2030, 3, 4)),  # from a Saturday: Monday is the first business day
        (D(2030, 3, 3), 5, D(2030, 3, 8)),  # from a Sunday: Mon..Fri
        (D(2030, 3, 4), 10, D(2030, 3, 18)),  # two weekends
        (D(2030, 3, 6), 0, D(2030, 3, 6)),
    ],
)
def test_business_days_skip_weekends(start, days, due):
    assert deadlines.add_business_days(start, days, NO_HOLIDAYS) == due


def test_business_days_skip_a_holiday_in_the_calendar(presidents_day_2030):
    # Fri 02/15/2030 + 1: Sat, Sun, Mon 02/18 holiday, Tue 02/19.
    assert deadlines.add_business_days(D(2030, 2, 15), 1) == D(2030, 2, 19)


def test_business_days_count_a_monday_that_is_not_in_the_calendar(calendar):
    assert deadlines.add_business_days(D(2030, 2, 15), 1) == D(2030, 2, 18)


def test_an_explicit_holiday_set_replaces_the_calendar(presidents_day_2030):
    assert deadlines.add_business_days(D(2030, 2, 15), 1, holidays=NO_HOLIDAYS) == D(2030, 2, 18)
    assert deadlines.add_business_days(D(2030, 2, 14), 1, holidays={D(2030, 2, 15)}) == D(2030, 2, 18)


def test_business_days_cross_the_year_end_over_christmas_and_new_year(year_end_2026):
    # Wed 12/23/2026 + 6: Thu 24 (1), Fri 25 holiday, Mon 28 (2), Tue 29 (3), Wed 30 (4),
    # Thu 31 (5), Fri 01/01 holiday, weekend, Mon 01/04/2027 (6).
    assert deadlines.add_business_days(D(2026, 12, 23), 6) == D(2027, 1, 4)


def test_business_days_cross_the_year_end_with_an_explicit_holiday():
    # Wed 12/30/2026 + 3: Thu 31 (1), Fri 01/01 holiday, weekend, Mon 01/04 (2), Tue 01/05 (3).
    assert deadlines.add_business_days(D(2026, 12, 30), 3, {D(2027, 1, 1)}) == D(2027, 1, 5)


def test_business_days_run_past_consecutive_holidays(calendar):
    # Thanksgiving Thu 11/26/2026 and the day after, Fri 11/27: Wed 11/25 + 1 -> Mon 11/30.
    calendar((D(2026, 11, 26), "Thanksgiving Day"), (D(2026, 11, 27), "Day After Thanksgiving"))
    assert deadlines.add_business_days(D(2026, 11, 25), 1) == D(2026, 11, 30)


# add_calendar_days


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (D(2030, 3, 1), 10, D(2030, 3, 11)),  # lands on Monday: unchanged
        (D(2030, 3, 1), 7, D(2030, 3, 8)),  # lands on Friday: unchanged
        (D(2030, 3, 1), 8, D(2030, 3, 11)),  # lands on Saturday -> Monday
        (D(2030, 3, 1), 9, D(2030, 3, 11)),  # lands on Sunday -> Monday
        (D(2030, 1, 31), 28, D(2030, 2, 28)),  # across a month end
    ],
)
def test_calendar_days_ending_on_a_weekend_move_to_the_next_business_day(start, days, due):
    assert deadlines.add_calendar_days(start, days, NO_HOLIDAYS) == due


def test_calendar_days_ending_on_a_holiday_move_to_the_next_business_day(presidents_day_2030):
    # Fri 02/08/2030 + 10 = Mon 02/18, a holiday -> Tue 02/19.
    assert deadlines.add_calendar_days(D(2030, 2, 8), 10) == D(2030, 2, 19)


def test_calendar_days_run_through_holidays_that_are_not_the_last_day(presidents_day_2030):
    # Fri 02/15/2030 + 5 = Wed 02/20: the holiday on the way does not count.
    assert deadlines.add_calendar_days(D(2030, 2, 15), 5) == D(2030, 2, 20)


def test_calendar_days_ending_on_new_years_day_move_past_the_weekend_into_the_new_year(year_end_2026):
    # Wed 12/02/2026 + 30 = Fri 01/01/2027, a holiday; Sat, Sun -> Mon 01/04/2027.
    assert deadlines.add_calendar_days(D(2026, 12, 2), 30) == D(2027, 1, 4)


# The clocks of DESIGN.md section 1


def test_the_application_is_due_30_days_after_the_ur_decision(calendar):
    # Tue 01/15/2030 + 30 = Thu 02/14/2030.
    assert deadlines.application_due(D(2030, 1, 15)) == D(2030, 2, 14)


def test_an_application_due_on_a_holiday_is_due_the_next_business_day(presidents_day_2030):
    # Sat 01/19/2030 + 30 = Mon 02/18/2030, Presidents' Day -> Tue 02/19.
    assert deadlines.application_due(D(2030, 1, 19)) == D(2030, 2, 19)


def test_an_application_due_on_christmas_is_due_the_next_monday(year_end_2026):
    # Wed 11/25/2026 + 30 = Fri 12/25/2026 -> Mon 12/28/2026.
    assert deadlines.application_due(D(2026, 11, 25)) == D(2026, 12, 28)


def test_eligibility_answers_are_due_in_five_business_days(presidents_day_2030):
    # Wed 02/13/2030: Thu 14 (1), Fri 15 (2), Mon 18 holiday, Tue 19 (3), Wed 20 (4), Thu 21 (5).
    assert deadlines.eligibility_answers_due(D(2030, 2, 13)) == D(2030, 2, 21)


def test_eligibility_answers_are_due_across_the_year_end(year_end_2026):
    # Mon 12/28/2026: Tue 29 (1), Wed 30 (2), Thu 31 (3), Fri 01/01 holiday, Mon 01/04 (4), Tue 01/05 (5).
    assert deadlines.eligibility_answers_due(D(2026, 12, 28)) == D(2027, 1, 5)


@pytest.mark.parametrize(
    ("found_eligible", "due"),
    [
        (D(2030, 2, 13), D(2030, 2, 14)),  # Wed -> Thu
        (D(2030, 2, 15), D(2030, 2, 19)),  # Fri -> Tue, over the weekend and Presidents' Day
        (D(2030, 2, 16), D(2030, 2, 19)),  # Sat -> Tue
    ],
)
def test_the_notice_of_assignment_is_due_one_business_day_after_eligibility(presidents_day_2030, found_eligible, due):
    assert deadlines.assignment_notice_due(found_eligible) == due


def test_the_notice_of_assignment_after_new_years_eve_is_due_the_next_monday(year_end_2026):
    assert deadlines.assignment_notice_due(D(2026, 12, 31)) == D(2027, 1, 4)


@pytest.mark.parametrize(
    ("priority", "electronic", "due"),
    [
        (STANDARD, False, D(2030, 3, 18)),  # Fri 03/01 + 15 = Sat 03/16 -> Mon 03/18
        (STANDARD, True, D(2030, 3, 13)),  # Fri 03/01 + 12 = Wed 03/13
        (FORMULARY, False, D(2030, 3, 18)),  # formulary records follow the standard clock
        (EXPEDITED, False, D(2030, 3, 2)),  # 24 hours, even into a Saturday
        (EXPEDITED, True, D(2030, 3, 2)),
    ],
)
def test_records_are_due_15_days_after_the_notice_12_if_electronic_and_24_hours_if_expedited(
    calendar, priority, electronic, due
):
    assert deadlines.records_due(D(2030, 3, 1), priority, electronic=electronic) == due


def test_records_due_on_a_holiday_are_due_the_next_business_day(presidents_day_2030):
    # Wed 02/06/2030 + 12 = Mon 02/18, Presidents' Day -> Tue 02/19.
    assert deadlines.records_due(D(2030, 2, 6), STANDARD, electronic=True) == D(2030, 2, 19)


def test_records_due_across_the_year_end(year_end_2026):
    # Thu 12/17/2026 + 15 = Fri 01/01/2027, a holiday -> Mon 01/04/2027.
    assert deadlines.records_due(D(2026, 12, 17), STANDARD) == D(2027, 1, 4)
    # Sun 12/20/2026 + 12 = Fri 01/01/2027 -> Mon 01/04/2027.
    assert deadlines.records_due(D(2026, 12, 20), STANDARD, electronic=True) == D(2027, 1, 4)


def test_the_standard_decision_is_due_30_calendar_days_after_complete_records_even_on_a_sunday(calendar):
    # The review organisation's own clock does not move: Fri 03/01/2030 + 30 = Sun 03/31/2030.
    assert deadlines.decision_due(D(2030, 3, 1), STANDARD) == D(2030, 3, 31)


def test_the_standard_decision_is_due_across_the_year_end(year_end_2026):
    # Wed 12/02/2026 + 30 = Fri 01/01/2027, and it stays there.
    assert deadlines.decision_due(D(2026, 12, 2), STANDARD) == D(2027, 1, 1)


def test_the_expedited_decision_is_due_3_calendar_days_after_complete_records(year_end_2026):
    assert deadlines.decision_due(D(2030, 2, 27), EXPEDITED) == D(2030, 3, 2)  # Wed -> Sat
    assert deadlines.decision_due(D(2026, 12, 29), EXPEDITED) == D(2027, 1, 1)  # onto New Year's Day


def test_the_formulary_decision_is_due_5_working_days_after_complete_records(presidents_day_2030):
    # Wed 02/13/2030: Thu 14, Fri 15, (Mon 18 holiday), Tue 19, Wed 20, Thu 21.
    assert deadlines.decision_due(D(2030, 2, 13), FORMULARY) == D(2030, 2, 21)


def test_the_formulary_decision_is_due_across_the_year_end(year_end_2026):
    # Wed 12/23/2026: Thu 24 (1), Mon 28 (2), Tue 29 (3), Wed 30 (4), Thu 31 (5).
    assert deadlines.decision_due(D(2026, 12, 23), FORMULARY) == D(2026, 12, 31)


def test_an_overturned_item_must_be_authorized_within_5_working_days(year_end_2026):
    # Mon 12/28/2026: Tue 29 (1), Wed 30 (2), Thu 31 (3), Fri 01/01 holiday, Mon 01/04 (4), Tue 01/05 (5).
    assert deadlines.authorization_due(D(2026, 12, 28)) == D(2027, 1, 5)


def test_authorization_due_skips_the_weekend(calendar):
    # Thu 03/07/2030: Fri 8, Mon 11, Tue 12, Wed 13, Thu 14.
    assert deadlines.authorization_due(D(2030, 3, 7)) == D(2030, 3, 14)


def test_the_appeal_is_due_30_days_after_service(calendar):
    # Mon 03/04/2030 + 30 = Wed 04/03/2030.
    assert deadlines.appeal_due(D(2030, 3, 4)) == D(2030, 4, 3)


def test_an_appeal_due_on_new_years_day_is_due_the_next_business_day(year_end_2026):
    # Wed 12/02/2026 + 30 = Fri 01/01/2027 -> Mon 01/04/2027.
    assert deadlines.appeal_due(D(2026, 12, 2)) == D(2027, 1, 4)


def test_the_clocks_read_the_calendar_in_one_query(year_end_2026, django_assert_num_queries):
    with django_assert_num_queries(1):  # SELECT the Holiday dates of the window
        deadlines.add_business_days(D(2026, 12, 23), 6)


# Loading the California holidays


def test_the_data_migration_loads_this_years_and_next_years_holidays(db):
    import importlib

    from django.apps import apps

    # Run the migration's step itself: a transactional test run earlier on this worker empties the table.
    migration = importlib.import_module("reviews.migrations.0002_groups_and_holidays")
    Holiday.objects.all().delete()
    migration.load_holidays(apps, None)
    this_year = dt.date.today().year
    loaded = set(Holiday.objects.values_list("date", flat=True))
    assert D(this_year, 12, 25) in loaded
    assert D(this_year + 1, 1, 1) in loaded
    assert D(this_year + 1, 12, 25) in loaded


def test_loading_california_holidays_adds_the_year(calendar):
    added = deadlines.load_california_holidays([2030])
    loaded = dict(Holiday.objects.values_list("date", "name"))
    assert added == len(loaded) == len(deadlines.california_holidays([2030]))
    assert loaded[D(2030, 1, 1)] == "New Year's Day"
    assert loaded[D(2030, 3, 31)] == "Cesar Chavez Day"
    assert loaded[D(2030, 11, 28)] == "Thanksgiving Day"
    assert loaded[D(2030, 11, 29)] == "Day After Thanksgiving"
    assert loaded[D(2030, 12, 25)] == "Christmas Day"


def test_loading_california_holidays_twice_adds_nothing_the_second_time(calendar):
    first = deadlines.load_california_holidays([2030, 2031])
    before = list(Holiday.objects.values_list("date", "name"))
    assert first > 0
    assert deadlines.load_california_holidays([2030, 2031]) == 0
    assert list(Holiday.objects.values_list("date", "name")) == before


def test_loading_california_holidays_keeps_the_rows_an_admin_edited_or_added(calendar):
    deadlines.load_california_holidays([2030])
    count = Holiday.objects.count()
    Holiday.objects.filter(date=D(2030, 12, 25)).update(name="Christmas Day (office closed)")
    Holiday.objects.create(date=D(2030, 12, 24), name="Christmas Eve (office closed)")

    assert deadlines.load_california_holidays([2030]) == 0

    assert Holiday.objects.count() == count + 1
    assert Holiday.objects.get(date=D(2030, 12, 25)).name == "Christmas Day (office closed)"
    assert Holiday.objects.get(date=D(2030, 12, 24)).name == "Christmas Eve (office closed)"


def test_loading_california_holidays_leaves_a_row_already_on_a_holiday_date_alone(calendar):
    calendar((D(2030, 7, 4), "Fourth of July"))
    added = deadlines.load_california_holidays([2030])
    assert added == len(deadlines.california_holidays([2030])) - 1
    assert Holiday.objects.get(date=D(2030, 7, 4)).name == "Fourth of July"


def test_loading_one_year_does_not_touch_another(calendar):
    deadlines.load_california_holidays([2030])
    assert not Holiday.objects.exclude(date__year=2030).exists()
    added = deadlines.load_california_holidays([2031])
    assert added == Holiday.objects.filter(date__year=2031).count() > 0
