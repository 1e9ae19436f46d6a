"""Billing reads, scoped by organization.

``month_facts`` builds the facts of every patient-month in bulk: one query per source table for the whole month
(enrollments with consent, time entries, device days, transition episodes, outreach attempts, ambulatory visits,
QMB periods, earlier claim lines) plus the programs/risk population function for chronic conditions, then groups
them in Python. No per-patient queries. The facts are plain JSON in the scenario-file format
(docs/billing-scenarios.md), so a stored decision can be replayed with ``careloop billing evaluate``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from careloop.billing import fees
from careloop.billing.choices import ACTIVE_STATUSES, LineStatus
from careloop.billing.models import (
    BillingRun,
    BillingSettings,
    ClaimCorrection,
    ClaimLine,
    FeeScheduleEntry,
    PatientMonthDecision,
)
from careloop.clinics.models import Organization, Practitioner
from careloop.programs import rules as program_rules
from careloop.programs.eligibility import month_facts as program_month_facts
from careloop.programs.eligibility import parse_month, qmb_periods
from careloop.programs.models import DeviceDayCount, Enrollment, ProgramConsent
from careloop.registry.choices import CoverageKind, EncounterClass
from careloop.registry.models import Condition, Coverage, Encounter, Patient
from careloop.risk import population, tables
from careloop.transitions.models import TransitionEpisode
from careloop.worklist.choices import Outcome
from careloop.worklist.models import OutreachAttempt, TimeEntry

ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")
CARE_PROGRAMS = ("APCM", "CCM", "PCM", "BHI", "CoCM", "RPM", "RTM")
STATE_SOURCE = "state-medicaid"


def settings_for(organization: Organization) -> BillingSettings:
    row = BillingSettings.objects.filter(organization=organization).first()
    return row if row is not None else BillingSettings(organization=organization)


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    return parse_month(month)


# ---------- facts for the monthly run ----------


def patients_for_month(*, organization_id: int, month: str) -> list[int]:
    """Patients with a care-management enrollment in force on some day of the month, or a discharge whose TCM
    period reaches into it."""
    first, last = month_bounds(month)
    enrolled = Enrollment.objects.filter(
        Q(end__isnull=True) | Q(end__gte=first), organization_id=organization_id, start__lte=last,
        program__in=CARE_PROGRAMS,
    ).values_list("patient_id", flat=True)
    since = dt.datetime.combine(first - dt.timedelta(days=30), dt.time.min, tzinfo=dt.UTC)
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    episodes = TransitionEpisode.objects.filter(
        organization_id=organization_id, discharged_at__gte=since, discharged_at__lt=until
    ).exclude(status="cancelled").values_list("patient_id", flat=True)
    live = set(Patient.objects.filter(organization_id=organization_id, active=True).values_list("id", flat=True))
    return sorted((set(enrolled) | set(episodes)) & live)


def _local(value: dt.datetime | None, zone: ZoneInfo) -> dt.date | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone).date()


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _chunks(ids: Sequence[int], size: int = 5_000) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


@dataclass(frozen=True)
class MonthContext:
    """What the whole organization-month shares: practice, practitioners, settings."""

    organization_id: int
    month: str
    first: dt.date
    last: dt.date
    zone: ZoneInfo
    practice: dict[str, Any]
    practitioners: dict[int, dict[str, Any]]  # pk -> {"id", "npi", "tin", "qp"}
    settings: BillingSettings


def month_context(organization: Organization, month: str, *, capabilities: Sequence[Any] | None = None,
                  pathways: dict[int, str] | None = None) -> MonthContext:
    """``pathways``: practitioner id -> APCM performance-measurement pathway (None = not assessed)."""
    first, last = month_bounds(month)
    cfg = settings_for(organization)
    qp = set(cfg.qp_npis or [])
    practitioners: dict[int, dict[str, Any]] = {
        pk: {"id": str(pk), "npi": npi, "tin": tin or organization.tin, "qp": npi in qp}
        for pk, npi, tin in Practitioner.objects.filter(organization=organization).values_list("pk", "npi", "tin")
    }
    if pathways is not None:  # assessed: a practitioner without a recorded pathway has none (APCM-011 flags it)
        for pk, row in practitioners.items():
            row["apcm_perf_pathway"] = pathways.get(pk, "NONE")
    practice: dict[str, Any] = {"type": organization.practice_type, "tin": organization.tin, "strict": cfg.strict}
    if capabilities is not None:
        practice["capabilities"] = [
            {"key": c.key, "effective_from": c.effective_from.isoformat(),
             "effective_to": _iso(c.effective_to), "evidence": c.evidence} for c in capabilities
        ]
    return MonthContext(organization.pk, month, first, last, ZoneInfo(organization.time_zone), practice,
                        practitioners, cfg)


def _chronic_icd(org: int, last: dt.date, pids: Sequence[int], groups: dict[int, tuple[str, ...]]
                 ) -> dict[int, list[str]]:
    """One in-force ICD-10 code per counted chronic-condition group (the CCW count the APCM level is decided
    from), in code order: the claim's diagnoses. A group known only from a SNOMED code has no ICD-10 here."""
    cfg = tables.count_config()
    by_pid: dict[int, set[str]] = defaultdict(set)
    wanted_ids = set(pids)
    for chunk in _chunks(sorted(pids)):  # by id range (index), not 5,000 bound ids; others in the range dropped
        rows = Condition.objects.filter(population.in_force_q(last, cfg), organization_id=org,
                                        patient_id__gte=chunk[0], patient_id__lte=chunk[-1]).exclude(
            icd10="").values_list("patient_id", "icd10")
        for pid, code in rows:
            if pid in wanted_ids:
                by_pid[pid].add(code.replace(".", "").strip().upper())
    codes = sorted({c for cs in by_pid.values() for c in cs})
    maps = population.code_maps(codes).ccw
    keys: dict[str, set[str]] = defaultdict(set)
    for code, key, weak in maps.iter_rows():
        if not weak:
            keys[code].add(cfg.groups.get(key, key))
    out: dict[int, list[str]] = {}
    for pid in pids:
        wanted = set(groups.get(pid, ()))
        chosen: list[str] = []
        for code in sorted(by_pid.get(pid, ())):
            hit = keys.get(code, set()) & wanted
            if hit:
                chosen.append(code)
                wanted -= hit
        # the engine counts conditions: a group known without an ICD-10 code (SNOMED only) still counts, named
        # CCW:<group>; the claim's diagnoses are only the ICD-10 codes (claim_diagnoses)
        out[pid] = chosen + [f"CCW:{g}" for g in sorted(wanted)]
    return out


