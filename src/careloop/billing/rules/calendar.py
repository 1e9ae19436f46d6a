"""Pure calendar helpers for the billing rules: months, US federal holidays, business days. No Django, no clock.

(careloop.core.clock has the same holiday logic but imports Django; the rules engine must stay free of it.)
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of "YYYY-MM"."""
    year, mon = int(month[:4]), int(month[5:7])
    first = dt.date(year, mon, 1)
    nxt = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # Feb 29 -> Feb 28
        return day.replace(year=day.year + years, day=28)


def add_months(day: dt.date, months: int) -> dt.date:
    idx = month_index(day) + months
    year, mon = divmod(idx, 12)
    last = month_bounds(f"{year:04d}-{mon + 1:02d}")[1].day
    return dt.date(year, mon + 1, min(day.day, last))


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    last = month_bounds(f"{year:04d}-{month:02d}")[1]
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@lru_cache(maxsize=64)
def federal_holidays(year: int) -> frozenset[dt.date]:
    """Observed US federal holidays in ``year`` (5 U.S.C. 6103; Juneteenth from 2021)."""
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
        _observed(dt.date(year + 1, 1, 1)),  # may fall on Dec 31 of this year
    }
    if year >= 2021:
        days.add(_observed(dt.date(year, 6, 19)))
    return frozenset(d for d in days if d.year == year)


def is_business_day(day: dt.date) -> bool:
    """Monday to Friday and not an observed US federal holiday."""
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
