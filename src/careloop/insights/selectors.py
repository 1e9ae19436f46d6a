"""Insights reads, scoped to one organization. Cross-app reads go through the other apps' selectors (programs:
eligibility and enrollment per patient-month; billing: claim lines, fee table, runs; worklist: time-log
minutes). Staff FTEs are read from the kernel tables (accounts users, clinics care-team memberships) as the
worklist does. Returns the pure inputs of ``insights.rules``; no patient names leave this module."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from careloop.accounts.models import User
from careloop.billing import selectors as billing
from careloop.clinics.models import CareTeamMember, Organization
from careloop.core.clock import month_bounds
from careloop.core.errors import ValidationFailed
from careloop.insights import rules
from careloop.programs import selectors as programs
from careloop.worklist import selectors as worklist


def parse_month(month: str) -> tuple[dt.date, dt.date]:
    text = (month or "").strip()
    try:
        year, mon = int(text[:4]), int(text[5:7])
        if len(text) != 7 or text[4] != "-" or not 1 <= mon <= 12 or year < 2000:
            raise ValueError
    except ValueError:
        raise ValidationFailed(f"month must be YYYY-MM, not {month!r}", field_errors={"month": "YYYY-MM"}) from None
    return month_bounds(year, mon)


def patient_months(*, organization_id: int, month: str) -> list[rules.PatientMonth]:
    """Every patient eligible for, or enrolled (with consent) in, a program in ``month``."""
    months = programs.program_months(organization_id=organization_id, month=month)
    return [rules.PatientMonth(pid, {p: (level if p == rules.APCM else "") for p, level in eligible.items()},
                               frozenset(enrolled))
            for pid, (eligible, enrolled) in sorted(months.items()) if eligible or enrolled]


def billed_lines(*, organization_id: int, month: str) -> list[rules.BilledLine]:
    """The current (not voided) claim lines of the month: billable, denied and held."""
    return [rules.BilledLine(pid, code, status, amount) for pid, code, status, amount in billing.lines(
        organization_id=organization_id, month=month).values_list("patient_id", "code", "status", "allowed_amount")]


def fee_amounts(organization: Organization, year: int) -> tuple[dict[str, Decimal | None], str]:
    """Non-facility, non-QP allowed amounts per code for the organization's locality, and the locality."""
    locality = billing.settings_for(organization).locality
    table = billing.fee_table(year=year, locality=locality)
    return {code: fee.allowed(facility=False, qp=False) for code, fee in table.items()}, locality


@dataclass(frozen=True)
class LastRun:
    started_at: dt.datetime
    finished_at: dt.datetime | None
    ruleset: str
    actor_username: str


def last_billing_run(*, organization_id: int, month: str) -> LastRun | None:
    run = billing.runs(organization_id=organization_id, month=month).first()
    if run is None:
        return None
    return LastRun(run.started_at, run.finished_at, run.ruleset, run.actor_username)


def coordination_staff(*, organization_id: int, roles: frozenset[str]) -> list[rules.StaffMember]:
    """Active users with a care-coordination role, with the FTE of each active care-team membership."""
    users = list(User.objects.filter(organization_id=organization_id, is_active=True, role__in=sorted(roles))
                 .values_list("pk", "role").order_by("pk"))
    ftes: dict[int, list[Decimal]] = defaultdict(list)
    for uid, fte in CareTeamMember.objects.filter(organization_id=organization_id, is_active=True,
                                                  user_id__in=[u for u, _ in users]).values_list("user_id", "fte"):
        ftes[uid].append(Decimal(fte))
    return [rules.StaffMember(uid, role, tuple(ftes.get(uid, ()))) for uid, role in users]


@dataclass(frozen=True)
class MonthActual:
    month: str
    patients: int  # patient-months decided by the billing run
    billable_lines: int
    allowed: Decimal


def recent_actuals(*, organization_id: int, month: str, months: int = 6) -> list[MonthActual]:
    """The billing run's allowed amount for ``month`` and the ``months - 1`` before it, oldest first."""
    first, _ = parse_month(month)
    keys = []
    year, mon = first.year, first.month
    for _i in range(months):
        keys.append(f"{year:04d}-{mon:02d}")
        year, mon = (year, mon - 1) if mon > 1 else (year - 1, 12)
    out = []
    for key in reversed(keys):
        s = billing.month_summary(organization_id=organization_id, month=key)
        out.append(MonthActual(key, s.patients, s.billable_lines, s.allowed))
    return out


def team_capacity(*, organization_id: int) -> int:
    """Complex patients the active care-team members can carry (their configured capacities, summed)."""
    return programs.team_capacity(organization_id=organization_id)


def observed_minutes(*, organization_id: int, month: str) -> dict[str, tuple[int, int]]:
    """program -> (minutes logged, patient-months with time) in ``month`` (voided entries excluded)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_pid, program), v in worklist.minutes_by_program(organization_id=organization_id, patient_ids=None,
                                                          month=month).items():
        out[program][0] += int(v["total"])
        out[program][1] += 1
    return {p: (t, n) for p, (t, n) in out.items()}
