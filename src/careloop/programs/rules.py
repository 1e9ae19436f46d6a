"""Pure program rules (no database, no clock): designation arithmetic, eligibility per patient-month, QMB
periods, consent validation, disenrollment timing, initiating visit and the enroll-first ranking.

Thresholds, rule texts and the value table come from ``rulesets/eligibility-2026.yaml``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from careloop.programs.choices import Disclosure, InitiatingVisit, Program

RULESET = Path(__file__).with_name("rulesets") / "eligibility-2026.yaml"


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


# ---------- ruleset ----------


@dataclass(frozen=True)
class Ruleset:
    version: str
    thresholds: dict[str, Any]
    rules: dict[str, dict[str, Any]]
    values: dict[str, float]
    risk_weight: dict[str, int]


@lru_cache(maxsize=4)
def ruleset(path: Path = RULESET) -> Ruleset:
    raw = yaml.safe_load(path.read_text())
    return Ruleset(
        version=str(raw["version"]),
        thresholds=dict(raw["thresholds"]),
        rules={r["id"]: r for r in raw["rules"]},
        values={str(k): float(v) for k, v in raw["expected_monthly_value"].items()},
        risk_weight={str(k): int(v) for k, v in raw["risk_weight"].items()},
    )


# ---------- QMB periods ----------

STATE_SOURCE = "state-medicaid"


@dataclass(frozen=True)
class QmbPeriod:
    start: dt.date | None
    end: dt.date | None
    source: str


def effective_qmb_periods(periods: Sequence[QmbPeriod]) -> list[QmbPeriod]:
    """State Medicaid wins on conflict (cms-rules 2.11): when the patient has any state-Medicaid QMB period,
    only those decide; otherwise every source's periods count (271, CSV roster, manual entry, EHR)."""
    state = [p for p in periods if p.source == STATE_SOURCE]
    return state if state else list(periods)


def qmb_in_month(periods: Sequence[QmbPeriod], first: dt.date, last: dt.date) -> bool:
    """QMB on any day of [first, last] (ELIG-QMB-ANYDAY), after the state-wins resolution."""
    return any(
        (p.start is None or p.start <= last) and (p.end is None or p.end >= first)
        for p in effective_qmb_periods(periods)
    )


# ---------- eligibility ----------


@dataclass(frozen=True)
class MonthFacts:
    """What eligibility for one patient-month is decided from (the service passes them in)."""

    month: str
    chronic_count: int = 0
    chronic_conditions: tuple[str, ...] = ()
    qmb: bool = False
    tier: str = ""
    admissions_12m: int = 0
    bh_dx: bool = False
    bh_screens: tuple[str, ...] = ()
    rpm_days: int = 0
    rtm_days: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "chronic_count": self.chronic_count, "chronic_conditions": list(self.chronic_conditions),
            "qmb_in_month": self.qmb, "tier": self.tier or "unknown", "admissions_12m": self.admissions_12m,
            "bh_diagnosis": self.bh_dx, "bh_screens": list(self.bh_screens), "rpm_days": self.rpm_days,
            "rtm_days": self.rtm_days,
        }


@dataclass(frozen=True)
class Decision:
    program: str
    eligible: bool
    level: str = ""
    rule_ids: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()
    facts: dict[str, object] = field(default_factory=dict)


def apcm_level(chronic_count: int, qmb: bool) -> tuple[str, str]:
    """(HCPCS code, rule id) for the APCM level (cms-rules 2.7)."""
    if chronic_count <= 1:
        return "G0556", "ELIG-APCM-L1"
    if qmb:
        return "G0558", "ELIG-APCM-L3"
    return "G0557", "ELIG-APCM-L2"


