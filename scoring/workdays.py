"""Chinese working days: statutory holidays and 调休 make-up workdays.

chinesecalendar carries the State Council's yearly schedule for the years up to its release;
an override (`CalendarYear`, from a rules-listed YAML file) supplies or corrects a year. A year
neither knows raises `UnknownYear`: the schedule is announced each November, and a guessed
calendar would move deadlines silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import chinese_calendar

from scoring.rules import CalendarYear


class UnknownYear(LookupError):
    def __init__(self, year: int):
        self.year = year
        super().__init__(f"no working-day calendar for {year}")


def is_workday(day: date, overrides: Mapping[int, CalendarYear]) -> bool:
    """Whether `day` is a working day in mainland China."""
    override = overrides.get(day.year)
    if override is not None:
        if day in override.workdays:
            return True
        if day in override.holidays:
            return False
        return day.weekday() < 5
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        raise UnknownYear(day.year) from None


def nth_workday_after(day: date, n: int, overrides: Mapping[int, CalendarYear]) -> date:
    """The n-th working day strictly after `day` (n ≥ 1); `day` itself if n is 0."""
    current = day
    found = 0
    while found < n:
        current += timedelta(days=1)
        if is_workday(current, overrides):
            found += 1
    return current
