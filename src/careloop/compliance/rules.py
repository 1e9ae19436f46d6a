"""APCM compliance rules: capabilities in force for a month, per-patient element coverage (cms-rules 2.6, 2.7, 8),
the month summary, and evidence the platform itself suggests for each practice capability.

Pure: no database, no clock. Callers gather the facts in bulk (compliance.selectors) and pass the month and the
``as_of`` day in.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from careloop.compliance.choices import CAPABILITY_KEYS, ELEMENTS, CapabilityKey, Element, EvidenceStatus

K = CapabilityKey
E = Element
S = EvidenceStatus

REQUIRED_DISCLOSURES = ("availability", "cost_sharing", "one_practitioner_per_month", "right_to_stop")
MEDREC_LOOKBACK_DAYS = 365
FOLLOWUP_DAYS = 7

# The practice capabilities each element group rests on (cms-rules 2.6 "practice-level capability requirements").
ELEMENT_CAPABILITIES: dict[str, tuple[str, ...]] = {
    E.ACCESS_CONTINUITY: (K.ACCESS_24X7, K.DESIGNATED_MEMBER, K.ALTERNATIVE_DELIVERY),
    E.CARE_PLAN: (K.ELECTRONIC_CARE_PLAN,),
    E.TRANSITIONS: (K.EHI_EXCHANGE,),
    E.COMMUNICATION: (K.ASYNC_COMMUNICATION,),
    E.POPULATION: (K.POPULATION_GAP_ANALYSIS, K.RISK_STRATIFICATION),
}


def parse_month(month: str) -> tuple[dt.date, dt.date]:
    """'YYYY-MM' -> (first day, last day). Raises ValueError on anything else."""
    if len(month) != 7 or month[4] != "-":
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    first = dt.date(int(month[:4]), int(month[5:]), 1)
    nxt = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


# ---------- capabilities ----------


@dataclass(frozen=True)
class CapabilityPeriod:
    key: str
    effective_from: dt.date
    effective_to: dt.date | None = None
    evidence: str = ""


def overlaps(p: CapabilityPeriod, first: dt.date, last: dt.date) -> bool:
    """In force on at least one day of [first, last]."""
    return p.effective_from <= last and (p.effective_to is None or p.effective_to >= first)


def periods_in_month(periods: Iterable[CapabilityPeriod], month: str) -> tuple[CapabilityPeriod, ...]:
    """The records in force on at least one day of the month, by key then start (what the billing run receives)."""
    first, last = parse_month(month)
    return tuple(sorted((p for p in periods if overlaps(p, first, last)), key=lambda p: (p.key, p.effective_from)))


def keys_in_force(periods: Iterable[CapabilityPeriod], first: dt.date, last: dt.date) -> frozenset[str]:
    """Keys whose records, together, cover every day of [first, last] ("current for the service month")."""
    by_key: dict[str, list[CapabilityPeriod]] = {}
    for p in periods:
        if overlaps(p, first, last):
            by_key.setdefault(p.key, []).append(p)
    out = set()
    for key, ps in by_key.items():
        day = first
        for p in sorted(ps, key=lambda p: p.effective_from):
            if p.effective_from > day:
                break
            if p.effective_to is None or p.effective_to >= last:
                day = last + dt.timedelta(days=1)
                break
            day = max(day, p.effective_to + dt.timedelta(days=1))
        if day > last:
            out.add(key)
    return frozenset(out)


def missing_capabilities(in_force: frozenset[str]) -> tuple[str, ...]:
    return tuple(k for k in CAPABILITY_KEYS if k not in in_force)


# ---------- per-patient element coverage ----------


@dataclass(frozen=True)
class Discharge:
    discharged_on: dt.date
    followup_due: dt.date  # last day of the 7-calendar-day follow-up window
    contact_on: dt.date | None = None
    facility: str = ""


@dataclass(frozen=True)
class PatientMonthFacts:
    """What the platform knows about one APCM patient for one month (clinic-local dates)."""

    patient_id: int
    consent_on: dt.date | None = None
    consent_disclosures: tuple[str, ...] = ()
    initiating_visit: str = "missing"  # visit | care-management | missing
    initiating_visit_on: dt.date | None = None
    designated_member: str = ""  # name of the designated care-team member in force in the month
    access_notice_on: dt.date | None = None  # patient told how to reach the team 24/7
    medrec_on: dt.date | None = None  # latest medication reconciliation on or before the month's last day
    care_management_minutes: int = 0  # medication-management and care-plan minutes in the month
    plan_version: int | None = None  # care-plan version in force at the month's end
    plan_sections: frozenset[str] = frozenset()  # non-empty sections of that version
    plan_shared_with_patient: bool = False  # portal account or caregiver proxy can see it
    plan_shared_outside: bool = False  # shared with a partner outside the practice
    discharges: tuple[Discharge, ...] = ()  # discharges in the month
    coordination_events: int = 0  # coordination/caregiver time entries and outreach attempts in the month
    portal_access: bool = False
    messages_in_month: int = 0
    risk_tier: str = ""
    billing_practitioner: str = ""
    pathway: str = ""  # performance-measurement pathway of the billing practitioner for the year


@dataclass(frozen=True)
class ElementResult:
    element: str
    status: str
    reason: str


@functools.cache
def _capability_gaps(element: str, in_force: frozenset[str]) -> tuple[str, ...]:
    """The element's practice capabilities that are not in force, as reasons (the same for every patient)."""
    return tuple(f"practice capability {k} not in force for the month"
                 for k in ELEMENT_CAPABILITIES.get(element, ()) if k not in in_force)