def month_facts(ctx: MonthContext, pids: Sequence[int], *, apcm_activity: dict[int, bool] | None = None
                ) -> dict[int, dict[str, Any]]:
    """patient id -> facts (scenario-file JSON) for the month."""
    org, first, last, zone = ctx.organization_id, ctx.first, ctx.last, ctx.zone
    ids = sorted(pids)
    idset = set(ids)
    if not ids:
        return {}
    # the chunk's patients are a sorted id range: each source table is read by range (index), not org-wide
    span: dict[str, int] = {"patient_id__gte": ids[0], "patient_id__lte": ids[-1]}
    pm = program_month_facts(org, ctx.month, ids)
    groups = {pid: f.chronic_conditions for pid, f in pm.items()}
    icd = _chronic_icd(org, last, ids, groups)
    qmb = qmb_periods(org, first, last, ids)

    # enrollments (any that overlap the 12 months before the month end: last care management, initiating visit)
    year_ago = last - dt.timedelta(days=365)
    enrollments: dict[int, list[dict[str, Any]]] = defaultdict(list)
    last_cm: dict[int, dt.date] = {}
    consent = {
        eid: (obtained, disclosures)
        for eid, obtained, disclosures in ProgramConsent.objects.filter(organization_id=org, **span).values_list(
            "enrollment_id", "obtained_at", "disclosures")
    }
    by_program: dict[tuple[int, str], list[tuple[dt.date, dt.date | None, int]]] = defaultdict(list)
    rows = Enrollment.objects.filter(Q(end__isnull=True) | Q(end__gte=year_ago), organization_id=org,
                                     start__lte=last, **span).values_list(
        "id", "patient_id", "program", "start", "end", "billing_practitioner_id", "initiating_visit_on")
    for eid, pid, program, start, end, prac, visit_on in rows:
        if pid not in idset:
            continue
        if end is not None and end < first:  # ended before the month: counts as earlier care management
            if program in CARE_PROGRAMS[:5] and (pid not in last_cm or end > last_cm[pid]):
                last_cm[pid] = end
            continue
        obtained, disclosures = consent.get(eid, (None, None))
        enrollments[pid].append({
            "program": program, "practitioner": str(prac), "consent_date": _iso(_local(obtained, zone)),
            "start": start.isoformat(), "end": _iso(end),
            "consent_disclosures": sorted(disclosures) if disclosures is not None else None,
            "initiating_visit": _iso(visit_on),
        })
        by_program[(pid, program)].append((start, end, prac))
        if start < first and program in CARE_PROGRAMS[:5]:
            last_cm[pid] = max(last_cm.get(pid, first - dt.timedelta(days=1)), first - dt.timedelta(days=1))

    def practitioner_for(pid: int, program: str, day: dt.date) -> str | None:
        for prog in (program, "APCM", *CARE_PROGRAMS):
            for start, end, prac in by_program.get((pid, prog), ()):
                if start <= day and (end is None or end >= day):
                    return str(prac)
        for prog in CARE_PROGRAMS:
            for _s, _e, prac in by_program.get((pid, prog), ()):
                return str(prac)
        return None

    # time entries of the month (not voided)
    time_entries: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for pid, staff_type, program, minutes, day, interactive in TimeEntry.objects.filter(
        organization_id=org, service_date__gte=first, service_date__lte=last, voided=False, **span
    ).values_list("patient_id", "staff_type", "program", "minutes", "service_date", "interactive").order_by(
        "patient_id", "service_date", "id"
    ):
        if pid not in idset:
            continue
        time_entries[pid].append({
            "practitioner": practitioner_for(pid, program, day) or "", "staff_type": staff_type,
            "program": program, "minutes": minutes, "date": day.isoformat(), "interactive": interactive,
        })

    # device days: distinct days with data per 30-day period from the monitoring enrollment's start; the periods
    # that start in the month are this month's
    device: dict[int, list[dict[str, Any]]] = defaultdict(list)
    days_by: dict[tuple[int, str], list[dt.date]] = defaultdict(list)
    for pid, kind, day in DeviceDayCount.objects.filter(
        organization_id=org, day__gte=first - dt.timedelta(days=30), day__lte=last + dt.timedelta(days=30), **span,
        readings__gt=0,
    ).values_list("patient_id", "kind", "day"):
        if pid in idset:
            days_by[(pid, kind)].append(day)
    for (pid, kind), days in days_by.items():
        program = kind.upper()
        spans = by_program.get((pid, program)) or []
        start = min((s for s, _e, _p in spans), default=min(days))
        dprac = practitioner_for(pid, program, last)
        offset = max(0, (first - start).days // 30)
        period = start + dt.timedelta(days=30 * offset)
        while period <= last:
            if period >= first:
                end = period + dt.timedelta(days=29)
                n = len({d for d in days if period <= d <= end})
                if n:
                    device[pid].append({"program": program, "days": n, "period_start": period.isoformat(),
                                        "practitioner": dprac, "setup": period == start,
                                        "episode_start": start.isoformat()})
            period += dt.timedelta(days=30)

    # transition episodes discharged in the month or the 30 days before (TCM periods that reach into it)
    since = dt.datetime.combine(first - dt.timedelta(days=31), dt.time.min, tzinfo=dt.UTC)
    until = dt.datetime.combine(last + dt.timedelta(days=2), dt.time.min, tzinfo=dt.UTC)
    episodes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    ep_rows = list(TransitionEpisode.objects.filter(
        organization_id=org, discharged_at__gte=since, discharged_at__lt=until, **span,
    ).exclude(status="cancelled").values_list(
        "patient_id", "setting", "discharged_at", "contact_done", "contact_at", "visit_at", "medrec_at",
        "disposition", "tcm_eligible").order_by("patient_id", "discharged_at"))
    attempts: dict[int, list[dt.date]] = defaultdict(list)
    if ep_rows:
        for pid, at in OutreachAttempt.objects.filter(
            organization_id=org, at__gte=since, at__lt=until + dt.timedelta(days=14), **span,
        ).exclude(outcome=Outcome.REACHED).values_list("patient_id", "at"):
            if pid in idset:
                attempts[pid].append(_local(at, zone))  # type: ignore[arg-type]
    for pid, setting, discharged, done, contact_at, visit_at, medrec_at, disposition, tcm_ok in ep_rows:
        if pid not in idset:
            continue
        d = _local(discharged, zone)
        assert d is not None
        to = "community" if tcm_ok else (disposition or "other")
        episodes[pid].append({
            "setting": setting, "discharge": d.isoformat(),
            "contact": _iso(_local(contact_at, zone)) if done else None,
            "attempts": sorted({a.isoformat() for a in attempts.get(pid, []) if d <= a <= d + dt.timedelta(days=14)}),
            "visit": _iso(_local(visit_at, zone)), "mdm": None,
            "practitioner": practitioner_for(pid, "TCM", d), "discharged_to": to,
            "medrec": _iso(_local(medrec_at, zone)),
        })

    # ambulatory visits: the last one by the practice (initiating visit, 3-year rule) and this month's
    last_visit: dict[int, dt.date] = {}
    visits: dict[int, list[dict[str, Any]]] = defaultdict(list)
    end_dt = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    first_dt = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    for pid, begun, type_code in Encounter.objects.filter(
        organization_id=org, class_code=EncounterClass.AMB, start__lt=end_dt, **span,
        start__gte=end_dt - dt.timedelta(days=3 * 366),
    ).exclude(status__in=["cancelled", "entered-in-error", "planned"]).values_list("patient_id", "start", "type_code"):
        vday = _local(begun, zone)
        if pid not in idset or begun is None or vday is None:
            continue
        if pid not in last_visit or vday > last_visit[pid]:
            last_visit[pid] = vday
        vcode = (type_code or "").strip().upper()
        if begun >= first_dt and re.fullmatch(r"[0-9]{5}|[A-Z][0-9]{4}", vcode):
            # billed by the EHR's own claims: context for the rules (frequency, TCM visit), never re-billed here
            visits[pid].append({"code": vcode, "practitioner": "", "date": vday.isoformat(), "units": 1})

    # claim lines billed for the patient in the 12 months before the month (frequency and episode limits)
    other: dict[int, list[dict[str, Any]]] = defaultdict(list)
    index = first.year * 12 + first.month - 1
    earlier = [f"{(index - k) // 12:04d}-{(index - k) % 12 + 1:02d}" for k in range(1, 13)]
    for pid, ccode, cprac, cday, units in ClaimLine.objects.filter(
        organization_id=org, month__in=earlier, status=LineStatus.BILLABLE, **span
    ).values_list("patient_id", "code", "practitioner_id", "service_date", "units"):
        if pid in idset and cday is not None:
            other[pid].append({"code": ccode, "practitioner": str(cprac or ""), "date": cday.isoformat(),
                               "units": units})

    out: dict[int, dict[str, Any]] = {}
    for pid in ids:
        f = pm.get(pid)
        chronic = list(icd.get(pid, []))
        periods = program_rules.effective_qmb_periods(qmb.get(pid, []))
        ens = enrollments.get(pid, [])
        used = {e["practitioner"] for e in ens} | {t["practitioner"] for t in time_entries.get(pid, [])}
        patient: dict[str, Any] = {
            "chronic_conditions": chronic,
            "qmb_periods": [[_iso(p.start) or "1900-01-01", _iso(p.end)] for p in periods],
            "bh_diagnosis": bool(f.bh_dx) if f else False,
            "last_visit_by_practice": _iso(last_visit.get(pid)),
            "last_care_management": _iso(last_cm.get(pid)),
        }
        if apcm_activity is not None and pid in apcm_activity:
            patient["apcm_monthly_activity"] = apcm_activity[pid]
        out[pid] = {
            "month": ctx.month, "practice": ctx.practice, "patient": patient, "enrollments": ens,
            "time_entries": time_entries.get(pid, []), "device_days": device.get(pid, []),
            "episodes": episodes.get(pid, []), "other_claims": other.get(pid, []) + visits.get(pid, []),
            "practitioners": [ctx.practitioners[int(p)] for p in sorted(used) if p and int(p) in ctx.practitioners],
        }
    return out


def qmb_in_month(facts: dict[str, Any]) -> bool:
    first, last = month_bounds(facts["month"])
    for start, end in facts["patient"].get("qmb_periods") or []:
        if dt.date.fromisoformat(start) <= last and (end is None or dt.date.fromisoformat(end) >= first):
            return True
    return False


def claim_diagnoses(facts: dict[str, Any]) -> list[str]:
    """The patient's qualifying chronic conditions that are real ICD-10-CM codes, at most 12 (837P HI)."""
    return [c for c in facts["patient"].get("chronic_conditions") or [] if ICD10.match(c)][:12]


# ---------- fee schedule ----------


def fee_table(*, year: int, locality: str) -> dict[str, fees.Fee]:
    """Loaded amounts for (year, locality) over the shipped CY2026 national table."""
    table = dict(fees.default_table())
    for code, nf, f, nf_qp, f_qp, source in FeeScheduleEntry.objects.filter(
        year=year, locality=locality, modifier=""
    ).values_list("code", "nf_amount", "f_amount", "nf_amount_qp", "f_amount_qp", "source"):
        table[code] = fees.Fee(code, nf, f, nf_qp, f_qp, source)
    return table


def fee_rows(*, year: int | None = None, locality: str | None = None) -> QuerySet[FeeScheduleEntry]:
    qs = FeeScheduleEntry.objects.all()
    if year is not None:
        qs = qs.filter(year=year)
    if locality is not None:
        qs = qs.filter(locality=locality)
    return qs.order_by("year", "locality", "code")


# ---------- month views ----------


def runs(*, organization_id: int, month: str | None = None) -> QuerySet[BillingRun]:
    qs = BillingRun.objects.filter(organization_id=organization_id)
    if month:
        qs = qs.filter(month=month)
    return qs.order_by("-started_at", "-pk")


def decisions(*, organization_id: int, month: str) -> QuerySet[PatientMonthDecision]:
    return PatientMonthDecision.objects.filter(organization_id=organization_id, month=month).order_by("patient_id")


def decision_for(*, organization_id: int, patient_id: int, month: str) -> PatientMonthDecision | None:
    return PatientMonthDecision.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                               month=month).first()


