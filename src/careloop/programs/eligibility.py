"""Eligibility per patient-month, set-based: ``compute_eligibility`` reads the month's facts for the whole
population in bulk (chronic-condition count as of the month from the risk app's CCW population function,
QMB coverage periods, the risk tier, BH diagnoses and screens, device days), decides every program with the
pure rules, and replaces the month's EligibilityDecision rows in one transaction."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count

from careloop.accounts import rules as access
from careloop.audit.services import record_event
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.db import insert_rows
from careloop.core.errors import PermissionDenied, ValidationFailed
from careloop.programs import rules
from careloop.programs.models import DeviceDayCount, EligibilityDecision
from careloop.registry.choices import CoverageKind
from careloop.registry.models import Coverage
from careloop.risk import population, tables
from careloop.risk.selectors import risk_tiers

CHUNK = 5_000


def parse_month(month: str) -> tuple[dt.date, dt.date]:
    try:
        year, mon = (int(x) for x in month.split("-"))
        return clock.month_bounds(year, mon)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("month must be YYYY-MM", field_errors={"month": "YYYY-MM"}) from exc


def qmb_periods(organization_id: int, first: dt.date, last: dt.date,
                patient_ids: list[int] | None = None) -> dict[int, list[rules.QmbPeriod]]:
    """All of each patient's QMB periods (not only the month's: a state-Medicaid period that ended before the
    month still overrides a 271 that says QMB continues; rules.effective_qmb_periods)."""
    del first, last
    qs = Coverage.objects.filter(organization_id=organization_id, kind=CoverageKind.QMB).exclude(
        status__in=["cancelled", "entered-in-error"])
    if patient_ids is not None:
        qs = qs.filter(patient_id__in=patient_ids)
    out: dict[int, list[rules.QmbPeriod]] = defaultdict(list)
    for pid, start, end, source in qs.values_list("patient_id", "start", "end", "source"):
        out[pid].append(rules.QmbPeriod(start, end, source))
    return out


def device_days(organization_id: int, first: dt.date, last: dt.date) -> dict[tuple[int, str], int]:
    rows = (
        DeviceDayCount.objects.filter(organization_id=organization_id, day__gte=first, day__lte=last, readings__gt=0)
        .values("patient_id", "kind").annotate(n=Count("id")).values_list("patient_id", "kind", "n")
    )
    return {(pid, kind): int(n) for pid, kind, n in rows}


@dataclass(frozen=True)
class EligibilityRun:
    month: str
    patients: int
    decisions: int
    eligible: dict[str, int]
    levels: dict[str, int]


def month_facts(organization_id: int, month: str, patient_ids: list[int] | None = None) -> dict[int, rules.MonthFacts]:
    """The facts per active patient for ``month``. The chronic count is the risk app's CCW count as of the
    month's last day (conditions recorded or resolved during the month count when in force that day)."""
    first, last = parse_month(month)
    frame = population.read_patients(organization_id, patient_ids)
    pids = frame.get_column("pid").to_list()
    conditions, _ = population.condition_measures(organization_id, last, patient_ids)
    cond = {r["pid"]: r for r in conditions.iter_rows(named=True)}
    screens = {r["pid"]: r for r in population.screening_signals(organization_id, last, patient_ids)
               .iter_rows(named=True)}
    admissions = {r["pid"]: r for r in population.encounter_measures(organization_id, last, patient_ids)
                  .iter_rows(named=True)}
    qmb = qmb_periods(organization_id, first, last, patient_ids)
    tiers = risk_tiers(organization_id, pids)
    devices = device_days(organization_id, first, last)
    out: dict[int, rules.MonthFacts] = {}
    for pid in pids:
        c = cond.get(pid) or {}
        out[pid] = rules.MonthFacts(
            month=month,
            chronic_count=int(c.get("chronic_count") or 0),
            chronic_conditions=tuple(c.get("chronic_conditions") or ()),
            qmb=rules.qmb_in_month(qmb.get(pid, []), first, last),
            tier=tiers.get(pid, ""),
            admissions_12m=int((admissions.get(pid) or {}).get("admissions_12m") or 0),
            bh_dx=bool(c.get("bh_dx")),
            bh_screens=tuple((screens.get(pid) or {}).get("bh_screens") or ()),
            rpm_days=devices.get((pid, "rpm"), 0),
            rtm_days=devices.get((pid, "rtm"), 0),
        )
    return out


def compute_eligibility(*, organization_id: int, month: str, actor: Actor) -> EligibilityRun:
    """Recompute every active patient's decisions for ``month`` (replacing the month's rows)."""
    if actor.role != "system" and (actor.organization_id != organization_id
                                   or not access.has_permission(actor.role, "program.eligibility_run")):
        raise PermissionDenied(f"role {actor.role!r} may not recompute eligibility")
    tables.count_config()  # fail early if the risk tables are missing
    facts = month_facts(organization_id, month)
    rs = rules.ruleset()
    now = clock.now()
    rows: list[tuple[object, ...]] = []
    eligible: dict[str, int] = defaultdict(int)
    levels: dict[str, int] = defaultdict(int)
    for pid, f in facts.items():
        for d in rules.decide(f, rs):
            rows.append((organization_id, pid, month, str(d.program), d.eligible, d.level, list(d.rule_ids),
                         d.facts, list(d.signals), rs.version, now, now, now))
            if d.eligible:
                eligible[str(d.program)] += 1
            if d.level:
                levels[d.level] += 1
    cols = ["organization_id", "patient_id", "month", "program", "eligible", "level", "rule_ids", "facts", "signals",
            "ruleset", "computed_at", "created_at", "updated_at"]
    with transaction.atomic():
        EligibilityDecision.objects.filter(organization_id=organization_id, month=month).delete()
        for i in range(0, len(rows), CHUNK):
            insert_rows(EligibilityDecision, cols, rows[i : i + CHUNK])
        record_event(actor=actor, organization_id=organization_id, action="eligibility.computed",
                     object_type="EligibilityRun", object_id=month,
                     detail={"patients": len(facts), "eligible": dict(eligible), "levels": dict(levels),
                             "ruleset": rs.version})
    return EligibilityRun(month, len(facts), len(rows), dict(eligible), dict(levels))
