"""CMS69 Preventive Care and Screening: Body Mass Index (BMI) Screening and Follow-Up Plan.

Patients 18 and older (on the day of the visit) with a BMI-evaluation visit in the period (not virtual). Numerator:
a BMI in the period that is normal (18.5 to < 25, with no high or low BMI), or high (>= 25) or low (< 18.5) with a
follow-up intervention (order, referral, medication or procedure for the overweight / underweight condition)
started in the period. Exclusions: hospice, palliative care, pregnancy. Exceptions: a medical reason for not
ordering follow-up, or a medical or patient reason for not measuring BMI, on the day of a qualifying visit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.exclusions import (
    HOSPICE_VALUESETS,
    PALLIATIVE_VALUESETS,
    has_hospice_services,
    has_palliative_care,
)
from careloop.quality.engine.fhir import Resource, concept_codes, has_code, parse_point
from careloop.quality.engine.period import Point, all3, during, exists3, le, lt, not3, overlaps, same, within
from careloop.quality.engine.qicore import (
    VIRTUAL,
    cancelled_observations,
    compare,
    diagnoses,
    is_final,
    is_health_concern,
    not_done_reason,
    prevalence,
    problems,
    requests,
    requests_not_made,
    resources,
    value_concept,
    value_quantity,
)
from careloop.quality.engine.social import pregnancy_status_observations
from careloop.quality.engine.vitals import BMI, bmi_observations
from careloop.quality.measures.base import WITH_EXCEPTIONS, Criteria, Measure, flag, single_group

ENCOUNTER_TO_EVALUATE_BMI = vsac("2.16.840.1.113883.3.600.1.1751")
FOLLOW_UP_ABOVE_NORMAL_BMI = vsac("2.16.840.1.113883.3.600.1.1525")
FOLLOW_UP_BELOW_NORMAL_BMI = vsac("2.16.840.1.113883.3.600.1.1528")
MEDICAL_REASON = vsac("2.16.840.1.113883.3.526.3.1007")
MEDICATIONS_ABOVE_NORMAL_BMI = vsac("2.16.840.1.113883.3.526.3.1561")
MEDICATIONS_BELOW_NORMAL_BMI = vsac("2.16.840.1.113883.3.526.3.1562")
OVERWEIGHT_OR_OBESE = vsac("2.16.840.1.113762.1.4.1047.502")
PATIENT_DECLINED = vsac("2.16.840.1.113883.3.526.3.1582")
PREGNANCY_OR_RELATED = vsac("2.16.840.1.113883.3.600.1.1623")
REFERRALS_WEIGHT_ASSESSMENT = vsac("2.16.840.1.113883.3.600.1.1527")
UNDERWEIGHT = vsac("2.16.840.1.113883.3.526.3.1563")

KG_M2 = "kg/m2"
DO_NOT_PERFORM_REASON = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-doNotPerformReason"


def reason_refused(request: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    """QI-Core ServiceNotRequested ``reasonRefused`` (the doNotPerformReason extension)."""
    for ext in request.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == DO_NOT_PERFORM_REASON:
            return concept_codes(ext.get("valueCodeableConcept"))
    return frozenset()


def qualifying_encounters(ctx: Context) -> list[Resource]:
    mp, data = ctx.mp, ctx.data
    return ctx.memo("cms69-encounters", lambda: [
        e for e in resources(ctx, "Encounter", ENCOUNTER_TO_EVALUATE_BMI)
        if e.get("status") == "finished"
        and not has_code(e.get("class"), VIRTUAL)
        and (span := data.span(e, "period")) is not None
        and during(span, mp, day=True) is True
    ])


def initial_population(ctx: Context) -> bool:
    for e in qualifying_encounters(ctx):
        span = ctx.data.span(e, "period")
        age = ctx.age_on(span.start.date()) if span is not None else None
        if age is not None and age >= 18:
            return True
    return False


def pregnant(ctx: Context) -> bool:
    mp, data = ctx.mp, ctx.data
    if exists3(
        overlaps(span, mp, day=True)
        for c in diagnoses(ctx, PREGNANCY_OR_RELATED)
        if (span := prevalence(ctx, c)) is not None
    ):
        return True
    pregnancy = ctx.vs(PREGNANCY_OR_RELATED)
    return exists3(
        overlaps(span, mp, day=True)
        for o in pregnancy_status_observations(ctx)
        if is_final(o)
        and not value_concept(o).isdisjoint(pregnancy)
        and (span := data.span(o, "effective")) is not None
    )


def bmis_in_period(ctx: Context) -> list[float]:
    mp, data = ctx.mp, ctx.data
    out = []
    for o in bmi_observations(ctx):
        q = value_quantity(o)
        span = data.span(o, "effective")
        if is_final(o) and compare(q, ">", 0, KG_M2) is True and span is not None and during(span, mp, day=True):
            assert q is not None
            out.append(q.value)
    return out


def _reason_in(resource: Mapping[str, Any], valueset: frozenset[tuple[str, str]]) -> bool:
    return not concept_codes(resource.get("reasonCode") or []).isdisjoint(valueset)


def _intervention_start(ctx: Context, resource: Mapping[str, Any]) -> Point | None:
    """``Coalesce(performed.toInterval(), authoredOn.toInterval())``: when the intervention starts."""
    span = ctx.data.span(resource, "performed")
    if span is not None:
        return span.start
    return parse_point(resource.get("authoredOn"))


def _started_in_period(ctx: Context, interventions: list[Resource]) -> bool:
    return exists3(
        within(start, ctx.mp, day=True)
        for i in interventions
        if (start := _intervention_start(ctx, i)) is not None
    )


def _condition_before(ctx: Context, conditions: list[Resource], point: Point | None) -> bool:
    """Some condition's prevalence starts on or before the day of ``point``."""
    if point is None:
        return False
    return exists3(
        le(span.start, point, day=True) for c in conditions if (span := prevalence(ctx, c)) is not None
    )


