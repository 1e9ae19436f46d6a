"""CMS951 Kidney Health Evaluation.

Patients 18-85 at the start of the period with diabetes active before and into the period and an outpatient
visit in it, who had a kidney health evaluation in the period: an eGFR, and a urine albumin-creatinine ratio
(or a urine albumin and a urine creatinine test within 4 days of each other). Exclusions: CKD stage 5 or ESRD,
hospice, palliative care.
"""

from __future__ import annotations

import datetime as dt

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import (
    ANNUAL_WELLNESS_VISIT,
    HOME_HEALTHCARE_SERVICES,
    OFFICE_VISIT,
    OUTPATIENT_CONSULTATION,
    PREVENTIVE_ESTABLISHED_18_UP,
    PREVENTIVE_INITIAL_18_UP,
    TELEPHONE_VISITS,
    performed_during_period,
)
from careloop.quality.engine.exclusions import (
    HOSPICE_VALUESETS,
    PALLIATIVE_VALUESETS,
    has_hospice_services,
    has_palliative_care,
)
from careloop.quality.engine.fhir import Resource
from careloop.quality.engine.period import Span, during, exists3, overlaps, overlaps_before
from careloop.quality.engine.profiles import LAB_RESULT
from careloop.quality.engine.qicore import (
    diagnoses,
    has_value,
    is_final,
    is_not_refuted,
    observations,
    prevalence,
    value_concept,
    value_quantity,
)
from careloop.quality.measures.base import Criteria, Measure, flag, single_group

CKD_STAGE_5 = vsac("2.16.840.1.113883.3.526.3.1002")
DIABETES = vsac("2.16.840.1.113883.3.464.1003.103.12.1001")
ESRD = vsac("2.16.840.1.113883.3.526.3.353")
EGFR = vsac("2.16.840.1.113883.3.6929.3.1000")
UNDETECTABLE = vsac("2.16.840.1.113762.1.4.1248.272")
URINE_ALBUMIN = vsac("2.16.840.1.113762.1.4.1178.88")
URINE_ALBUMIN_CREATININE_RATIO = vsac("2.16.840.1.113883.3.6929.3.1007")
URINE_CREATININE = vsac("2.16.840.1.113762.1.4.1178.87")
ENCOUNTERS = (
    ANNUAL_WELLNESS_VISIT, HOME_HEALTHCARE_SERVICES, OFFICE_VISIT, OUTPATIENT_CONSULTATION,
    PREVENTIVE_ESTABLISHED_18_UP, PREVENTIVE_INITIAL_18_UP, TELEPHONE_VISITS,
)
FOUR_DAYS = dt.timedelta(days=4)


def has_diabetes(ctx: Context) -> bool:
    return exists3(
        overlaps_before(span, ctx.mp, day=True)
        for c in diagnoses(ctx, DIABETES)
        if is_not_refuted(c) and (span := prevalence(ctx, c)) is not None
    )


def denominator_exclusion(ctx: Context) -> bool:
    if exists3(
        overlaps(span, ctx.mp, day=True)
        for c in diagnoses(ctx, CKD_STAGE_5, ESRD)
        if is_not_refuted(c) and (span := prevalence(ctx, c)) is not None
    ):
        return True
    return has_hospice_services(ctx) or has_palliative_care(ctx)


def _tests(ctx: Context, url: str, need_value: bool = True) -> list[tuple[Span, Resource]]:
    return [
        (span, o) for o in observations(ctx, LAB_RESULT, url)
        if is_final(o)
        and (has_value(o) or not need_value)
        and (span := ctx.data.span(o, "effective")) is not None
        and during(span, ctx.mp, day=True) is True
    ]


def evaluated(ctx: Context) -> bool:
    if not _tests(ctx, EGFR):
        return False
    undetectable = ctx.vs(UNDETECTABLE)
    if any(
        value_quantity(o) is not None or not value_concept(o).isdisjoint(undetectable)
        for _, o in _tests(ctx, URINE_ALBUMIN_CREATININE_RATIO, need_value=False)
    ):
        return True
    creatinine = _tests(ctx, URINE_CREATININE)
    return any(
        during(albumin, Span(c.start.shift(-FOUR_DAYS), c.end.shift(FOUR_DAYS))) is True
        for albumin, _ in _tests(ctx, URINE_ALBUMIN)
        for c, _ in creatinine
    )


def logic(ctx: Context) -> list[Criteria]:
    age = ctx.age_at_start()
    ip = (
        age is not None
        and 18 <= age <= 85
        and has_diabetes(ctx)
        and bool(performed_during_period(ctx, *ENCOUNTERS))
    )
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(ip and denominator_exclusion(ctx)),
                "numerator": flag(ip and evaluated(ctx)),
            }
        )
    ]


MEASURE = Measure(
    id="CMS951",
    title="Kidney Health Evaluation",
    description=__doc__ or "",
    groups=single_group(),
    valuesets=(
        *ENCOUNTERS, CKD_STAGE_5, DIABETES, ESRD, EGFR, UNDETECTABLE, URINE_ALBUMIN, URINE_ALBUMIN_CREATININE_RATIO,
        URINE_CREATININE, *HOSPICE_VALUESETS, *PALLIATIVE_VALUESETS,
    ),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS951FHIRKidneyHealthEval",
    version="1.0.000",
)
