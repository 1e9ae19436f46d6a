"""FHIR date and dateTime parsing that refuses impossible values."""

from __future__ import annotations

import datetime as dt
import re

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_UTC = dt.UTC


class BadDate(ValueError):
    pass


def parse_date(value: object, field: str) -> dt.date | None:
    """A FHIR ``date`` (YYYY, YYYY-MM or YYYY-MM-DD) or the date part of a ``dateTime``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadDate(f"{field}: expected a date string, got {type(value).__name__}")
    text = value[:10] if len(value) > 10 else value
    m = _DATE.match(text)
    if not m:
        raise BadDate(f"{field}: {value!r} is not a FHIR date")
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        parsed = dt.date(year, month, day)
    except ValueError as exc:
        raise BadDate(f"{field}: {value!r} is not a real date ({exc})") from None
    if len(value) > 10:
        parse_datetime(value, field)
    return parsed


def parse_datetime(value: object, field: str) -> tuple[dt.datetime, str] | None:
    """A FHIR ``dateTime``/``instant`` as an aware UTC datetime plus the UTC offset as received.

    A date without a time is taken as midnight UTC with an empty offset.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadDate(f"{field}: expected a dateTime string, got {type(value).__name__}")
    if len(value) <= 10:
        d = parse_date(value, field)
        assert d is not None
        return dt.datetime(d.year, d.month, d.day, tzinfo=_UTC), ""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadDate(f"{field}: {value!r} is not a FHIR dateTime") from None
    if parsed.tzinfo is None:
        # FHIR requires a zone when a time is given; treat a missing one as UTC rather than reject.
        return parsed.replace(tzinfo=_UTC), ""
    offset = parsed.utcoffset() or _ZERO
    text = _OFFSETS.get(offset)
    if text is None:
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        minutes = abs(minutes)
        text = _OFFSETS.setdefault(offset, f"{sign}{minutes // 60:02d}:{minutes % 60:02d}")
    # An import parses hundreds of thousands of these: skip the time-zone conversion when already at UTC.
    return (parsed.replace(tzinfo=_UTC) if offset == _ZERO else parsed.astimezone(_UTC)), text


_ZERO = dt.timedelta(0)
_OFFSETS: dict[dt.timedelta, str] = {}