def decide(f: MonthFacts, rs: Ruleset | None = None) -> list[Decision]:
    """Every program's decision for the patient-month, each naming its rule ids and the facts used."""
    rs = rs or ruleset()
    t = rs.thresholds
    facts = f.as_json()
    warn = ("ELIG-NO-DATA",) if not f.tier else ()
    code, rule = apcm_level(f.chronic_count, f.qmb)
    apcm_rules = (rule, "ELIG-QMB-ANYDAY", "ELIG-QMB-STATE-WINS") if f.chronic_count >= 2 else (rule,)
    out = [Decision(Program.APCM, True, code, apcm_rules + warn, (), facts)]
    signals: list[str] = []
    if f.chronic_count >= t["complex_ccm_signal_conditions"]:
        signals.append(f"{f.chronic_count} chronic conditions")
    if f.tier in t["complex_ccm_signal_tiers"]:
        signals.append(f"{f.tier} risk tier")
    if f.admissions_12m:
        signals.append(f"{f.admissions_12m} admission(s) in 12 months")
    ccm = f.chronic_count >= t["ccm_min_conditions"]
    ccm_rules = ("ELIG-CCM-001", "ELIG-CCM-COMPLEX-SIGNAL") if ccm and signals else ("ELIG-CCM-001",)
    out.append(Decision(Program.CCM, ccm, "", ccm_rules + warn, tuple(signals) if ccm else (), facts))
    out.append(Decision(Program.PCM, f.chronic_count >= t["pcm_min_conditions"], "", ("ELIG-PCM-001",), (), facts))
    bh = f.bh_dx or bool(f.bh_screens)
    bh_signals = (("BH diagnosis",) if f.bh_dx else ()) + f.bh_screens
    out.append(Decision(Program.BHI, bh, "", ("ELIG-BHI-001",), bh_signals, facts))
    out.append(Decision(Program.COCM, bh, "", ("ELIG-COCM-001",), bh_signals, facts))
    out.append(Decision(Program.RPM, f.rpm_days >= t["rpm_min_days"], "", ("ELIG-RPM-001",), (), facts))
    out.append(Decision(Program.RTM, f.rtm_days >= t["rtm_min_days"], "", ("ELIG-RTM-001",), (), facts))
    return out


# ---------- consent, disenrollment, initiating visit ----------

ALL_DISCLOSURES = tuple(Disclosure.values)
REQUIRED_DISCLOSURES: dict[str, tuple[str, ...]] = {
    Program.APCM: ALL_DISCLOSURES,  # cms-rules 2.4, APCM-006
    Program.CCM: ALL_DISCLOSURES,  # cms-rules 3.1
    Program.PCM: ALL_DISCLOSURES,  # follows CCM (3.2, UNCONFIRMED detail)
    Program.BHI: (Disclosure.AVAILABILITY, Disclosure.RIGHT_TO_STOP, Disclosure.COST_SHARING),
    Program.COCM: (Disclosure.AVAILABILITY, Disclosure.RIGHT_TO_STOP, Disclosure.COST_SHARING),
    Program.RPM: (Disclosure.COST_SHARING,),
    Program.RTM: (Disclosure.COST_SHARING,),
}


def consent_errors(program: str, method: str, disclosures: Iterable[str], obtained_on: dt.date,
                   start: dt.date) -> dict[str, str]:
    """Field errors for a consent record (empty when valid)."""
    errors: dict[str, str] = {}
    given = set(disclosures)
    unknown = given - set(ALL_DISCLOSURES)
    if unknown:
        errors["disclosures"] = f"unknown disclosure(s): {', '.join(sorted(unknown))}"
    missing = [d for d in REQUIRED_DISCLOSURES.get(program, ALL_DISCLOSURES) if d not in given]
    if missing:
        errors["disclosures"] = f"{program} consent requires: {', '.join(missing)}"
    if method not in ("verbal", "written"):
        errors["method"] = "verbal or written"
    if obtained_on > start:
        errors["obtained_at"] = "consent must be obtained on or before the enrollment start"
    return errors


