"""Clinic wall-clock time (America/New_York) as integer minutes, without zoneinfo or datetime objects.

A moment is ``ordinal * 1440 + minute_of_day`` in local wall-clock time, where ``ordinal`` is
``date.toordinal()``. The US daylight-saving rule since 2007 (second Sunday of March to the first Sunday of
November, switching at 02:00 local) gives the UTC offset, so the output does not depend on the tz database
installed on the machine. Formatting goes through per-day caches: the generator formats millions of
timestamps and this is the hot path.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache, lru_cache

DAY = 1440
EDT = -240
EST = -300
_HM = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(DAY))
_HM_COMPACT = tuple(f"{m // 60:02d}{m % 60:02d}" for m in range(DAY))


@lru_cache(maxsize=256)
def _dst_bounds(year: int) -> tuple[int, int]:
    march = date(year, 3, 1)
    start = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
    november = date(year, 11, 1)
    end = november + timedelta(days=(6 - november.weekday()) % 7)
    return start.toordinal(), end.toordinal()


@cache
def _day(ordinal: int) -> tuple[str, str, int, int]:
    """(ISO date, compact YYYYMMDD, offset before 02:00, offset from 02:00) for a local day."""
    d = date.fromordinal(ordinal)
    start, end = _dst_bounds(d.year)
    if start < ordinal < end:
        before = after = EDT
    elif ordinal == start:
        before, after = EST, EDT
    elif ordinal == end:
        before, after = EDT, EST
    else:
        before = after = EST
    iso = d.isoformat()
    return iso, iso.replace("-", ""), before, after


def _local(m: int) -> tuple[str, str, int, int]:
    """(ISO date, compact date, minute of day, UTC offset) of a wall-clock minute.

    A time in the hour skipped when daylight saving starts is read as the hour after (02:30 -> 03:30 EDT);
    in the repeated hour when it ends, the first (EDT) occurrence is meant, as zoneinfo does with fold=0.
    """
    ordinal, minute = divmod(m, DAY)
    iso, compact, before, after = _day(ordinal)
    if minute < 120:
        return iso, compact, minute, before
    if before == EST and after == EDT and minute < 180:
        minute += 60
    return iso, compact, minute, after


def offset_minutes(m: int) -> int:
    return _local(m)[3]


def iso_date(ordinal: int) -> str:
    return _day(ordinal)[0]


def iso_dt(m: int) -> str:
    """``YYYY-MM-DDThh:mm:00-05:00`` (FHIR dateTime with the local offset)."""
    iso, _, minute, off = _local(m)
    return f"{iso}T{_HM[minute]}:00{'-04:00' if off == EDT else '-05:00'}"


def hl7_ts(m: int, sec: int = 0) -> str:
    """``YYYYMMDDhhmmss-0500`` (HL7 v2 DTM with the local offset)."""
    _, compact, minute, off = _local(m)
    return f"{compact}{_HM_COMPACT[minute]}{sec:02d}{'-0400' if off == EDT else '-0500'}"


def hl7_date(ordinal: int) -> str:
    return _day(ordinal)[1]


def utc_seconds(m: int, sec: int = 0) -> int:
    """Seconds since 0001-01-01 UTC: the sort key that puts messages in true chronological order."""
    _, _, minute, off = _local(m)
    return ((m // DAY) * DAY + minute - off) * 60 + sec


def weekday(ordinal: int) -> int:
    """Monday 0 .. Sunday 6."""
    return (ordinal - 1) % 7


def year_of(ordinal: int) -> int:
    return int(_day(ordinal)[0][:4])


def add_years(ordinal: int, years: int) -> int:
    d = date.fromordinal(ordinal)
    try:
        return d.replace(year=d.year + years).toordinal()
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28).toordinal()


def first_of_month(ordinal: int) -> int:
    d = date.fromordinal(ordinal)
    return date(d.year, d.month, 1).toordinal()
