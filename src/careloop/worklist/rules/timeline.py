"""Due dates, months in the clinic's zone, timer minutes, staff types and TCM contact evidence. Pure."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from careloop.core.clock import add_business_days, month_bounds

# Default time to complete, when the caller gives no due date.
DEFAULT_DUE: dict[str, dt.timedelta] = {
    "post_discharge_contact": dt.timedelta(days=1),
    "message_response": dt.timedelta(days=1),
    "medication_reconciliation": dt.timedelta(days=3),
    "followup_visit_scheduling": dt.timedelta(days=2),
    "screening_followup": dt.timedelta(days=7),
    "referral_followup": dt.timedelta(days=7),
    "prior_authorization": dt.timedelta(days=3),
    "enrollment_call": dt.timedelta(days=14),
    "care_plan_review": dt.timedelta(days=14),
    "care_gap_closure": dt.timedelta(days=30),
    "monthly_checkin": dt.timedelta(days=14),
    "other": dt.timedelta(days=7),
}

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_ENTRY_MINUTES = 600


def default_due_at(task_type: str, *, now: dt.datetime, deadline_at: dt.datetime | None) -> dt.datetime:
    due = now + DEFAULT_DUE.get(task_type, DEFAULT_DUE["other"])
    return min(due, deadline_at) if deadline_at is not None else due


def parse_month(month: str) -> tuple[int, int]:
    m = _MONTH.match(month.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"month must be YYYY-MM, not {month!r}")
    return int(m.group(1)), int(m.group(2))


def month_dates(month: str) -> tuple[dt.date, dt.date]:
    return month_bounds(*parse_month(month))


def month_utc_bounds(month: str, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a clinic-local calendar month, as aware datetimes."""
    first, last = month_dates(month)
    start = dt.datetime.combine(first, dt.time(0), zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), zone)
    return start, end


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def local_date(at: dt.datetime, zone: ZoneInfo) -> dt.date:
    return at.astimezone(zone).date()


def monthly_checkin_times(month: str, *, now: dt.datetime, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """(due, deadline) of a month's check-in: due the 20th at 17:00 (or 2 business days from ``now`` when run
    later, but not past the month), deadline the month's last moment (time counts only within the month)."""
    first, last = month_dates(month)
    deadline = dt.datetime.combine(last, dt.time(23, 59, 59), zone)
    due = dt.datetime.combine(first.replace(day=20), dt.time(17, 0), zone)
    if due <= now:
        later = dt.datetime.combine(add_business_days(local_date(now, zone), 2), dt.time(17, 0), zone)
        due = min(later, deadline)
    return due, deadline


def tcm_contact_deadline(discharge_day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """End of the 2nd business day after discharge (TCM interactive contact, cms-rules 3.3)."""
    return dt.datetime.combine(add_business_days(discharge_day, 2), dt.time(23, 59, 59), zone)


def timer_minutes(started_at: dt.datetime, stopped_at: dt.datetime) -> int:
    """Whole minutes elapsed, rounded down: partial minutes are never billed."""
    return max(0, math.floor((stopped_at - started_at).total_seconds() / 60))


def staff_type_for_role(role: str) -> str:
    """A provider's time is billing-practitioner time; everyone else's is clinical-staff time."""
    return "billing_practitioner" if role == "provider" else "clinical_staff"


def entry_problems(*, minutes: int, service_date: dt.date, today: dt.date) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not 1 <= minutes <= MAX_ENTRY_MINUTES:
        errors["minutes"] = f"between 1 and {MAX_ENTRY_MINUTES}"
    if service_date > today:
        errors["service_date"] = "cannot be in the future"
    return errors


# ---- TCM interactive-contact evidence (cms-rules 3.3, TCM-002) -------------------------------------------

# "Telephone, electronic or direct" communication: every two-way channel counts, a letter does not.
TCM_CONTACT_CHANNELS = frozenset({"phone", "video", "in_person", "portal_message", "sms"})
# An attempt to a wrong number was not an attempt to reach the patient.
TCM_ATTEMPT_OUTCOMES = frozenset({"reached", "left_message", "no_answer", "declined"})
TCM_REQUIRED_ATTEMPTS = 2


@dataclass(frozen=True)
class Attempt:
    id: int
    at: dt.datetime
    channel: str
    outcome: str


@dataclass(frozen=True)
class TcmContactEvidence:
    contacted: bool
    contact_at: dt.datetime | None
    attempt_ids: list[int]
    satisfied: bool
    explanation: str


def tcm_contact_evidence(attempts: Iterable[Attempt], start: dt.datetime, end: dt.datetime) -> TcmContactEvidence:
    """Interactive contact in [start, end], or at least two timely attempts on an interactive channel."""
    counted = sorted(
        (a for a in attempts
         if start <= a.at <= end and a.channel in TCM_CONTACT_CHANNELS and a.outcome in TCM_ATTEMPT_OUTCOMES),
        key=lambda a: (a.at, a.id),
    )
    contact = next((a for a in counted if a.outcome == "reached"), None)
    ids = [a.id for a in counted]
    if contact is not None:
        return TcmContactEvidence(True, contact.at, ids, True, f"interactive contact by {contact.channel}")
    if len(counted) >= TCM_REQUIRED_ATTEMPTS:
        return TcmContactEvidence(False, None, ids, True, f"{len(counted)} timely attempts, no contact")
    return TcmContactEvidence(
        False, None, ids, False, f"{len(counted)} timely attempt(s); {TCM_REQUIRED_ATTEMPTS} are required"
    )