def lines(*, organization_id: int, month: str, statuses: Sequence[str] = ACTIVE_STATUSES,
          patient_id: int | None = None) -> QuerySet[ClaimLine]:
    qs = ClaimLine.objects.filter(organization_id=organization_id, month=month, status__in=list(statuses))
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("patient_id", "code", "pk")


def corrections(*, organization_id: int, month: str, patient_id: int | None = None) -> QuerySet[ClaimCorrection]:
    qs = ClaimCorrection.objects.filter(organization_id=organization_id, month=month)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("patient_id", "pk")


@dataclass(frozen=True)
class MonthRow:
    """One patient-month for the billing page: codes and amounts, denials and flags with their reasons."""

    patient_id: int
    name: str
    revision: int
    billable: list[dict[str, Any]]
    denied: list[dict[str, Any]]
    flagged: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    allowed: Decimal
    patient_share: Decimal


@dataclass(frozen=True)
class MonthSummary:
    month: str
    patients: int
    billable_lines: int
    denied: int
    flagged: int
    corrections: int
    allowed: Decimal
    patient_share: Decimal
    by_code: dict[str, int]


def _line_json(ln: ClaimLine) -> dict[str, Any]:
    return {
        "id": ln.pk, "code": ln.code, "units": ln.units, "practitioner_id": ln.practitioner_id,
        "service_date": _iso(ln.service_date), "rule_ids": list(ln.rule_ids or []), "reason": ln.reason,
        "status": ln.status, "allowed_amount": str(ln.allowed_amount), "patient_share": str(ln.patient_share),
        "diagnoses": list(ln.diagnoses or []), "place_of_service": ln.place_of_service,
    }