def _condition_current(ctx: Context, conditions: list[Resource], point: Point | None) -> bool:
    """Starts on or before the day of ``point`` and does not end before that day."""
    if point is None:
        return False
    return exists3(
        all3(le(span.start, point, day=True), not3(lt(span.end, point, day=True)))
        for c in conditions
        if (span := prevalence(ctx, c)) is not None
    )


def high_bmi_interventions(ctx: Context) -> list[Resource]:
    overweight = ctx.vs(OVERWEIGHT_OR_OBESE)
    conditions = diagnoses(ctx, OVERWEIGHT_OR_OBESE)
    ordered = [
        r for r in requests(ctx, "ServiceRequest", FOLLOW_UP_ABOVE_NORMAL_BMI, REFERRALS_WEIGHT_ASSESSMENT)
        + requests(ctx, "MedicationRequest", MEDICATIONS_ABOVE_NORMAL_BMI)
        if _reason_in(r, overweight) or _condition_before(ctx, conditions, parse_point(r.get("authoredOn")))
    ]
    problem_list = problems(ctx, OVERWEIGHT_OR_OBESE)
    performed = [
        p for p in resources(ctx, "Procedure", FOLLOW_UP_ABOVE_NORMAL_BMI)
        if _reason_in(p, overweight) or _condition_current(ctx, problem_list, _intervention_start(ctx, p))
    ]
    return ordered + performed


