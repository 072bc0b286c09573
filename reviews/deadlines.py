"""Statutory clocks of DESIGN.md section 1, on a business-day calendar of weekends and Holidays.

Calendar-day periods that a *party* must meet (the application, the records, the appeal) end
on the next business day when their last day is a weekend or holiday (Code of Civil
Procedure 12a). The review organisation's own clocks (the determination) do not move: an
expedited review is due in three calendar days whatever the weekday.
"""

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import holidays as holiday_rules
from django.utils import timezone

from .models import Case, Holiday

# "Due soon" on the dashboard, in the case list and in the deadline digest: within this many business days.
DUE_SOON_BUSINESS_DAYS = 3

# Enough look-ahead for the longest clock (30 days) plus a run of holidays.
_HOLIDAY_WINDOW = dt.timedelta(days=60)


def holidays_between(start: dt.date, end: dt.date) -> set[dt.date]:
    """The Holiday dates in [start, end], in one query."""
    return set(Holiday.objects.filter(date__range=(start, end)).values_list("date", flat=True))


def _holidays_from(start: dt.date, holidays: Collection[dt.date] | None) -> Collection[dt.date]:
    return holidays if holidays is not None else holidays_between(start, start + _HOLIDAY_WINDOW)


def is_business_day(day: dt.date, holidays: Collection[dt.date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(start: dt.date, days: int, holidays: Collection[dt.date] | None = None) -> dt.date:
    """The date `days` business days after `start` (start itself does not count)."""
    holidays = _holidays_from(start, holidays)
    day = start
    while days > 0:
        day += dt.timedelta(days=1)
        if is_business_day(day, holidays):
            days -= 1
    return day


def add_calendar_days(start: dt.date, days: int, holidays: Collection[dt.date] | None = None) -> dt.date:
    """`days` calendar days after `start`, moved to the next business day if it lands on a closed day."""
    holidays = _holidays_from(start, holidays)
    day = start + dt.timedelta(days=days)
    while not is_business_day(day, holidays):
        day += dt.timedelta(days=1)
    return day


def application_due(ur_decision_served: dt.date, holidays: Collection[dt.date] | None = None) -> dt.date:
    """Last day to apply for IMR: 30 days from service of the UR decision (8 CCR 9792.10.1)."""
    return add_calendar_days(ur_decision_served, 30, holidays)


def eligibility_answers_due(questions_sent: dt.date, holidays: Collection[dt.date] | None = None) -> dt.date:
    """Parties answer eligibility questions within 5 business days (8 CCR 9792.10.3)."""
    return add_business_days(questions_sent, 5, holidays)


def assignment_notice_due(found_eligible: dt.date, holidays: Collection[dt.date] | None = None) -> dt.date:
    """Notice of assignment and request for information: 1 business day after eligibility (9792.10.4)."""
    return add_business_days(found_eligible, 1, holidays)


def records_due(
    notice_sent: dt.date, priority: str, *, electronic: bool = False, holidays: Collection[dt.date] | None = None
) -> dt.date:
    """Medical records are due 15 days after the notice, 12 if it went electronically, 24 hours if expedited."""
    if priority == Case.Priority.EXPEDITED:
        return notice_sent + dt.timedelta(days=1)
    return add_calendar_days(notice_sent, 12 if electronic else 15, holidays)


def decision_due(records_complete: dt.date, priority: str, holidays: Collection[dt.date] | None = None) -> dt.date:
    """The determination is due 30 days after complete records, 3 expedited, 5 working days formulary.

    LC 4610.6(d).
    """
    if priority == Case.Priority.EXPEDITED:
        return records_complete + dt.timedelta(days=3)
    if priority == Case.Priority.FORMULARY:
        return add_business_days(records_complete, 5, holidays)
    return records_complete + dt.timedelta(days=30)


def authorization_due(served: dt.date, holidays: Collection[dt.date] | None = None) -> dt.date:
    """An overturned item must be authorised within 5 working days of service (9792.10.7)."""
    return add_business_days(served, 5, holidays)


def appeal_due(served: dt.date, holidays: Collection[dt.date] | None = None) -> dt.date:
    """Last day to appeal to the WCAB: 30 days from service of the determination (LC 4610.6(h))."""
    return add_calendar_days(served, 30, holidays)


def california_holidays(years: Collection[int]) -> dict[dt.date, str]:
    """California public holidays for the given years, from the `holidays` package's rules."""
    return dict(holiday_rules.country_holidays("US", subdiv="CA", years=sorted(years)).items())


def load_california_holidays(years: Collection[int]) -> int:
    """Add the missing California holidays of `years` to the calendar; returns how many were added.

    Existing rows are kept as they are, so an admin's edits survive a reload.
    """
    existing = set(Holiday.objects.filter(date__year__in=years).values_list("date", flat=True))
    new = [Holiday(date=d, name=n) for d, n in california_holidays(years).items() if d not in existing]
    Holiday.objects.bulk_create(new)
    return len(new)


def due_soon_until(today: dt.date, holidays: Collection[dt.date] | None = None) -> dt.date:
    """The last day of the "due soon" window that starts today."""
    return add_business_days(today, DUE_SOON_BUSINESS_DAYS, holidays)


@dataclass(frozen=True)
class TimeLeft:
    """What a list shows beside a due date, and its Bootstrap colour."""

    label: str
    tone: str  # danger (overdue), warning (hours count), secondary

    @property
    def css(self) -> str:
        return {"danger": "text-danger fw-semibold", "warning": "text-warning-emphasis"}.get(
            self.tone, "text-body-secondary"
        )


def time_left(due: dt.date | None, *, expedited: bool, now: dt.datetime) -> TimeLeft | None:
    """Days until the end of the `due` day in California; hours for an expedited case due today or tomorrow.

    A date is due at midnight ending that day, America/Los_Angeles (the statutory clocks run
    on California days), so a case due today is not overdue before tomorrow begins there.
    """
    if due is None:
        return None
    california = timezone.get_default_timezone()
    days = (due - timezone.localtime(now, california).date()).days
    if days < 0:
        return TimeLeft(f"{-days} day{'s' if days < -1 else ''} overdue", "danger")
    if expedited and days <= 1:
        end = dt.datetime.combine(due + dt.timedelta(days=1), dt.time.min, tzinfo=california)
        hours = int((end - now).total_seconds() // 3600)
        return TimeLeft(f"{hours} h left" if hours else "under 1 h left", "warning")
    if days == 0:
        return TimeLeft("due today", "warning")
    return TimeLeft(f"{days} day{'s' if days > 1 else ''} left", "secondary")


def case_time_left(case: Case, *, due: dt.date | None, now: dt.datetime) -> TimeLeft | None:
    """The time left on one of the case's clocks, which stops at the decision: "decided 11/02/2026"
    once decided, nothing once closed without a decision (withdrawn, terminated, ineligible)."""
    if case.decision_date:
        return TimeLeft(f"decided {case.decision_date:%m/%d/%Y}", "secondary")
    if case.status in Case.Status.CLOSED:
        return None
    return time_left(due, expedited=case.priority == Case.Priority.EXPEDITED, now=now)