def month_rows(*, organization_id: int, month: str, status: str = "", limit: int = 500,
               offset: int = 0) -> tuple[list[MonthRow], int]:
    """Patient-months with their current lines (most recent decisions first by patient), and the total."""
    qs = decisions(organization_id=organization_id, month=month)
    if status in (LineStatus.DENIED, LineStatus.FLAGGED, LineStatus.BILLABLE):
        qs = qs.filter(pk__in=ClaimLine.objects.filter(organization_id=organization_id, month=month,
                                                        status=status).values("decision_id"))
    total = qs.count()
    page = list(qs.values_list("pk", "patient_id", "revision", "decision")[offset : offset + limit])
    pids = [p for _d, p, _r, _j in page]
    names = {pk: f"{fam}, {giv}".strip(", ") for pk, fam, giv in
             Patient.objects.filter(organization_id=organization_id, pk__in=pids).values_list("pk", "family", "given")}
    by_decision: dict[int, list[ClaimLine]] = defaultdict(list)
    for ln in ClaimLine.objects.filter(organization_id=organization_id, decision_id__in=[d for d, *_ in page],
                                       status__in=list(ACTIVE_STATUSES)).order_by("code", "pk"):
        by_decision[ln.decision_id].append(ln)
    out: list[MonthRow] = []
    for did, pid, rev, dec in page:
        lns = by_decision.get(did, [])
        bill = [ln for ln in lns if ln.status == LineStatus.BILLABLE]
        out.append(MonthRow(
            pid, names.get(pid, str(pid)), rev, [_line_json(ln) for ln in bill],
            [_line_json(ln) for ln in lns if ln.status == LineStatus.DENIED],
            [_line_json(ln) for ln in lns if ln.status == LineStatus.FLAGGED],
            list((dec or {}).get("warnings") or []),
            sum((ln.allowed_amount for ln in bill), Decimal("0.00")),
            sum((ln.patient_share for ln in bill), Decimal("0.00")),
        ))
    return out, total