def low_bmi_interventions(ctx: Context) -> list[Resource]:
    underweight = ctx.vs(UNDERWEIGHT)
    conditions = diagnoses(ctx, UNDERWEIGHT)
    ordered = []
    for r in requests(ctx, "ServiceRequest", FOLLOW_UP_BELOW_NORMAL_BMI, REFERRALS_WEIGHT_ASSESSMENT) + requests(
        ctx, "MedicationRequest", MEDICATIONS_BELOW_NORMAL_BMI
    ):
        authored = parse_point(r.get("authoredOn"))
        if _reason_in(r, underweight) or (
            _condition_before(ctx, conditions, authored)
            and authored is not None
            and within(authored, ctx.mp, day=True) is True
        ):
            ordered.append(r)
    concerns = [c for c in problems(ctx, UNDERWEIGHT) if is_health_concern(c)]
    performed = []
    for p in resources(ctx, "Procedure", FOLLOW_UP_BELOW_NORMAL_BMI):
        span = ctx.data.span(p, "performed")
        if (_reason_in(p, underweight) and p.get("status") == "completed") or (
            span is not None
            and during(span, ctx.mp, day=True) is True
            and _condition_current(ctx, concerns, span.start)
        ):
            performed.append(p)
    return ordered + performed


def numerator(ctx: Context) -> bool:
    values = bmis_in_period(ctx)
    high = any(v >= 25 for v in values)
    low = any(v < 18.5 for v in values)
    if high and _started_in_period(ctx, high_bmi_interventions(ctx)):
        return True
    if low and _started_in_period(ctx, low_bmi_interventions(ctx)):
        return True
    return any(18.5 <= v < 25 for v in values) and not high and not low


def _on_visit_day(ctx: Context, point: Point | None) -> bool:
    if point is None:
        return False
    return any(
        same(point, span.start, day=True) is True
        for e in qualifying_encounters(ctx)
        if (span := ctx.data.span(e, "period")) is not None
    )


def exception(ctx: Context) -> bool:
    medical = ctx.vs(MEDICAL_REASON)
    declined = ctx.vs(PATIENT_DECLINED)
    for r in requests_not_made(
        ctx, "ServiceRequest", REFERRALS_WEIGHT_ASSESSMENT, FOLLOW_UP_ABOVE_NORMAL_BMI, FOLLOW_UP_BELOW_NORMAL_BMI
    ):
        if r.get("status") == "completed" and not reason_refused(r).isdisjoint(medical):
            if _on_visit_day(ctx, parse_point(r.get("authoredOn"))):
                return True
    for m in requests_not_made(ctx, "MedicationRequest", MEDICATIONS_ABOVE_NORMAL_BMI, MEDICATIONS_BELOW_NORMAL_BMI):
        if m.get("status") == "completed" and _reason_in(m, medical):
            if _on_visit_day(ctx, parse_point(m.get("authoredOn"))):
                return True
    for o in cancelled_observations(ctx, codes=[BMI]):
        reason = not_done_reason(o)
        span = ctx.data.span(o, "effective")
        if (not reason.isdisjoint(declined) or not reason.isdisjoint(medical)) and span is not None:
            if _on_visit_day(ctx, span.end):
                return True
    return False


def logic(ctx: Context) -> list[Criteria]:
    ip = initial_population(ctx)
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(
                    ip and (has_hospice_services(ctx) or has_palliative_care(ctx) or pregnant(ctx))
                ),
                "numerator": flag(ip and numerator(ctx)),
                "denominator_exception": flag(ip and exception(ctx)),
            }
        )
    ]


MEASURE = Measure(
    id="CMS69",
    title="Preventive Care and Screening: Body Mass Index (BMI) Screening and Follow-Up Plan",
    description=__doc__ or "",
    groups=single_group(WITH_EXCEPTIONS),
    valuesets=(
        ENCOUNTER_TO_EVALUATE_BMI, FOLLOW_UP_ABOVE_NORMAL_BMI, FOLLOW_UP_BELOW_NORMAL_BMI, MEDICAL_REASON,
        MEDICATIONS_ABOVE_NORMAL_BMI, MEDICATIONS_BELOW_NORMAL_BMI, OVERWEIGHT_OR_OBESE, PATIENT_DECLINED,
        PREGNANCY_OR_RELATED, REFERRALS_WEIGHT_ASSESSMENT, UNDERWEIGHT, *HOSPICE_VALUESETS, *PALLIATIVE_VALUESETS,
    ),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS69FHIRPCSBMIScreenAndFollowUp",
    version="1.0.000",
)