def _with_caps(element: str, in_force: frozenset[str], ok: bool, ok_reason: str, missing: list[str]) -> ElementResult:
    gaps = [*_capability_gaps(element, in_force), *missing]
    if ok and not gaps:
        return ElementResult(element, S.EVIDENCED, ok_reason)
    return ElementResult(element, S.MISSING, "; ".join(gaps))


def _consent(f: PatientMonthFacts, last: dt.date) -> ElementResult:
    if f.consent_on is None or f.consent_on > last:
        return ElementResult(E.CONSENT, S.MISSING, "no APCM consent recorded on or before the month's end")
    absent = [d for d in REQUIRED_DISCLOSURES if d not in f.consent_disclosures]
    if absent:
        return ElementResult(E.CONSENT, S.MISSING, f"consent of {f.consent_on} lacks disclosures: {', '.join(absent)}")
    return ElementResult(E.CONSENT, S.EVIDENCED, f"consent obtained {f.consent_on} with the four disclosures")


def _visit(f: PatientMonthFacts) -> ElementResult:
    if f.initiating_visit == "visit":
        return ElementResult(E.INITIATING_VISIT, S.EVIDENCED, f"seen by the practice on {f.initiating_visit_on}")
    if f.initiating_visit == "care-management":
        return ElementResult(E.INITIATING_VISIT, S.EVIDENCED, "care management by the practice within 12 months")
    return ElementResult(E.INITIATING_VISIT, S.MISSING, "no initiating visit (E/M, AWV or IPPE) recorded")


def _access(f: PatientMonthFacts, caps: frozenset[str]) -> ElementResult:
    missing = [] if f.designated_member else ["no designated care-team member in force"]
    notice = f"; told how to reach the team 24/7 on {f.access_notice_on}" if f.access_notice_on else ""
    return _with_caps(E.ACCESS_CONTINUITY, caps, bool(f.designated_member),
                      f"designated member {f.designated_member}{notice}", missing)


def _care_management(f: PatientMonthFacts, last: dt.date) -> ElementResult:
    found = []
    if f.medrec_on is not None and (last - f.medrec_on).days <= MEDREC_LOOKBACK_DAYS:
        found.append(f"medication reconciliation {f.medrec_on}")
    if f.care_management_minutes > 0:
        found.append(f"{f.care_management_minutes} min medication/care-plan management this month")
    if {"medications", "psychosocial"} <= f.plan_sections or {"medications", "functional"} <= f.plan_sections:
        found.append("care plan documents medications and needs assessment")
    if found:
        return ElementResult(E.CARE_MANAGEMENT, S.EVIDENCED, "; ".join(found))
    return ElementResult(E.CARE_MANAGEMENT, S.MISSING,
                         "no medication reconciliation in 12 months, no management time this month and no "
                         "needs assessment in the care plan")


def _care_plan(f: PatientMonthFacts, caps: frozenset[str]) -> ElementResult:
    if f.plan_version is None:
        return _with_caps(E.CARE_PLAN, caps, False, "", ["no care plan version in force (none recorded)"])
    missing = [] if f.plan_shared_with_patient else [f"care plan v{f.plan_version} not shared with the patient"]
    outside = "; shared outside the practice" if f.plan_shared_outside else ""
    return _with_caps(E.CARE_PLAN, caps, f.plan_shared_with_patient,
                      f"care plan v{f.plan_version} in force, shared with the patient{outside}", missing)


