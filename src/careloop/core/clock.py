"""The one source of time and deadline arithmetic.

Business days are Monday to Friday minus US federal holidays (5 U.S.C. 6103, with the weekend observance
rules). Calendar months are taken in the clinic's time zone; stored times are UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from careloop.core.calendar import add_business_days, federal_holidays, is_business_day

__all__ = ["add_business_days", "clinic_zone", "federal_holidays", "is_business_day", "month_bounds", "month_of", "now",
           "today"]


def now() -> dt.datetime:
    return timezone.now()


def clinic_zone(tz_name: str | None = None) -> ZoneInfo:
    return ZoneInfo(tz_name or settings.TIME_ZONE)


def today(tz_name: str | None = None) -> dt.date:
    return now().astimezone(clinic_zone(tz_name)).date()


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """First and last calendar day of a month."""
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"
