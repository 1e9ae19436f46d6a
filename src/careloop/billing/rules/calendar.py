"""Pure calendar helpers for the billing rules: months here; US federal holidays and business days from
careloop.core.calendar (the same logic the rest of careloop uses through core.clock). No Django, no clock."""

from __future__ import annotations

import datetime as dt

from careloop.core.calendar import add_business_days, federal_holidays, is_business_day

__all__ = ["add_business_days", "add_months", "add_years", "federal_holidays", "is_business_day", "month_bounds",
           "month_index", "month_of"]


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