def month_summary(*, organization_id: int, month: str) -> MonthSummary:
    patients = decisions(organization_id=organization_id, month=month).count()
    by_code: dict[str, int] = defaultdict(int)
    allowed = share = Decimal("0.00")
    denied = flagged = billable = 0
    for code, units, status, amount, ps in ClaimLine.objects.filter(
        organization_id=organization_id, month=month, status__in=list(ACTIVE_STATUSES)
    ).values_list("code", "units", "status", "allowed_amount", "patient_share"):
        if status == LineStatus.BILLABLE:
            billable += 1
            by_code[code] += units
            allowed += amount
            share += ps
        elif status == LineStatus.DENIED:
            denied += 1
        else:
            flagged += 1
    n_corr = corrections(organization_id=organization_id, month=month).count()
    return MonthSummary(month, patients, billable, denied, flagged, n_corr, allowed, share,
                        dict(sorted(by_code.items())))


# ---------- claims (read by the 837P and CSV exports) ----------


@dataclass(frozen=True)
class ClaimService:
    code: str
    units: int
    charge: Decimal
    service_date: dt.date
    place_of_service: str
    diagnoses: tuple[str, ...]
    rendering_npi: str
    line_id: int


@dataclass(frozen=True)
class PatientClaim:
    """One claim: a patient-month's billable lines under one billing practitioner."""

    patient_id: int
    month: str
    family: str
    given: str
    birth_date: dt.date | None
    sex: str
    mbi: str
    address_line: str
    city: str
    state: str
    postal_code: str
    rendering_npi: str
    rendering_family: str
    rendering_given: str
    diagnoses: tuple[str, ...]
    services: tuple[ClaimService, ...]
    qmb: bool
    patient_share: Decimal

    @property
    def total(self) -> Decimal:
        return sum((s.charge for s in self.services), Decimal("0.00"))


