"""Typed facts the billing rules run on, and the decision they produce. No Django, no database, no clock.

The same dataclasses are built from a scenario file (`careloop billing evaluate`, see docs/billing-scenarios.md)
and from the database by the monthly run (billing.services). Dates are `datetime.date`; `month` is "YYYY-MM".
Every field of the public scenario format keeps its meaning; fields after the documented ones are extensions
with safe defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Practice:
    type: str = "physician"  # physician | rhc | fqhc
    tin: str = ""
    strict: bool = False  # deny_if_config_strict_else_flag rules deny when True, flag otherwise
    capabilities: tuple[Capability, ...] | None = None  # None = not assessed (APCM-012 not evaluated)


@dataclass(frozen=True)
class Capability:
    """A practice capability (cms-rules 2.6) with its effective dates and evidence."""

    key: str  # 24x7_access | designated_care_team_member | alternative_care_delivery | electronic_care_plan |
    #           ehi_exchange | async_communication | population_gap_analysis | risk_stratification
    effective_from: date
    effective_to: date | None = None
    evidence: str = ""


@dataclass(frozen=True)
class Practitioner:
    id: str
    npi: str = ""
    tin: str = ""
    qp: bool = False  # qualifying APM participant for the year (conversion factor)
    apcm_perf_pathway: str | None = None  # MVP_M0005 | MSSP | REACH | OTHER_APM | NOT_APPLICABLE_RHC_FQHC


@dataclass(frozen=True)
class PatientFacts:
    chronic_conditions: tuple[str, ...] = ()  # ICD-10-CM codes of the qualifying chronic conditions
    qmb_periods: tuple[tuple[date, date | None], ...] = ()
    bh_diagnosis: bool = False
    last_visit_by_practice: date | None = None  # last E/M, AWV or IPPE by anyone in the practice
    last_care_management: date | None = None  # last care-management service by the practice (APCM-007 exemption)
    established: bool = True  # RPM/RTM: established patient
    part_b_start: date | None = None  # AWV-001: not in the first 12 months of Part B
    pcm_condition: str | None = None  # the single complex condition PCM is for (ICD-10), if any
    mdm: str | None = None  # month's MDM for complex CCM: low | moderate | high
    care_plan_established_or_revised: bool = False  # in the month (complex CCM 99487)
    apcm_monthly_activity: bool | None = None  # None = not assessed; False = no activity and no attestation


@dataclass(frozen=True)
class Enrollment:
    program: str  # APCM | CCM | PCM | BHI | CoCM | RPM | RTM
    practitioner: str
    consent_date: date | None
    start: date
    end: date | None = None
    consent_disclosures: tuple[str, ...] | None = None  # None = not recorded separately (consent_date suffices)
    initiating_visit: date | None = None  # the initiating E/M/AWV/IPPE for this enrollment, if any
    bh_addon: bool = True  # APCM + BHI/CoCM by the same practitioner: bill G0568-G0570 instead of standalone
    addon_requested: bool = False  # BHI/CoCM enrollment: the practice explicitly bills it as an APCM add-on


@dataclass(frozen=True)
class TimeEntry:
    practitioner: str  # the billing practitioner the time is furnished under
    staff_type: str  # clinical_staff | billing_practitioner (alias "practitioner") | bh_care_manager | non_clinical
    program: str
    minutes: int
    date: date
    interactive: bool = False  # real-time interactive communication (RPM/RTM management)


@dataclass(frozen=True)
class DeviceDays:
    program: str  # RPM | RTM
    days: int  # distinct days with data in the 30-day period
    period_start: date
    category: str = "physiologic"  # RTM: respiratory | msk | cbt
    practitioner: str | None = None
    setup: bool = False  # the setup/education (99453 / 98975) was done in this period
    episode_start: date | None = None  # start of the monitoring episode (99453/98975 once per episode)


@dataclass(frozen=True)
class Episode:
    setting: str  # inpatient | observation | snf | irf | ltch | psych | partial_hospitalization | emergency
    discharge: date
    contact: date | None = None
    attempts: tuple[date, ...] = ()
    visit: date | None = None
    mdm: str | None = None  # moderate | high | low
    practitioner: str | None = None
    discharged_to: str = "community"  # community | snf | hospice | died | other
    medrec: date | None = None


@dataclass(frozen=True)
class OtherClaim:
    """A service billed outside this evaluation (another practitioner, a visit, a previous month)."""

    code: str
    practitioner: str
    date: date
    units: int = 1


@dataclass(frozen=True)
class Scenario:
    month: str  # YYYY-MM
    practice: Practice
    patient: PatientFacts
    enrollments: tuple[Enrollment, ...] = ()
    time_entries: tuple[TimeEntry, ...] = ()
    device_days: tuple[DeviceDays, ...] = ()
    episodes: tuple[Episode, ...] = ()
    other_claims: tuple[OtherClaim, ...] = ()
    practitioners: tuple[Practitioner, ...] = ()
    visits: tuple[OtherClaim, ...] = ()  # face-to-face/preventive services furnished this month (AWV, E/M, ACP)
    input_warnings: tuple[str, ...] = ()  # items the reader ignored (e.g. an unknown program), reported as INPUT-001


@dataclass(frozen=True)
class Fact:
    name: str
    value: object


@dataclass(frozen=True)
class Line:
    code: str
    units: int
    practitioner: str
    rule_ids: tuple[str, ...]
    date_of_service: date | None = None
    facts: tuple[Fact, ...] = ()
    diagnoses: tuple[str, ...] = ()  # ICD-10 codes to point to, in order


@dataclass(frozen=True)
class Finding:
    """A denied code or a flag (or a warning): the rule, and a sentence an auditor can read."""

    code: str
    rule_id: str
    reason: str
    practitioner: str | None = None


@dataclass(frozen=True)
class Decision:
    month: str
    ruleset: str
    lines: tuple[Line, ...] = ()
    denied: tuple[Finding, ...] = ()
    flags: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    trace: tuple[str, ...] = field(default=())  # every rule id evaluated, in order

    def as_json(self) -> dict[str, object]:
        return {
            "month": self.month,
            "ruleset": self.ruleset,
            "lines": [
                {"code": ln.code, "units": ln.units, "practitioner": ln.practitioner, "rule_ids": list(ln.rule_ids),
                 "date_of_service": ln.date_of_service.isoformat() if ln.date_of_service else None,
                 "facts": {f.name: f.value for f in ln.facts}}
                for ln in self.lines
            ],
            "denied": [{"code": f.code, "rule_id": f.rule_id, "reason": f.reason} for f in self.denied],
            "flags": [{"code": f.code, "rule_id": f.rule_id, "reason": f.reason} for f in self.flags],
            "warnings": [{"code": f.code, "rule_id": f.rule_id, "reason": f.reason} for f in self.warnings],
        }
