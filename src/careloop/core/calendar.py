"""Pure calendar arithmetic, free of Django so pure rules (the billing engine) can use it: US federal holidays
(5 U.S.C. 6103 with the weekend observance rules; Juneteenth from 2021) and business days (Monday to Friday minus
those holidays). ``careloop.core.clock`` re-exports these next to the clock itself."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@lru_cache(maxsize=64)
def federal_holidays(year: int) -> frozenset[dt.date]:
    """Observed US federal holidays for ``year`` (including a Jan 1 of next year observed on Dec 31)."""
    days = {
        _observed(dt.date(year, 1, 1)),
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _last_weekday(year, 5, 0),  # Memorial Day
        _observed(dt.date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _observed(dt.date(year, 11, 11)),
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(dt.date(year, 12, 25)),
    }
    if year >= 2021:
        days.add(_observed(dt.date(year, 6, 19)))  # Juneteenth
    next_new_year = _observed(dt.date(year + 1, 1, 1))
    if next_new_year.year == year:
        days.add(next_new_year)
    return frozenset(d for d in days if d.year == year)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in federal_holidays(day.year)


def add_business_days(start: dt.date, n: int) -> dt.date:
    """The ``n``-th business day after ``start`` (``start`` itself never counts)."""
    day = start
    remaining = n
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return day
