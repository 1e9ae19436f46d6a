"""CMS131 Diabetes: Eye Exam.

Patients 18-75 at the end of the period with diabetes (an encounter diagnosis overlapping the period) and a
qualifying visit, who had a retinal or dilated eye exam: in the period when they have diabetic retinopathy,
in the period or the year before when they do not; or an autonomous (AI) eye exam in the period; or
retinopathy severity findings for both eyes (retinopathy in the period, or no retinopathy in the year before).
Exclusions: hospice, 66+ with advanced illness and frailty, 66+ in a nursing home, palliative care, bilateral
absence of eyes.
"""

from __future__ import annotations

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import (
    ANNUAL_WELLNESS_VISIT,
    HOME_HEALTHCARE_SERVICES,
    OFFICE_VISIT,
    OPHTHALMOLOGICAL_SERVICES,
    PREVENTIVE_ESTABLISHED_18_UP,
    PREVENTIVE_INITIAL_18_UP,
    TELEPHONE_VISITS,
    performed_during_period,
)
from careloop.quality.engine.exclusions import (
    FRAILTY_VALUESETS,
    HOSPICE_VALUESETS,
    PALLIATIVE_VALUESETS,
    standard_frailty_exclusions,
)
from careloop.quality.engine.fhir import Code
from careloop.quality.engine.period import Span, during, exists3, le, overlaps
from careloop.quality.engine.profiles import CLINICAL_RESULT
from careloop.quality.engine.qicore import (
    LOINC,
    SNOMED,
    diagnoses,
    encounter_diagnoses,
    is_physical_exam_performed,
    is_verified,
    observations,
    prevalence,
    value_concept,
    value_is,
)
from careloop.quality.measures.base import Criteria, Measure, flag, single_group

AUTONOMOUS_EYE_EXAM_RESULT = vsac("2.16.840.1.113883.3.464.1004.2616")
DIABETES = vsac("2.16.840.1.113883.3.464.1003.103.12.1001")
DIABETIC_RETINOPATHY = vsac("2.16.840.1.113883.3.526.3.327")
RETINOPATHY_SEVERITY_LEVEL = vsac("2.16.840.1.113883.3.464.1003.1266")
RETINAL_OR_DILATED_EYE_EXAM = vsac("2.16.840.1.113883.3.464.1003.115.12.1088")

BILATERAL_ANOPHTHALMOS = (SNOMED, "15665641000119103")
AUTONOMOUS_AI_SCREENING = (LOINC, "105914-6")
LEFT_EYE_SEVERITY = (LOINC, "71490-7")
RIGHT_EYE_SEVERITY = (LOINC, "71491-5")
NO_APPARENT_RETINOPATHY = (LOINC, "LA18643-9")
ENCOUNTERS = (
    OFFICE_VISIT, ANNUAL_WELLNESS_VISIT, PREVENTIVE_ESTABLISHED_18_UP, PREVENTIVE_INITIAL_18_UP,
    HOME_HEALTHCARE_SERVICES, OPHTHALMOLOGICAL_SERVICES, TELEPHONE_VISITS,
)


def initial_population(ctx: Context) -> bool:
    age = ctx.age_at_end()
    if age is None or not 18 <= age <= 75 or not performed_during_period(ctx, *ENCOUNTERS):
        return False
    return exists3(
        overlaps(span, ctx.mp, day=True)
        for c in encounter_diagnoses(ctx, DIABETES)
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )


def denominator_exclusion(ctx: Context) -> bool:
    if standard_frailty_exclusions(ctx):
        return True
    return exists3(
        le(span.start, ctx.mp.end, day=True)
        for c in diagnoses(ctx, codes=[BILATERAL_ANOPHTHALMOS])
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )


def _exams(ctx: Context, url: str | None = None, code: Code | None = None) -> list[tuple[Span, dict[str, object]]]:
    found = observations(ctx, CLINICAL_RESULT, *([url] if url else []), codes=[code] if code else [])
    return [
        (span, o) for o in found
        if is_physical_exam_performed(o) and (span := ctx.data.span(o, "effective")) is not None
    ]


def numerator(ctx: Context) -> bool:
    mp = ctx.mp
    year_before = Span(mp.start.add_months(-12), mp.end.add_months(-12))
    with_year_before = Span(mp.start.add_months(-12), mp.end)
    retinopathy = exists3(
        overlaps(span, mp, day=True)
        for c in diagnoses(ctx, DIABETIC_RETINOPATHY)
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )
    exams = _exams(ctx, RETINAL_OR_DILATED_EYE_EXAM)
    if retinopathy and any(during(span, mp, day=True) is True for span, _ in exams):
        return True
    if not retinopathy and any(during(span, with_year_before, day=True) is True for span, _ in exams):
        return True
    ai_results = ctx.vs(AUTONOMOUS_EYE_EXAM_RESULT)
    if any(
        during(span, mp, day=True) is True and not value_concept(o).isdisjoint(ai_results)
        for span, o in _exams(ctx, code=AUTONOMOUS_AI_SCREENING)
    ):
        return True
    severity = ctx.vs(RETINOPATHY_SEVERITY_LEVEL)

    def retinopathy_found(eye: Code) -> bool:
        return any(
            during(span, mp, day=True) is True and not value_concept(o).isdisjoint(severity)
            for span, o in _exams(ctx, code=eye)
        )

    def none_year_before(eye: Code) -> bool:
        return any(
            during(span, year_before, day=True) is True and value_is(o, NO_APPARENT_RETINOPATHY)
            for span, o in _exams(ctx, code=eye)
        )

    left, right = retinopathy_found(LEFT_EYE_SEVERITY), retinopathy_found(RIGHT_EYE_SEVERITY)
    left_none, right_none = none_year_before(LEFT_EYE_SEVERITY), none_year_before(RIGHT_EYE_SEVERITY)
    return (left and right) or (left and right_none) or (right and left_none) or (left_none and right_none)


def logic(ctx: Context) -> list[Criteria]:
    ip = initial_population(ctx)
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(ip and denominator_exclusion(ctx)),
                "numerator": flag(ip and numerator(ctx)),
            }
        )
    ]


MEASURE = Measure(
    id="CMS131",
    title="Diabetes: Eye Exam",
    description=__doc__ or "",
    groups=single_group(),
    valuesets=(
        *ENCOUNTERS, AUTONOMOUS_EYE_EXAM_RESULT, DIABETES, DIABETIC_RETINOPATHY, RETINOPATHY_SEVERITY_LEVEL,
        RETINAL_OR_DILATED_EYE_EXAM, *HOSPICE_VALUESETS, *FRAILTY_VALUESETS, *PALLIATIVE_VALUESETS,
    ),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS131FHIRDiabetesEyeExam",
    version="1.0.000",
)