def _transitions(f: PatientMonthFacts, caps: frozenset[str], as_of: dt.date) -> ElementResult:
    if not f.discharges:
        return ElementResult(E.TRANSITIONS, S.NOT_APPLICABLE, "no discharge this month")
    missed, pending, met = [], [], []
    for d in sorted(f.discharges, key=lambda d: d.discharged_on):
        if d.contact_on is not None and d.contact_on <= d.followup_due:
            met.append(f"discharge {d.discharged_on}: contact {d.contact_on} (due {d.followup_due})")
        elif d.contact_on is None and as_of <= d.followup_due:
            pending.append(f"discharge {d.discharged_on}: contact due by {d.followup_due}")
        else:
            late = f", contact {d.contact_on}" if d.contact_on else ", no contact"
            missed.append(f"discharge {d.discharged_on}: 7-day follow-up missed (due {d.followup_due}{late})")
    if missed:
        return _with_caps(E.TRANSITIONS, caps, False, "", missed)
    if pending:
        return ElementResult(E.TRANSITIONS, S.PENDING, "; ".join(pending + met))
    return _with_caps(E.TRANSITIONS, caps, True, "; ".join(met), [])


def _coordination(f: PatientMonthFacts) -> ElementResult:
    found = []
    if f.coordination_events:
        found.append(f"{f.coordination_events} coordination contacts or time entries this month")
    if {"psychosocial", "goals"} <= f.plan_sections:
        found.append("care plan documents psychosocial needs and goals")
    if found:
        return ElementResult(E.COORDINATION, S.EVIDENCED, "; ".join(found))
    return ElementResult(E.COORDINATION, S.MISSING,
                         "no coordination activity this month and no psychosocial needs/goals in the care plan")


def _communication(f: PatientMonthFacts, caps: frozenset[str]) -> ElementResult:
    ok = f.portal_access or f.messages_in_month > 0
    detail = ", ".join(x for x in ("portal access" if f.portal_access else "",
                                   f"{f.messages_in_month} secure messages" if f.messages_in_month else "") if x)
    return _with_caps(E.COMMUNICATION, caps, ok, detail,
                      [] if ok else ["patient has no portal access and no secure messages this month"])


def _population(f: PatientMonthFacts, caps: frozenset[str]) -> ElementResult:
    return _with_caps(E.POPULATION, caps, bool(f.risk_tier), f"risk tier {f.risk_tier}; population gap analysis run",
                      [] if f.risk_tier else ["patient not risk-stratified"])


def _performance(f: PatientMonthFacts, year: int) -> ElementResult:
    if f.pathway:
        return ElementResult(E.PERFORMANCE, S.EVIDENCED, f"{f.billing_practitioner}: {f.pathway} for {year}")
    who = f.billing_practitioner or "the billing practitioner"
    return ElementResult(E.PERFORMANCE, S.MISSING, f"no performance-measurement pathway for {year} for {who}")


def element_coverage(f: PatientMonthFacts, *, capabilities: frozenset[str], month: str,
                     as_of: dt.date) -> tuple[ElementResult, ...]:
    """One result per element group, in ``ELEMENTS`` order. ``capabilities`` = keys in force for the month."""
    first, last = parse_month(month)
    return (
        _consent(f, last), _visit(f), _access(f, capabilities), _care_management(f, last),
        _care_plan(f, capabilities), _transitions(f, capabilities, as_of), _coordination(f),
        _communication(f, capabilities), _population(f, capabilities), _performance(f, first.year),
    )


# ---------- monthly activity (cms-rules 2.7 policy; APCM-012 support) ----------


@dataclass(frozen=True)
class ActivityCounts:
    """Documented APCM activity for one patient in one month."""

    time_entries: int = 0
    outreach: int = 0
    team_messages: int = 0
    after_hours_contacts: int = 0
    transition_contacts: int = 0
    plan_versions: int = 0
    medrecs: int = 0
    attestations: int = 0  # an affirmative monthly attestation (compliance.MonthlyAttestation)

    def total(self) -> int:
        return (self.time_entries + self.outreach + self.team_messages + self.after_hours_contacts
                + self.transition_contacts + self.plan_versions + self.medrecs + self.attestations)


def has_monthly_activity(counts: ActivityCounts | None) -> bool:
    """At least one documented APCM activity, or an attestation, in the month (the conservative default of
    cms-rules 2.7)."""
    return counts is not None and counts.total() > 0


# ---------- month summary ----------


@dataclass(frozen=True)
class ElementShare:
    element: str
    label: str
    evidenced: int
    missing: int
    pending: int
    not_applicable: int

    @property
    def applicable(self) -> int:
        return self.evidenced + self.missing + self.pending

    @property
    def share(self) -> float | None:
        return round(self.evidenced / self.applicable, 4) if self.applicable else None


@dataclass(frozen=True)
class Gap:
    patient_id: int
    element: str
    reason: str


@dataclass(frozen=True)
class CoverageSummary:
    month: str
    patients: int
    fully_evidenced: int
    elements: tuple[ElementShare, ...]
    gaps: tuple[Gap, ...] = field(default=())

    def as_json(self) -> dict[str, object]:
        return {
            "month": self.month, "patients": self.patients, "fully_evidenced": self.fully_evidenced,
            "elements": [{"element": e.element, "label": e.label, "evidenced": e.evidenced, "missing": e.missing,
                          "pending": e.pending, "not_applicable": e.not_applicable, "share": e.share}
                         for e in self.elements],
            "gaps": [{"patient_id": g.patient_id, "element": g.element, "reason": g.reason} for g in self.gaps],
        }