def month_end(day: dt.date) -> dt.date:
    nxt = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def disenrollment_end(requested_on: dt.date, start: dt.date) -> dt.date:
    """A request to stop takes effect at the end of the calendar month it is made in (never before start)."""
    return max(month_end(requested_on), start)


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def initiating_visit(program: str, start: dt.date, last_visit: dt.date | None,
                     last_care_management_end: dt.date | None, rs: Ruleset | None = None) -> str:
    """cms-rules 2.5 / APCM-007: seen by the practice (AMB encounter) within 3 years (1 year for CCM/PCM), or
    another care-management service from the practice within 12 months; otherwise an initiating visit is due."""
    t = (rs or ruleset()).thresholds
    years = t["apcm_initiating_visit_years"] if program == Program.APCM else t["ccm_initiating_visit_years"]
    if last_visit is not None and years_before(start, years) <= last_visit <= start:
        return InitiatingVisit.VISIT
    months = t["care_management_exemption_months"]
    window_start = start - dt.timedelta(days=months * 365 // 12)
    if last_care_management_end is not None and last_care_management_end >= window_start:
        return InitiatingVisit.CARE_MANAGEMENT
    return InitiatingVisit.MISSING


# ---------- whom to enroll first ----------


@dataclass(frozen=True)
class Candidate:
    patient_id: int
    program: str
    level: str
    tier: str
    value: float
    score: float


def best_offer(eligible: dict[str, str], tier: str, rs: Ruleset | None = None) -> Candidate | None:
    """The eligible program (program -> APCM level or "") with the highest expected monthly value, scored
    risk weight x value. RPM/RTM are add-ons to a main program and are not offered here; PCM (one principal
    condition) is not offered when the patient qualifies for CCM."""
    rs = rs or ruleset()
    best: tuple[float, str, str] | None = None
    for program, level in eligible.items():
        if program in (Program.RPM, Program.RTM, Program.TCM) or (program == Program.PCM and Program.CCM in eligible):
            continue
        value = rs.values.get(level or program, 0.0)
        if best is None or value > best[0]:
            best = (value, program, level)
    if best is None:
        return None
    weight = rs.risk_weight.get(tier or "unknown", 1)
    return Candidate(0, best[1], best[2], tier or "unknown", best[0], round(weight * best[0], 2))


def rank(candidates: Sequence[Candidate], slots: int) -> list[Candidate]:
    """Highest score first (ties: lower patient id), at most ``slots`` (the team's free capacity)."""
    ordered = sorted(candidates, key=lambda c: (-c.score, c.patient_id))
    return ordered[: max(0, slots)]


# ---------- population summary ----------

TIER_ORDER = ("high", "rising", "moderate", "low", "unscored")


@dataclass(frozen=True)
class ProgramRow:
    program: str
    level: str  # APCM level (G0556/G0557/G0558) or ""
    eligible: int
    enrolled: int
    value: float  # expected monthly amount per patient-month (ruleset expected_monthly_value)

    @property
    def capture(self) -> float:
        return round(100.0 * self.enrolled / self.eligible, 1) if self.eligible else 0.0

    @property
    def revenue_enrolled(self) -> float:
        return round(self.enrolled * self.value, 2)

    @property
    def revenue_eligible(self) -> float:
        return round(self.eligible * self.value, 2)


def program_rows(eligible: Iterable[tuple[str, str]], enrolled: Iterable[tuple[str, str]],
                 rs: Ruleset | None = None) -> list[ProgramRow]:
    """Counts of eligible and enrolled patient-months per (program, APCM level), in program order, valued with
    the ruleset's expected monthly amounts. Each input item is one patient's (program, level)."""
    rs = rs or ruleset()
    counts: dict[tuple[str, str], list[int]] = {}
    for key in eligible:
        counts.setdefault(key, [0, 0])[0] += 1
    for key in enrolled:
        counts.setdefault(key, [0, 0])[1] += 1
    order = {p: i for i, p in enumerate(Program.values)}
    return [
        ProgramRow(program, level, n[0], n[1], rs.values.get(level or program, 0.0))
        for (program, level), n in sorted(counts.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]))
    ]
