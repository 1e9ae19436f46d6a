"""CMS130 Colorectal Cancer Screening.

Patients 46-75 at the end of the period with a qualifying outpatient visit who had appropriate screening: a fecal
occult blood test in the period, a stool DNA with FIT test in the period or the 2 years before, a flexible
sigmoidoscopy or CT colonography in the period or the 4 years before, or a colonoscopy in the period or the 9
years before. Exclusions: hospice, colorectal cancer, total colectomy, 66+ with advanced illness and frailty,
66+ in a nursing home, palliative care. Strata: ages 46-49 and 50-75.
"""

from __future__ import annotations

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import ADULT_OUTPATIENT, adult_outpatient_encounters
from careloop.quality.engine.exclusions import (
    FRAILTY_VALUESETS,
    HOSPICE_VALUESETS,
    PALLIATIVE_VALUESETS,
    standard_frailty_exclusions,
)
from careloop.quality.engine.period import Span, ends_during, exists3, le, within
from careloop.quality.engine.profiles import CLINICAL_RESULT, LAB_RESULT
from careloop.quality.engine.qicore import (
    diagnoses,
    has_value,
    is_completed,
    is_diagnostic_study_performed,
    is_final,
    is_verified,
    observations,
    prevalence,
    resources,
)
from careloop.quality.measures.base import NONE, ONE, Criteria, Measure, flag, single_group

COLONOSCOPY = vsac("2.16.840.1.113883.3.464.1003.108.12.1020")
CT_COLONOGRAPHY = vsac("2.16.840.1.113883.3.464.1003.108.12.1038")
FOBT = vsac("2.16.840.1.113883.3.464.1003.198.12.1011")
SDNA_FIT = vsac("2.16.840.1.113883.3.464.1003.108.12.1039")
FLEXIBLE_SIGMOIDOSCOPY = vsac("2.16.840.1.113883.3.464.1003.198.12.1010")
MALIGNANT_NEOPLASM_OF_COLON = vsac("2.16.840.1.113883.3.464.1003.108.12.1001")
TOTAL_COLECTOMY = vsac("2.16.840.1.113883.3.464.1003.198.12.1019")


def _years_back(ctx: Context, years: int) -> Span:
    return Span(ctx.mp.start.add_months(-12 * years), ctx.mp.end)


def denominator_exclusion(ctx: Context) -> bool:
    mp, data = ctx.mp, ctx.data
    if standard_frailty_exclusions(ctx):
        return True
    if exists3(
        le(span.start, mp.end, day=True)
        for c in diagnoses(ctx, MALIGNANT_NEOPLASM_OF_COLON)
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    ):
        return True
    return exists3(
        le(span.end, mp.end, day=True)
        for p in resources(ctx, "Procedure", TOTAL_COLECTOMY)
        if is_completed(p) and (span := data.span(p, "performed")) is not None
    )


def _lab_within(ctx: Context, url: str, window: Span) -> bool:
    data = ctx.data
    return exists3(
        within(when, window, day=True)
        for o in observations(ctx, LAB_RESULT, url)
        if is_final(o) and has_value(o) and (when := data.latest(o, "effective")) is not None
    )


def _procedure_ends_within(ctx: Context, url: str, window: Span) -> bool:
    data = ctx.data
    return exists3(
        ends_during(span, window, day=True)
        for p in resources(ctx, "Procedure", url)
        if is_completed(p) and (span := data.span(p, "performed")) is not None
    )


def screened(ctx: Context) -> bool:
    data = ctx.data
    if _lab_within(ctx, FOBT, ctx.mp) or _lab_within(ctx, SDNA_FIT, _years_back(ctx, 2)):
        return True
    if _procedure_ends_within(ctx, FLEXIBLE_SIGMOIDOSCOPY, _years_back(ctx, 4)):
        return True
    if exists3(
        ends_during(span, _years_back(ctx, 4), day=True)
        for o in observations(ctx, CLINICAL_RESULT, CT_COLONOGRAPHY)
        if is_diagnostic_study_performed(o) and (span := data.span(o, "effective")) is not None
    ):
        return True
    return _procedure_ends_within(ctx, COLONOSCOPY, _years_back(ctx, 9))


def logic(ctx: Context) -> list[Criteria]:
    age = ctx.age_at_end()
    ip = age is not None and 46 <= age <= 75 and bool(adult_outpatient_encounters(ctx))
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(ip and denominator_exclusion(ctx)),
                "numerator": flag(ip and screened(ctx)),
            },
            strata={
                "Stratification_1_1": ONE if age is not None and 46 <= age <= 49 else NONE,
                "Stratification_1_2": ONE if age is not None and 50 <= age <= 75 else NONE,
            },
        )
    ]


MEASURE = Measure(
    id="CMS130",
    title="Colorectal Cancer Screening",
    description=__doc__ or "",
    groups=single_group(stratifiers=("Stratification_1_1", "Stratification_1_2")),
    valuesets=(
        *ADULT_OUTPATIENT, COLONOSCOPY, CT_COLONOGRAPHY, FOBT, SDNA_FIT, FLEXIBLE_SIGMOIDOSCOPY,
        MALIGNANT_NEOPLASM_OF_COLON, TOTAL_COLECTOMY, *HOSPICE_VALUESETS, *FRAILTY_VALUESETS, *PALLIATIVE_VALUESETS,
    ),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS130FHIRColorectalCancerScrn",
    version="1.0.000",
)
