"""Priority: an explainable 0-100 score from urgency, the patient's risk tier and the value at stake.

score = round(W_urgency * urgency + W_risk * risk + W_value * value) + ESCALATION_POINTS * escalation_level,
capped at 100, where each component is 0-100 from the tables below:

- urgency: time left to the earlier of the due date and the regulatory deadline (``URGENCY_BANDS``);
- risk: the patient's risk tier (``RISK_POINTS``). Until the risk app exists the tier comes from an optional
  selector hook (``WORKLIST_RISK_TIER_PROVIDER``) and defaults to "moderate";
- value: what completing the task on time keeps billable (``VALUE_POINTS`` per task type); a regulatory
  deadline already missed keeps only ``MISSED_DEADLINE_VALUE_FACTOR`` of it (the service tied to it is lost,
  the care is still due).

Each component contributes one explanation string ("why now"), stored with the task and recomputed when the
urgency band changes (``valid_until``) by the escalation job. Pure: ``now`` and the zone are passed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from careloop.core.clock import is_business_day

WEIGHTS: dict[str, float] = {"urgency": 0.5, "risk": 0.3, "value": 0.2}
ESCALATION_POINTS = 5

# (time left at most, points, label). Overdue tasks (no time left) score 100.
OVERDUE_POINTS = 100
URGENCY_BANDS: tuple[tuple[dt.timedelta, int, str], ...] = (
    (dt.timedelta(hours=24), 85, "due within 24 hours"),
    (dt.timedelta(days=3), 65, "due within 3 days"),
    (dt.timedelta(days=7), 40, "due within a week"),
)
LATER_POINTS = 15

RISK_POINTS: dict[str, int] = {"high": 100, "rising": 70, "moderate": 40, "low": 15}
DEFAULT_RISK_TIER = "moderate"

VALUE_POINTS: dict[str, tuple[int, str]] = {
    "post_discharge_contact": (100, "TCM needs an interactive contact within 2 business days of discharge"),
    "followup_visit_scheduling": (80, "TCM needs the face-to-face visit within 7 or 14 days"),
    "medication_reconciliation": (70, "TCM needs medication reconciliation by the face-to-face visit"),
    "monthly_checkin": (60, "care-management time counts only in the calendar month it is spent"),
    "enrollment_call": (60, "enrollment and consent open monthly care-management billing"),
    "care_plan_review": (50, "APCM/CCM need a current comprehensive care plan"),
    "screening_followup": (40, "a positive screen starts BHI/CoCM care"),
    "care_gap_closure": (40, "an open quality-measure gap"),
    "referral_followup": (30, "closing the referral loop"),
    "message_response": (30, "the patient is waiting for an answer"),
    "prior_authorization": (30, "care is on hold until authorized"),
    "other": (10, "no billable service depends on it"),
}
MISSED_DEADLINE_VALUE_FACTOR = 0.3
# Overdue tasks are re-explained once a day ("overdue by N days" changes).
OVERDUE_REFRESH = dt.timedelta(days=1)


@dataclass(frozen=True)
class PriorityInput:
    task_type: str
    due_at: dt.datetime
    deadline_at: dt.datetime | None = None
    risk_tier: str = DEFAULT_RISK_TIER
    value_note: str = ""
    escalation_level: int = 0


@dataclass(frozen=True)
class Priority:
    score: int
    explanation: list[str]
    valid_until: dt.datetime | None  # recompute at this time (the urgency band or the deadline state changes)


def _span(delta: dt.timedelta) -> str:
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours = rest // 3600
    if days >= 2:
        return f"{days} days"
    if days == 1:
        return f"1 day {hours} h" if hours else "1 day"
    minutes = (rest % 3600) // 60
    return f"{hours} h" if hours else f"{minutes} min"


def _local(at: dt.datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %d %b %H:%M")


def urgency(ref: dt.datetime, now: dt.datetime, zone: ZoneInfo, what: str) -> tuple[int, str, dt.datetime | None]:
    """(points, label, when the band changes) for a task ``what`` is at ``ref``."""
    left = ref - now
    if left <= dt.timedelta(0):
        return OVERDUE_POINTS, f"overdue by {_span(left)} ({what} {_local(ref, zone)})", now + OVERDUE_REFRESH
    previous = dt.timedelta(0)
    for limit, points, label in URGENCY_BANDS:
        if left <= limit:
            return points, f"{label}: {what} {_local(ref, zone)}", ref - previous
        previous = limit
    return LATER_POINTS, f"{what} {_local(ref, zone)}", ref - previous


def compute_priority(task: PriorityInput, *, now: dt.datetime, zone: ZoneInfo) -> Priority:
    ref, what = task.due_at, "due"
    if task.deadline_at is not None and task.deadline_at <= task.due_at:
        ref, what = task.deadline_at, "regulatory deadline"
    u_points, u_label, valid_until = urgency(ref, now, zone, what)

    tier = task.risk_tier if task.risk_tier in RISK_POINTS else DEFAULT_RISK_TIER
    r_points = RISK_POINTS[tier]

    v_points, v_note = VALUE_POINTS.get(task.task_type, VALUE_POINTS["other"])
    v_note = task.value_note or v_note
    if task.deadline_at is not None and task.deadline_at <= now:
        v_points = round(v_points * MISSED_DEADLINE_VALUE_FACTOR)
        v_note = f"deadline missed {_local(task.deadline_at, zone)}: {v_note}; the care is still due"
    elif task.deadline_at is not None:
        v_note = f"{v_note} (deadline {_local(task.deadline_at, zone)})"
        valid_until = task.deadline_at if valid_until is None else min(valid_until, task.deadline_at)

    u = WEIGHTS["urgency"] * u_points
    r = WEIGHTS["risk"] * r_points
    v = WEIGHTS["value"] * v_points
    e = ESCALATION_POINTS * task.escalation_level
    score = min(100, round(u + r + v) + e)
    explanation = [
        f"Urgency +{u:g}: {u_label}",
        f"Risk +{r:g}: {tier} risk tier",
        f"Value +{v:g}: {v_note}",
    ]
    if e:
        explanation.append(f"Escalated +{e}: overdue, escalated {task.escalation_level}x")
    return Priority(score=score, explanation=explanation, valid_until=valid_until)


# ---- regulatory deadline at risk -----------------------------------------------------------------------

BUSINESS_OPEN = dt.time(8, 0)
BUSINESS_CLOSE = dt.time(17, 0)
DEFAULT_AT_RISK_BUSINESS_HOURS = 9.0  # one business day


def business_hours_between(
    start: dt.datetime, end: dt.datetime, zone: ZoneInfo, *, cap: float | None = None
) -> float:
    """Business hours (08:00-17:00 clinic time on business days) in [start, end]; stops counting past ``cap``."""
    if end <= start:
        return 0.0
    total = 0.0
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        if is_business_day(day):
            open_at = dt.datetime.combine(day, BUSINESS_OPEN, zone)
            close_at = dt.datetime.combine(day, BUSINESS_CLOSE, zone)
            lo, hi = max(open_at, start), min(close_at, end)
            if hi > lo:
                total += (hi - lo).total_seconds() / 3600
            if cap is not None and total > cap:
                return total
        day += dt.timedelta(days=1)
    return total


def deadline_at_risk(
    deadline_at: dt.datetime | None,
    *,
    now: dt.datetime,
    zone: ZoneInfo,
    threshold_hours: float = DEFAULT_AT_RISK_BUSINESS_HOURS,
) -> bool:
    """True when a regulatory deadline is still ahead but fewer than ``threshold_hours`` business hours remain."""
    if deadline_at is None or deadline_at <= now:
        return False
    return business_hours_between(now, deadline_at, zone, cap=threshold_hours) < threshold_hours
