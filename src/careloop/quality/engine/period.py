"""Time for measure logic: uncertain points, closed intervals, CQL-style timing comparisons, calendar arithmetic.

CQL compares date-times at a precision ("day of") and keeps track of what it does not know: a date-time recorded
to the day only (``2026-03-04``) is somewhere in that day, an interval with an open, missing end ends somewhere
after its start. We model that the same way: a :class:`Point` is a moment known to lie within ``[lo, hi]``
(``lo == hi`` when it is exact), and comparisons answer ``True``, ``False`` or ``None`` (unknown). In a
``where`` clause unknown counts as false, exactly as in CQL; keep the three values until then, because
``not unknown`` is still unknown.

All moments are aware UTC ``datetime`` values at millisecond resolution. Closed intervals with a missing
boundary run to the beginning or end of time (``MIN``/``MAX``), as in CQL.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

UTC = dt.UTC
MIN = dt.datetime(1, 1, 1, tzinfo=UTC)
MAX = dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
MS = dt.timedelta(milliseconds=1)

Tri = bool | None


def all3(*values: Tri) -> Tri:
    """CQL ``and`` over several operands."""
    result: Tri = True
    for v in values:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def any3(*values: Tri) -> Tri:
    """CQL ``or`` over several operands."""
    result: Tri = False
    for v in values:
        if v is True:
            return True
        if v is None:
            result = None
    return result


def not3(value: Tri) -> Tri:
    return None if value is None else not value


def exists3(values: Iterable[Tri]) -> bool:
    """``exists (X where ...)``: true when any item's condition is true (unknown counts as false)."""
    return any(v is True for v in values)


@dataclass(frozen=True, slots=True)
class Point:
    """A moment known to lie within ``[lo, hi]``."""

    lo: dt.datetime
    hi: dt.datetime

    @staticmethod
    def at(moment: dt.datetime) -> Point:
        return Point(moment, moment)

    @property
    def exact(self) -> bool:
        return self.lo == self.hi

    def shift(self, delta: dt.timedelta) -> Point:
        return Point(_clamp_add(self.lo, delta), _clamp_add(self.hi, delta))

    def add_months(self, months: int) -> Point:
        return Point(add_months(self.lo, months), add_months(self.hi, months))

    def date(self) -> dt.date | None:
        """The calendar day, when it is known."""
        day = self.lo.date()
        return day if day == self.hi.date() else None


@dataclass(frozen=True, slots=True)
class Span:
    """A closed interval ``[start, end]`` whose boundaries may be uncertain."""

    start: Point
    end: Point

    @staticmethod
    def of(start: dt.datetime, end: dt.datetime) -> Span:
        return Span(Point.at(start), Point.at(end))

    @staticmethod
    def point(p: Point) -> Span:
        return Span(p, p)

    @property
    def has_end(self) -> bool:
        """QICoreCommon ``hasEnd``: an end that is known and is not the end of time."""
        return self.end.hi != MAX

    @property
    def has_start(self) -> bool:
        """QICoreCommon ``hasStart``: a start that is known and is not the beginning of time."""
        return self.start.lo != MIN


# --- comparisons of points --------------------------------------------------------------------------------
# At day precision the comparison is between calendar days (``moment.date()``). These run millions of times per
# population run, so they are written out rather than built from helpers, and the interval phrases below stop at
# the first false operand (``all3`` of pure comparisons, evaluated lazily).


def lt(a: Point, b: Point, day: bool = False) -> Tri:
    if day:
        if a.hi.date() < b.lo.date():
            return True
        if a.lo.date() >= b.hi.date():
            return False
        return None
    if a.hi < b.lo:
        return True
    if a.lo >= b.hi:
        return False
    return None


def le(a: Point, b: Point, day: bool = False) -> Tri:
    if day:
        if a.hi.date() <= b.lo.date():
            return True
        if a.lo.date() > b.hi.date():
            return False
        return None
    if a.hi <= b.lo:
        return True
    if a.lo > b.hi:
        return False
    return None


def gt(a: Point, b: Point, day: bool = False) -> Tri:
    return lt(b, a, day)


def ge(a: Point, b: Point, day: bool = False) -> Tri:
    return le(b, a, day)


def _and(first: Tri, second: Tri) -> Tri:
    """CQL ``and`` of two operands already known not to include a false first one."""
    if second is False:
        return False
    return True if first is True and second is True else None


def same(a: Point, b: Point, day: bool = False) -> Tri:
    """``same day as`` (or the same moment)."""
    first = le(a, b, day)
    return False if first is False else _and(first, le(b, a, day))


# --- interval timing phrases ------------------------------------------------------------------------------


