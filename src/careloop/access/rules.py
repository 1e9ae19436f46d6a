"""Pure access rules: urgent keywords, office hours, response targets, share expiry. No DB, no clock reads."""

from __future__ import annotations

import datetime as dt
import re

from careloop.core.clock import add_business_days, is_business_day

URGENT_TERMS = (
    "chest pain", "can't breathe", "cannot breathe", "cant breathe", "short of breath", "trouble breathing",
    "suicid", "kill myself", "want to die", "overdose", "stroke", "face drooping", "slurred speech",
    "severe bleeding", "passed out", "unconscious", "seizure",
)
_APOSTROPHES = re.compile("[\u2018\u2019\u02bc]")


def urgent_terms(text: str) -> list[str]:
    """The urgent keywords found in a message (case-insensitive, curly apostrophes folded)."""
    low = _APOSTROPHES.sub("'", text.lower())
    return [t for t in URGENT_TERMS if t in low]


def is_after_hours(local: dt.datetime, *, office_open: dt.time, office_close: dt.time) -> bool:
    """Outside office hours: weekends, federal holidays, or before opening / after closing."""
    if not is_business_day(local.date()):
        return True
    t = local.timetz().replace(tzinfo=None)
    return not (office_open <= t < office_close)


def response_deadline(local: dt.datetime, *, business_days: int, office_close: dt.time) -> dt.datetime:
    """The response target: ``business_days`` business days after the message at the same local time; a message
    on a weekend or holiday is due at closing time of the ``business_days``-th business day after it."""
    day = local.date()
    if not is_business_day(day):
        return dt.datetime.combine(add_business_days(day, business_days), office_close, tzinfo=local.tzinfo)
    return dt.datetime.combine(add_business_days(day, business_days), local.timetz())


def next_business_morning(local: dt.datetime, *, office_open: dt.time) -> dt.datetime:
    """The next office opening at or after ``local`` (today's when it is a business day before opening)."""
    day = local.date()
    if is_business_day(day) and local.timetz().replace(tzinfo=None) < office_open:
        return dt.datetime.combine(day, office_open, tzinfo=local.tzinfo)
    return dt.datetime.combine(add_business_days(day, 1), office_open, tzinfo=local.tzinfo)


def share_active(*, expires_at: dt.datetime, revoked: bool, now: dt.datetime) -> bool:
    return not revoked and now < expires_at
