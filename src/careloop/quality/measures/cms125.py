"""CMS125 Breast Cancer Screening.

Women 42-74 at the end of the period with a qualifying outpatient visit who had a mammogram from October 1 two
years before the period through its end. Exclusions: hospice, bilateral mastectomy (or a right and a left
mastectomy, by diagnosis or procedure), 66+ with advanced illness and frailty, 66+ in a nursing home,
palliative care. Strata: ages 42-51 and 52-74.
"""

from __future__ import annotations

import datetime as dt

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import ADULT_OUTPATIENT, adult_outpatient_encounters
from careloop.quality.engine.exclusions import (
    FRAILTY_VALUESETS,
    HOSPICE_VALUESETS,
    PALLIATIVE_VALUESETS,
    standard_frailty_exclusions,
)
from careloop.quality.engine.fhir import Resource, has_code
from careloop.quality.engine.period import UTC, Point, Span, ends_during, exists3, le
from careloop.quality.engine.profiles import CLINICAL_RESULT
from careloop.quality.engine.qicore import (
    SNOMED,
    diagnoses,
    is_completed,
    is_diagnostic_study_performed,
    is_verified,
    observations,
    prevalence,
    resources,
)
from careloop.quality.measures.base import NONE, ONE, Criteria, Measure, flag, single_group

BILATERAL_MASTECTOMY = vsac("2.16.840.1.113883.3.464.1003.198.12.1005")
HISTORY_OF_BILATERAL_MASTECTOMY = vsac("2.16.840.1.113883.3.464.1003.198.12.1068")
MAMMOGRAPHY = vsac("2.16.840.1.113883.3.464.1003.108.12.1018")
STATUS_POST_LEFT_MASTECTOMY = vsac("2.16.840.1.113883.3.464.1003.198.12.1069")
STATUS_POST_RIGHT_MASTECTOMY = vsac("2.16.840.1.113883.3.464.1003.198.12.1070")
UNILATERAL_MASTECTOMY_LEFT = vsac("2.16.840.1.113883.3.464.1003.198.12.1133")
UNILATERAL_MASTECTOMY_RIGHT = vsac("2.16.840.1.113883.3.464.1003.198.12.1134")
UNILATERAL_MASTECTOMY_UNSPECIFIED = vsac("2.16.840.1.113883.3.464.1003.198.12.1071")

LEFT = (SNOMED, "7771000")
RIGHT = (SNOMED, "24028007")
US_CORE_SEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-sex"
FEMALE = "248152002"


def patient_sex(patient: Resource) -> str | None:
    """QI-Core ``Patient.sex`` (the US Core sex extension's code)."""
    for ext in patient.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == US_CORE_SEX:
            value = ext.get("valueCode") or (ext.get("valueCoding") or {}).get("code")
            return str(value) if value else None
    return None


def _diagnosis_before_end(ctx: Context, conditions: list[Resource]) -> bool:
    return exists3(
        le(span.start, ctx.mp.end)
        for c in conditions
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )


def _procedure_before_end(ctx: Context, url: str) -> bool:
    data = ctx.data
    return exists3(
        le(span.end, ctx.mp.end)
        for p in resources(ctx, "Procedure", url)
        if is_completed(p) and (span := data.span(p, "performed")) is not None
    )


def _side_mastectomy(ctx: Context, status_post: str, side: tuple[str, str], procedure: str) -> bool:
    unspecified = [
        c for c in diagnoses(ctx, UNILATERAL_MASTECTOMY_UNSPECIFIED)
        if any(has_code(site, side) for site in c.get("bodySite") or [])
    ]
    return _diagnosis_before_end(ctx, diagnoses(ctx, status_post) + unspecified) or _procedure_before_end(
        ctx, procedure
    )


def denominator_exclusion(ctx: Context) -> bool:
    if standard_frailty_exclusions(ctx):
        return True
    if _side_mastectomy(ctx, STATUS_POST_RIGHT_MASTECTOMY, RIGHT, UNILATERAL_MASTECTOMY_RIGHT) and _side_mastectomy(
        ctx, STATUS_POST_LEFT_MASTECTOMY, LEFT, UNILATERAL_MASTECTOMY_LEFT
    ):
        return True
    return _diagnosis_before_end(ctx, diagnoses(ctx, HISTORY_OF_BILATERAL_MASTECTOMY)) or _procedure_before_end(
        ctx, BILATERAL_MASTECTOMY
    )


def screened(ctx: Context) -> bool:
    first = dt.datetime(ctx.period.first.year - 2, 10, 1, tzinfo=UTC)
    window = Span(Point.at(first), ctx.mp.end)
    data = ctx.data
    return exists3(
        ends_during(span, window, day=True)
        for o in observations(ctx, CLINICAL_RESULT, MAMMOGRAPHY)
        if is_diagnostic_study_performed(o) and (span := data.span(o, "effective")) is not None
    )


def logic(ctx: Context) -> list[Criteria]:
    age = ctx.age_at_end()
    ip = (
        age is not None
        and 42 <= age <= 74
        and patient_sex(ctx.data.patient) == FEMALE
        and bool(adult_outpatient_encounters(ctx))
    )
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(ip and denominator_exclusion(ctx)),
                "numerator": flag(ip and screened(ctx)),
            },
            strata={
                "Stratification_1_1": ONE if age is not None and 42 <= age <= 51 else NONE,
                "Stratification_1_2": ONE if age is not None and 52 <= age <= 74 else NONE,
            },
        )
    ]


MEASURE = Measure(
    id="CMS125",
    title="Breast Cancer Screening",
    description=__doc__ or "",
    groups=single_group(stratifiers=("Stratification_1_1", "Stratification_1_2")),
    valuesets=(
        *ADULT_OUTPATIENT, BILATERAL_MASTECTOMY, HISTORY_OF_BILATERAL_MASTECTOMY, MAMMOGRAPHY,
        STATUS_POST_LEFT_MASTECTOMY, STATUS_POST_RIGHT_MASTECTOMY, UNILATERAL_MASTECTOMY_LEFT,
        UNILATERAL_MASTECTOMY_RIGHT, UNILATERAL_MASTECTOMY_UNSPECIFIED,
        *HOSPICE_VALUESETS, *FRAILTY_VALUESETS, *PALLIATIVE_VALUESETS,
    ),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS125FHIRBreastCancerScreen",
    version="1.0.000",
)
