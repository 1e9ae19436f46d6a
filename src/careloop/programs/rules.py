"""Pure designation arithmetic (no database, no clock)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Designation:
    user_id: int
    since: dt.date
    until: dt.date | None


def covers(designation: Designation, day: dt.date) -> bool:
    """True when the designation is in force on ``day`` (both ends inclusive)."""
    return designation.since <= day and (designation.until is None or day <= designation.until)


def overlaps_month(designation: Designation, first: dt.date, last: dt.date) -> bool:
    """True when the designation is in force on at least one day of [first, last]."""
    return designation.since <= last and (designation.until is None or designation.until >= first)


def close_on(current: Designation, new_since: dt.date) -> dt.date:
    """The ``until`` for the current designation when a new one starts on ``new_since``: the day before, or the
    start day itself when the new one starts on the same day as the current one (a same-day correction)."""
    return max(current.since, new_since - dt.timedelta(days=1))