Results = Mapping[int, Sequence[ElementResult]] | Iterable[tuple[int, Sequence[ElementResult]]]


def summarize(month: str, results: Results, *, gap_limit: int = 500) -> CoverageSummary:
    """Counts per element and the first ``gap_limit`` gaps. ``results``: a mapping, or (patient id, results) pairs
    in patient order (streamed, so a 100,000-patient month is never held whole)."""
    labels = dict(Element.choices)
    counts = {e: {s: 0 for s in S.values} for e in ELEMENTS}
    gaps: list[Gap] = []
    full = 0
    n = 0
    pairs = sorted(results.items()) if isinstance(results, Mapping) else results
    for pid, patient_results in pairs:
        n += 1
        complete = True
        for r in patient_results:
            counts[r.element][r.status] += 1
            if r.status == S.MISSING:
                complete = False
                if len(gaps) < gap_limit:
                    gaps.append(Gap(pid, r.element, r.reason))
        full += complete
    shares = tuple(ElementShare(e, labels[e], c[S.EVIDENCED], c[S.MISSING], c[S.PENDING], c[S.NOT_APPLICABLE])
                   for e, c in counts.items())
    return CoverageSummary(month, n, full, shares, tuple(gaps))


# ---------- evidence the platform itself suggests ----------


@dataclass(frozen=True)
class PlatformSignals:
    """Counts the platform gathered for an organization and month."""

    on_call_shifts: int = 0
    after_hours_protocol: bool = False
    after_hours_contacts: int = 0
    designated_patients: int = 0
    home_or_virtual_visits: int = 0
    care_plans: int = 0
    plan_versions_in_month: int = 0
    partner_shares: int = 0
    adt_messages: int = 0
    transition_episodes: int = 0
    secure_messages: int = 0
    portal_accounts: int = 0
    care_gap_rows: int = 0
    care_gaps_computed_on: dt.date | None = None
    risk_run_on: dt.date | None = None
    risk_methodology: str = ""


def suggest_evidence(s: PlatformSignals, month: str) -> dict[str, str]:
    """capability key -> a sentence of evidence the platform holds for the month ("" when it holds none)."""
    out = dict.fromkeys(CAPABILITY_KEYS, "")
    if s.on_call_shifts or s.after_hours_protocol:
        parts = [f"{s.on_call_shifts} on-call shifts scheduled in {month}"]
        if s.after_hours_protocol:
            parts.append("after-hours protocol on file")
        if s.after_hours_contacts:
            parts.append(f"{s.after_hours_contacts} after-hours contacts logged")
        out[K.ACCESS_24X7] = "; ".join(parts)
    if s.designated_patients:
        out[K.DESIGNATED_MEMBER] = f"{s.designated_patients} patients with a designated care-team member"
    if s.home_or_virtual_visits:
        out[K.ALTERNATIVE_DELIVERY] = f"{s.home_or_virtual_visits} home or virtual visits in {month}"
    if s.care_plans:
        out[K.ELECTRONIC_CARE_PLAN] = (f"{s.care_plans} electronic care plans in careloop "
                                       f"({s.plan_versions_in_month} versions in {month}, "
                                       f"{s.partner_shares} shares outside the practice)")
    if s.adt_messages or s.transition_episodes:
        out[K.EHI_EXCHANGE] = (f"{s.adt_messages} HL7 ADT messages received, {s.transition_episodes} transition "
                               f"episodes in {month}")
    if s.secure_messages or s.portal_accounts:
        out[K.ASYNC_COMMUNICATION] = (f"{s.portal_accounts} portal accounts; {s.secure_messages} secure messages "
                                      f"in {month}")
    if s.care_gap_rows:
        out[K.POPULATION_GAP_ANALYSIS] = (f"quality care-gap run {s.care_gaps_computed_on}: "
                                          f"{s.care_gap_rows} patient-measure gap rows")
    if s.risk_run_on is not None:
        out[K.RISK_STRATIFICATION] = f"risk stratification run {s.risk_run_on} ({s.risk_methodology})"
    return out


# ---------- packet helpers ----------


def deadline_status(due: dt.datetime | None, done: dt.datetime | None, now: dt.datetime) -> str:
    """met | missed | pending | not applicable, for one regulatory deadline of a transition episode."""
    if due is None:
        return "not applicable"
    if done is not None:
        return "met" if done <= due else "missed"
    return "pending" if now <= due else "missed"