def within(p: Point, s: Span, day: bool = False) -> Tri:
    """``p during s`` / ``p in s`` for a point: ``s.start <= p and p <= s.end`` (``le`` written out)."""
    start, end = s.start, s.end
    if day:
        lo, hi = p.lo.date(), p.hi.date()
        if start.hi.date() <= lo:
            first: Tri = True
        elif start.lo.date() > hi:
            return False
        else:
            first = None
        if hi <= end.lo.date():
            return first
        if lo > end.hi.date():
            return False
        return None
    if start.hi <= p.lo:
        first = True
    elif start.lo > p.hi:
        return False
    else:
        first = None
    if p.hi <= end.lo:
        return first
    if p.lo > end.hi:
        return False
    return None


def during(x: Span, s: Span, day: bool = False) -> Tri:
    """``x during s`` (included in): ``s.start <= x.start and x.end <= s.end`` (``le`` written out)."""
    first = le(s.start, x.start, day)
    return False if first is False else _and(first, le(x.end, s.end, day))


def overlaps(x: Span, s: Span, day: bool = False) -> Tri:
    first = le(x.start, s.end, day)
    return False if first is False else _and(first, le(s.start, x.end, day))


def overlaps_before(x: Span, s: Span, day: bool = False) -> Tri:
    """``x overlaps before s``: x starts before s starts and overlaps it."""
    first = lt(x.start, s.start, day)
    return False if first is False else _and(first, le(s.start, x.end, day))


def overlaps_after(x: Span, s: Span, day: bool = False) -> Tri:
    """``x overlaps after s``: x ends after s ends and overlaps it."""
    first = lt(s.end, x.end, day)
    return False if first is False else _and(first, le(x.start, s.end, day))


def starts_during(x: Span, s: Span, day: bool = False) -> Tri:
    return within(x.start, s, day)


def ends_during(x: Span, s: Span, day: bool = False) -> Tri:
    return within(x.end, s, day)


def on_or_before_within(a: Point, b: Point, delta: dt.timedelta, day: bool = False) -> Tri:
    """``a <delta> or less on or before b``: a falls in ``[b - delta, b]``."""
    return within(a, Span(b.shift(-delta), b), day)


def on_or_after_within(a: Point, b: Point, delta: dt.timedelta, day: bool = False) -> Tri:
    """``a <delta> or less on or after b``: a falls in ``[b, b + delta]``."""
    return within(a, Span(b, b.shift(delta)), day)


# --- calendar arithmetic ----------------------------------------------------------------------------------


def _clamp_add(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    try:
        return moment + delta
    except OverflowError:
        return MAX if delta > dt.timedelta(0) else MIN


_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # by month - 1; February of leap years has 29


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Calendar months, keeping the day of month where it exists (Jan 31 + 1 month = Feb 28), as CQL does."""
    if moment in (MIN, MAX):
        return moment
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    if year < 1 or year > 9999:
        return MAX if months > 0 else MIN
    day = moment.day
    if day > 28:  # keep the day of month where it exists
        day = min(day, _DAYS_IN_MONTH[month] + (month == 1 and calendar.isleap(year)))
    return moment.replace(year=year, month=month + 1, day=day)


def add_years(moment: dt.datetime, years: int) -> dt.datetime:
    return add_months(moment, 12 * years)


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_end(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 23, 59, 59, 999000, tzinfo=UTC)


def whole_days(first: dt.date, last: dt.date) -> Span:
    """The closed interval from the start of ``first`` to the last millisecond of ``last``."""
    return Span.of(day_start(first), day_end(last))


def age_in_years(birth: dt.date, on: dt.date) -> int:
    """Completed years of age on a date (a person born on Feb 29 turns a year older on Mar 1)."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


@dataclass(frozen=True, slots=True)
class MeasurementPeriod:
    """The reporting period: whole days from ``first`` to ``last`` inclusive."""

    first: dt.date
    last: dt.date

    @staticmethod
    def parse(text: str) -> MeasurementPeriod:
        """``2026-01-01:2026-12-31``."""
        try:
            first_text, last_text = text.split(":")
            first, last = dt.date.fromisoformat(first_text), dt.date.fromisoformat(last_text)
        except ValueError:
            raise ValueError(f"measurement period {text!r} is not START:END (YYYY-MM-DD:YYYY-MM-DD)") from None
        if last < first:
            raise ValueError(f"measurement period {text!r} ends before it starts")
        return MeasurementPeriod(first, last)

    @staticmethod
    def calendar_year(year: int) -> MeasurementPeriod:
        return MeasurementPeriod(dt.date(year, 1, 1), dt.date(year, 12, 31))

    @property
    def span(self) -> Span:
        return whole_days(self.first, self.last)

    @property
    def start(self) -> Point:
        return Point.at(day_start(self.first))

    @property
    def end(self) -> Point:
        return Point.at(day_end(self.last))

    def __str__(self) -> str:
        return f"{self.first.isoformat()}:{self.last.isoformat()}"