def month_claims(*, organization_id: int, month: str, batch: int = 5_000) -> Iterable[PatientClaim]:
    """The month's billable lines grouped into claims (patient x billing practitioner), streamed in batches."""
    practitioners = {pk: (npi, fam, giv) for pk, npi, fam, giv in Practitioner.objects.filter(
        organization_id=organization_id).values_list("pk", "npi", "family", "given")}
    base = ClaimLine.objects.filter(organization_id=organization_id, month=month, status=LineStatus.BILLABLE)
    pids = sorted(set(base.values_list("patient_id", flat=True)))
    for chunk in _chunks(pids, batch):
        lines_by: dict[tuple[int, int | None], list[tuple[Any, ...]]] = defaultdict(list)
        for row in base.filter(patient_id__in=chunk).values_list(
            "patient_id", "practitioner_id", "code", "units", "amount", "service_date", "place_of_service",
            "diagnoses", "pk", "patient_share",
        ).order_by("patient_id", "practitioner_id", "pk"):
            lines_by[(row[0], row[1])].append(row)
        pats = {r[0]: r for r in Patient.objects.filter(organization_id=organization_id, pk__in=chunk).values_list(
            "pk", "family", "given", "birth_date", "sex", "mbi", "address_line", "city", "state", "postal_code")}
        no_mbi = [pk for pk, row in pats.items() if not row[5]]
        mbis: dict[int, str] = {}
        if no_mbi:  # the MBI from the Medicare Part B coverage when the patient row has none
            for pid, member in Coverage.objects.filter(
                organization_id=organization_id, patient_id__in=no_mbi, kind=CoverageKind.MEDICARE_PART_B
            ).exclude(member_id="").order_by("patient_id", "-start").values_list("patient_id", "member_id"):
                mbis.setdefault(pid, member.replace("-", "").strip().upper())
        qmb_months = set(PatientMonthDecision.objects.filter(
            organization_id=organization_id, month=month, patient_id__in=chunk, decision__qmb=True
        ).values_list("patient_id", flat=True))
        bare = sorted({pid for (pid, _p), rows in lines_by.items() if not any(r[7] for r in rows)})
        active: dict[int, list[str]] = defaultdict(list)
        if bare:  # lines without a chronic-condition diagnosis (RPM, TCM): the patient's active ICD-10 codes
            for pid, code in Condition.objects.filter(
                organization_id=organization_id, patient_id__in=bare, clinical_status="active"
            ).exclude(icd10="").order_by("patient_id", "icd10").values_list("patient_id", "icd10").distinct():
                code = code.replace(".", "").strip().upper()
                if ICD10.match(code) and code not in active[pid] and len(active[pid]) < 12:
                    active[pid].append(code)
        for (pid, prac), rows in lines_by.items():
            p = pats[pid]
            npi, pfam, pgiv = practitioners.get(prac or 0, ("", "", ""))
            dx: list[str] = []
            for r in rows:
                for code in r[7] or []:
                    if code not in dx and len(dx) < 12:
                        dx.append(code)
            dx = dx or active.get(pid, [])
            services = tuple(
                ClaimService(r[2], r[3], r[4], r[5], r[6], tuple(r[7] or ()), npi, r[8]) for r in rows
            )
            yield PatientClaim(pid, month, p[1], p[2], p[3], p[4], p[5] or mbis.get(pid, ""), p[6], p[7], p[8], p[9],
                               npi, pfam, pgiv,
                               tuple(dx), services, pid in qmb_months,
                               sum((r[9] for r in rows), Decimal("0.00")))
