"""CMS22 Preventive Care and Screening: Screening for High Blood Pressure and Follow-Up Documented.

Encounter-based: each qualifying (non-virtual, finished) screening encounter ending in the period, for patients
18 and older at its start, is one episode. Numerator: the encounter's last blood pressure is normal (< 120/80),
or elevated / hypertensive with the follow-up the reading calls for ordered on the day of the encounter:

- elevated (120-129 / < 80): rescreen within 6 months and a non-drug intervention, or a referral;
- first hypertensive reading (>= 130 / >= 80, no hypertensive reading in the year before): rescreen within 4
  weeks with a non-drug intervention, or a referral;
- second hypertensive reading 130-139 / 80-89: rescreen within 6 months, a lab test or ECG and a non-drug
  intervention, or a referral;
- second hypertensive reading >= 140 / >= 90: rescreen within 4 weeks, a lab test or ECG, a non-drug
  intervention and antihypertensive medication, or a referral.

Exclusion: hypertension diagnosed on or before the encounter. Exceptions: blood pressure not taken for a medical
reason or declined, or the follow-up declined by the patient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.fhir import ORDER_INTENTS, Code, Resource, concept_codes, has_code, parse_point
from careloop.quality.engine.period import Point, Span, ends_during, exists3, le, within
from careloop.quality.engine.qicore import (
    FINAL,
    LOINC,
    VIRTUAL,
    cancelled_observations,
    is_verified,
    not_done_reason,
    prevalence,
    problems,
    requests,
    requests_not_made,
    resources,
)
from careloop.quality.engine.vitals import DIASTOLIC, MM_HG, SYSTOLIC, blood_pressures, diastolic, systolic
from careloop.quality.measures.base import (
    DENEX,
    DENEXCEP,
    IP,
    NONE,
    NUMER,
    WITH_EXCEPTIONS,
    Criteria,
    Episodes,
    Measure,
    single_group,
)
from careloop.quality.measures.cms69 import reason_refused

DIAGNOSIS_OF_HYPERTENSION = vsac("2.16.840.1.113883.3.600.263")
DIETARY_RECOMMENDATIONS = vsac("2.16.840.1.113883.3.600.1515")
ENCOUNTER_TO_SCREEN_FOR_BP = vsac("2.16.840.1.113883.3.600.1920")
ELEVATED_BP_OR_HYPERTENSION = vsac("2.16.840.1.113762.1.4.1047.514")
FOLLOW_UP_WITHIN_4_WEEKS = vsac("2.16.840.1.113883.3.526.3.1578")
FOLLOW_UP_WITHIN_6_MONTHS = vsac("2.16.840.1.113762.1.4.1108.125")
LABORATORY_TESTS_FOR_HYPERTENSION = vsac("2.16.840.1.113883.3.600.1482")
LIFESTYLE_RECOMMENDATION = vsac("2.16.840.1.113883.3.526.3.1581")
MEDICAL_REASON = vsac("2.16.840.1.113883.3.526.3.1007")
PATIENT_DECLINED = vsac("2.16.840.1.113883.3.526.3.1582")
PHARMACOLOGIC_THERAPY_FOR_HYPERTENSION = vsac("2.16.840.1.113883.3.526.1577")
INCREASE_PHYSICAL_ACTIVITY = vsac("2.16.840.1.113883.3.600.1518")
ALCOHOL_REFERRAL_OR_COUNSELING = vsac("2.16.840.1.113883.3.526.3.1583")
REFERRAL_TO_PRIMARY_CARE = vsac("2.16.840.1.113883.3.526.3.1580")
WEIGHT_REDUCTION_RECOMMENDED = vsac("2.16.840.1.113883.3.600.1510")

BP_PANEL = (LOINC, "85354-9")
TWELVE_LEAD_EKG = (LOINC, "34534-8")
EKG_STUDY = (LOINC, "11524-6")
NON_PHARMACOLOGICAL = (
    LIFESTYLE_RECOMMENDATION, WEIGHT_REDUCTION_RECOMMENDED, DIETARY_RECOMMENDATIONS, INCREASE_PHYSICAL_ACTIVITY,
    ALCOHOL_REFERRAL_OR_COUNSELING,
)
DECLINABLE_STATUS = ("active", "completed", "on-hold")


def encounters(ctx: Context) -> list[tuple[Resource, Span]]:
    out = []
    for e in resources(ctx, "Encounter", ENCOUNTER_TO_SCREEN_FOR_BP):
        span = ctx.data.span(e, "period")
        if (
            e.get("status") == "finished"
            and not has_code(e.get("class"), VIRTUAL)
            and span is not None
            and ends_during(span, ctx.mp, day=True) is True
        ):
            out.append((e, span))
    return out


def _final_bps(ctx: Context) -> list[tuple[object, Span, Resource]]:
    """Final blood pressure readings with an effective time: (start, effective span, reading), in record order."""
    def compute() -> list[tuple[object, Span, Resource]]:
        out: list[tuple[object, Span, Resource]] = []
        for bp in blood_pressures(ctx):
            span = ctx.data.span(bp, "effective")
            if bp.get("status") in FINAL and span is not None:
                out.append((span.start.lo, span, bp))
        return out

    return ctx.memo("CMS22-final-bps", compute)


def _last_bp(ctx: Context, accept: Callable[[Span], bool]) -> Resource | None:
    """The accepted reading that starts last (of readings starting at the same moment, the last recorded)."""
    best: Resource | None = None
    best_start: Any = None
    for start, span, bp in _final_bps(ctx):
        if accept(span) and (best is None or start >= best_start):
            best, best_start = bp, start
    return best


def _values(bp: Resource | None) -> tuple[float | None, float | None]:
    """Systolic and diastolic in mm[Hg] (None when missing or in another unit)."""
    if bp is None:
        return None, None
    s, d = systolic(bp), diastolic(bp)
    return (s.value if s is not None and s.unit == MM_HG else None,
            d.value if d is not None and d.unit == MM_HG else None)


def _hypertensive(bp: Resource | None) -> bool:
    return _is_hypertensive(*_values(bp))


def _is_hypertensive(s: float | None, d: float | None) -> bool:
    return s is not None and d is not None and s > 0 and d > 0 and (s >= 130 or d >= 80)


def _during_visit(visit: Span) -> Callable[[Span], bool]:
    return lambda bp: ends_during(bp, visit, day=True) is True


def _year_before(visit: Span) -> Callable[[Span], bool]:
    """Ends 1 year or less before, or at, the start of the visit."""
    window = Span(visit.start.add_months(-12), visit.start)
    return lambda bp: within(bp.end, window) is True


class Readings:
    """Per encounter: the category of its last blood pressure reading."""

    def __init__(self, ctx: Context, visits: list[tuple[Resource, Span]]) -> None:
        self.normal: set[str] = set()
        self.elevated: set[str] = set()
        self.first_htn: set[str] = set()
        self.second_moderate: set[str] = set()
        self.second_severe: set[str] = set()
        known: dict[int, tuple[float | None, float | None]] = {}  # readings' values, by id (readings stay alive)

        def values(bp: Resource | None) -> tuple[float | None, float | None]:
            if bp is None:
                return None, None
            found = known.get(id(bp))
            if found is None:
                found = known[id(bp)] = _values(bp)
            return found

        for e, span in visits:
            eid = str(e.get("id"))
            last = _last_bp(ctx, _during_visit(span))
            prior = _last_bp(ctx, _year_before(span))
            s, d = values(last)
            prior_htn = _is_hypertensive(*values(prior))
            if s is not None and d is not None and 1 <= s < 120 and 1 <= d < 80:
                self.normal.add(eid)
            if s is not None and d is not None and 120 <= s <= 129 and 1 <= d < 80:
                self.elevated.add(eid)
            if _is_hypertensive(s, d) and not prior_htn:
                self.first_htn.add(eid)
            if prior_htn and s is not None and d is not None:
                severe = s >= 140 or d >= 90
                if s > 0 and d > 0 and severe:
                    self.second_severe.add(eid)
                elif (130 <= s <= 139 or 80 <= d <= 89) and not severe:
                    self.second_moderate.add(eid)


def _authored(resource: Resource) -> Point | None:
    return parse_point(resource.get("authoredOn"))


def _in_period(ctx: Context, resource: Resource) -> bool:
    authored = _authored(resource)
    return authored is not None and within(authored, ctx.mp, day=True) is True


def _orders(ctx: Context, *urls: str, codes: tuple[Code, ...] = ()) -> list[Resource]:
    return [r for r in requests(ctx, "ServiceRequest", *urls, codes=codes) if r.get("intent") in ORDER_INTENTS]


def _on_day_of(resources_: list[Resource], visit: Span) -> bool:
    return any((a := _authored(r)) is not None and within(a, visit, day=True) is True for r in resources_)


class Interventions:
    """The follow-up orders each kind of reading calls for (all ordered within the period)."""

    def __init__(self, ctx: Context) -> None:
        self.rescreen_6_months = [
            r for r in requests(ctx, "ServiceRequest", FOLLOW_UP_WITHIN_6_MONTHS) if r.get("intent") == "order"
        ]
        self.rescreen_4_weeks = _orders(ctx, FOLLOW_UP_WITHIN_4_WEEKS)
        self.lab_or_ecg = _orders(ctx, LABORATORY_TESTS_FOR_HYPERTENSION, codes=(TWELVE_LEAD_EKG, EKG_STUDY))
        self.non_pharmacological = _orders(ctx, *NON_PHARMACOLOGICAL)
        elevated = ctx.vs(ELEVATED_BP_OR_HYPERTENSION)
        self.referral = [
            r for r in _orders(ctx, REFERRAL_TO_PRIMARY_CARE)
            if not concept_codes(r.get("reasonCode") or []).isdisjoint(elevated)
        ]
        medications = [
            m for m in requests(ctx, "MedicationRequest", PHARMACOLOGIC_THERAPY_FOR_HYPERTENSION)
            if m.get("status") in ("active", "completed") and _in_period(ctx, m)
        ]
        lab_in_period = any(_in_period(ctx, r) for r in self.lab_or_ecg)
        non_pharm_in_period = any(_in_period(ctx, r) for r in self.non_pharmacological)
        self.first_htn = [
            r for r in self.rescreen_4_weeks if _in_period(ctx, r) and non_pharm_in_period
        ] + self.referral
        self.second_moderate = [
            r for r in self.rescreen_6_months if _in_period(ctx, r) and lab_in_period and non_pharm_in_period
        ]
        self.second_severe = [
            r for r in self.rescreen_4_weeks
            if _in_period(ctx, r) and lab_in_period and non_pharm_in_period and medications
        ]


def numerator(ctx: Context, visits: list[tuple[Resource, Span]], readings: Readings) -> set[str]:
    i = Interventions(ctx)
    out = set(readings.normal)
    for e, visit in visits:
        eid = str(e.get("id"))
        if eid in readings.elevated and (
            (_on_day_of(i.rescreen_6_months, visit) and _on_day_of(i.non_pharmacological, visit))
            or _on_day_of(i.referral, visit)
        ):
            out.add(eid)
        if eid in readings.first_htn and _on_day_of(i.first_htn, visit):
            out.add(eid)
        if eid in readings.second_moderate and (
            _on_day_of(i.second_moderate, visit) or _on_day_of(i.referral, visit)
        ):
            out.add(eid)
        if eid in readings.second_severe and (_on_day_of(i.second_severe, visit) or _on_day_of(i.referral, visit)):
            out.add(eid)
    return out


def _declined(ctx: Context, *urls: str, codes: tuple[Code, ...] = ()) -> list[Resource]:
    declined = ctx.vs(PATIENT_DECLINED)
    return [
        r for r in requests_not_made(ctx, "ServiceRequest", *urls, codes=codes)
        if r.get("status") in DECLINABLE_STATUS and not reason_refused(r).isdisjoint(declined)
    ]


def exceptions(ctx: Context, visits: list[tuple[Resource, Span]], readings: Readings) -> set[str]:
    reasons = ctx.vs(PATIENT_DECLINED) | ctx.vs(MEDICAL_REASON)
    not_taken = [
        o for o in cancelled_observations(ctx, codes=[BP_PANEL, SYSTOLIC, DIASTOLIC])
        if not not_done_reason(o).isdisjoint(reasons)
    ]
    non_pharm = _declined(ctx, *NON_PHARMACOLOGICAL)
    lab = _declined(ctx, LABORATORY_TESTS_FOR_HYPERTENSION, codes=(TWELVE_LEAD_EKG, EKG_STUDY))
    referral_or_6_months = _declined(ctx, REFERRAL_TO_PRIMARY_CARE, FOLLOW_UP_WITHIN_6_MONTHS)
    referral_or_4_weeks = _declined(ctx, FOLLOW_UP_WITHIN_4_WEEKS, REFERRAL_TO_PRIMARY_CARE)
    medication = [
        m for m in requests_not_made(ctx, "MedicationRequest", PHARMACOLOGIC_THERAPY_FOR_HYPERTENSION)
        if m.get("status") in ("active", "completed")
    ]
    out = set()
    for e, visit in visits:
        eid = str(e.get("id"))
        issued = [p for o in not_taken if (p := parse_point(o.get("issued"))) is not None]
        if any(within(p, visit, day=True) is True for p in issued):
            out.add(eid)
        declined_for: list[Resource] = []
        if eid in readings.elevated:
            declined_for += referral_or_6_months + non_pharm
        if eid in readings.first_htn:
            declined_for += referral_or_4_weeks + non_pharm
        if eid in readings.second_moderate:
            declined_for += referral_or_6_months + lab + non_pharm
        if eid in readings.second_severe:
            declined_for += referral_or_4_weeks + medication + lab + non_pharm
        if _on_day_of(declined_for, visit):
            out.add(eid)
    return out


def hypertension_before(ctx: Context, visits: list[tuple[Resource, Span]]) -> set[str]:
    spans = [span for c in problems(ctx, DIAGNOSIS_OF_HYPERTENSION) if is_verified(c)
             and (span := prevalence(ctx, c)) is not None]
    return {
        str(e.get("id")) for e, visit in visits
        if exists3(le(span.start, visit.start, day=True) for span in spans)
    }


def logic(ctx: Context) -> list[Criteria]:
    age = ctx.age_at_start()
    visits = encounters(ctx) if age is not None and age >= 18 else []
    if not visits:
        return [Criteria({IP: NONE})]
    readings = Readings(ctx, visits)
    episodes: Episodes = frozenset(str(e.get("id")) for e, _ in visits)
    return [
        Criteria(
            {
                IP: episodes,
                DENEX: frozenset(hypertension_before(ctx, visits)),
                NUMER: frozenset(numerator(ctx, visits, readings)),
                DENEXCEP: frozenset(exceptions(ctx, visits, readings)),
            }
        )
    ]


MEASURE = Measure(
    id="CMS22",
    title="Preventive Care and Screening: Screening for High Blood Pressure and Follow-Up Documented",
    description=__doc__ or "",
    groups=single_group(WITH_EXCEPTIONS),
    valuesets=(
        DIAGNOSIS_OF_HYPERTENSION, DIETARY_RECOMMENDATIONS, ENCOUNTER_TO_SCREEN_FOR_BP, ELEVATED_BP_OR_HYPERTENSION,
        FOLLOW_UP_WITHIN_4_WEEKS, FOLLOW_UP_WITHIN_6_MONTHS, LABORATORY_TESTS_FOR_HYPERTENSION,
        LIFESTYLE_RECOMMENDATION, MEDICAL_REASON, PATIENT_DECLINED, PHARMACOLOGIC_THERAPY_FOR_HYPERTENSION,
        INCREASE_PHYSICAL_ACTIVITY, ALCOHOL_REFERRAL_OR_COUNSELING, REFERRAL_TO_PRIMARY_CARE,
        WEIGHT_REDUCTION_RECOMMENDED,
    ),
    logic=logic,
    basis="Encounter",
    url="https://madie.cms.gov/Measure/CMS22FHIRPCSBPScreeningFollowUp",
    version="1.0.000",
)

