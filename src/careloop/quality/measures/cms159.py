"""CMS159 Depression Remission at Twelve Months.

Patients 12 and older with major depression or dysthymia and an index PHQ-9 / PHQ-9M score above 9 (the first
one within 7 days before or during a depression visit in the denominator identification period, 14 to 2 months
before the measurement period). Numerator: remission, the last PHQ-9 in the measure assessment period (12
months +/- 60 days after the index assessment) is below 5. Exclusions (up to the end of the assessment period):
hospice, palliative care, death, bipolar / personality / psychotic / pervasive developmental disorders.
Strata: age 12-17 and 18+ at the index assessment.
"""

from __future__ import annotations

import datetime as dt

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.exclusions import (
    DISCHARGE_TO_FACILITY_FOR_HOSPICE,
    DISCHARGE_TO_HOME_FOR_HOSPICE,
    ENCOUNTER_INPATIENT,
    FACIT_PAL,
    HOSPICE_CARE_AMBULATORY,
    HOSPICE_CARE_MDS,
    HOSPICE_DIAGNOSIS,
    HOSPICE_ENCOUNTER,
    PALLIATIVE_CARE_DIAGNOSIS,
    PALLIATIVE_CARE_ENCOUNTER,
    PALLIATIVE_CARE_INTERVENTION,
    YES,
)
from careloop.quality.engine.fhir import ORDER_INTENTS, Resource, has_code, parse_point
from careloop.quality.engine.period import (
    MS,
    Point,
    Span,
    day_start,
    during,
    ends_during,
    exists3,
    le,
    overlaps,
    within,
)
from careloop.quality.engine.profiles import SCREENING_ASSESSMENT
from careloop.quality.engine.qicore import (
    FINAL,
    diagnoses,
    encounters,
    is_verified,
    observations,
    prevalence,
    requests,
    resources,
    value_is,
    value_number,
)
from careloop.quality.measures.base import NONE, ONE, Criteria, Measure, flag, single_group

BIPOLAR_DISORDER = vsac("2.16.840.1.113883.3.67.1.101.1.128")
CONTACT_OR_OFFICE_VISIT = vsac("2.16.840.1.113762.1.4.1080.5")
DYSTHYMIA = vsac("2.16.840.1.113883.3.67.1.101.1.254")
# The published measure references this OID without its ".1" (as VSAC also publishes it).
MAJOR_DEPRESSION = vsac("2.16.840.113883.3.67.1.101.3.2444")
PERSONALITY_DISORDER_EMOTIONALLY_LABILE = vsac("2.16.840.1.113883.3.67.1.101.1.246")
PERVASIVE_DEVELOPMENTAL_DISORDER = vsac("2.16.840.1.113883.3.464.1003.105.12.1152")
PHQ9_TOOLS = vsac("2.16.840.1.113883.3.67.1.101.1.263")
SCHIZOPHRENIA_OR_PSYCHOTIC_DISORDER = vsac("2.16.840.1.113883.3.464.1003.105.12.1104")
NOT_DONE = ("not-done", "entered-in-error", "unknown")


def identification_period(ctx: Context) -> Span:
    """14 to 2 months before the measurement period: ``[start - 14 months, start - 2 months)``."""
    return Span(ctx.mp.start.add_months(-14), ctx.mp.start.add_months(-2).shift(-MS))


def _phq9(ctx: Context) -> list[tuple[Span, Resource]]:
    return [
        (span, o) for o in observations(ctx, SCREENING_ASSESSMENT, PHQ9_TOOLS)
        if o.get("status") in FINAL and (span := ctx.data.span(o, "effective")) is not None
    ]


def index_assessment(ctx: Context) -> Span | None:
    """Start of the first PHQ-9 > 9 within 7 days before or during a depression visit in the identification
    period (the visit overlapping a verified depression diagnosis)."""

    def compute() -> Span | None:
        data, dip = ctx.data, identification_period(ctx)
        depression = [
            span for c in diagnoses(ctx, MAJOR_DEPRESSION, DYSTHYMIA)
            if is_verified(c) and (span := prevalence(ctx, c)) is not None
        ]
        if not depression:  # no visit can overlap a diagnosis, so no assessment qualifies
            return None
        visits = [
            span for e in encounters(ctx, CONTACT_OR_OFFICE_VISIT)
            if e.get("status") == "finished"
            and (span := data.span(e, "period")) is not None
            and ends_during(span, dip, day=True) is True
            and any(overlaps(span, d) is True for d in depression)
        ]
        if not visits:
            return None
        found = [
            span for span, o in _phq9(ctx)
            if (score := value_number(o)) is not None and score > 9
            and any(during(span, Span(v.start.shift(-dt.timedelta(days=7)), v.end), day=True) is True for v in visits)
        ]
        return min(found, key=lambda s: s.start.lo) if found else None

    return ctx.memo("cms159-index", compute)


def assessment_period(index: Span) -> Span:
    """12 months after the index assessment, +/- 60 days (whole days)."""
    day = index.start.date() or index.start.lo.date()
    anchor = Point.at(day_start(day)).add_months(12)
    return Span(anchor.shift(-dt.timedelta(days=60)), anchor.shift(dt.timedelta(days=60)))


def _hospice(ctx: Context, window: Span) -> bool:
    data = ctx.data
    if any(
        e.get("status") == "finished"
        and (has_code(disposition := (e.get("hospitalization") or {}).get("dischargeDisposition"),
                      DISCHARGE_TO_HOME_FOR_HOSPICE) or has_code(disposition, DISCHARGE_TO_FACILITY_FOR_HOSPICE))
        and (span := data.span(e, "period")) is not None
        and ends_during(span, window, day=True) is True
        for e in encounters(ctx, ENCOUNTER_INPATIENT)
    ):
        return True
    if exists3(
        overlaps(span, window, day=True) for e in encounters(ctx, HOSPICE_ENCOUNTER)
        if e.get("status") not in ("cancelled", "entered-in-error", "unknown")
        and (span := data.span(e, "period")) is not None
    ):
        return True
    if exists3(
        overlaps(span, window, day=True)
        for o in observations(ctx, SCREENING_ASSESSMENT, codes=[HOSPICE_CARE_MDS])
        if value_is(o, YES) and o.get("status") in FINAL and (span := data.span(o, "effective")) is not None
    ):
        return True
    if any(
        r.get("status") in ("active", "completed") and r.get("intent") in ORDER_INTENTS
        and (authored := parse_point(r.get("authoredOn"))) is not None
        and within(authored, window, day=True) is True
        for r in requests(ctx, "ServiceRequest", HOSPICE_CARE_AMBULATORY)
    ):
        return True
    if exists3(
        overlaps(span, window, day=True) for p in resources(ctx, "Procedure", HOSPICE_CARE_AMBULATORY)
        if p.get("status") not in NOT_DONE and (span := data.span(p, "performed")) is not None
    ):
        return True
    return exists3(
        overlaps(span, window, day=True) for c in diagnoses(ctx, HOSPICE_DIAGNOSIS)
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )


def _palliative(ctx: Context, window: Span) -> bool:
    data = ctx.data
    if exists3(
        overlaps(span, window, day=True)
        for o in observations(ctx, SCREENING_ASSESSMENT, codes=[FACIT_PAL])
        if o.get("status") in FINAL and (span := data.span(o, "effective")) is not None
    ):
        return True
    if exists3(
        overlaps(span, window, day=True) for c in diagnoses(ctx, PALLIATIVE_CARE_DIAGNOSIS)
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    ):
        return True
    if exists3(
        overlaps(span, window, day=True) for e in encounters(ctx, PALLIATIVE_CARE_ENCOUNTER)
        if e.get("status") == "finished" and (span := data.span(e, "period")) is not None
    ):
        return True
    return exists3(
        overlaps(span, window, day=True) for p in resources(ctx, "Procedure", PALLIATIVE_CARE_INTERVENTION)
        if p.get("status") not in NOT_DONE and (span := data.span(p, "performed")) is not None
    )


def denominator_exclusion(ctx: Context, assessment: Span) -> bool:
    window = Span(identification_period(ctx).start, assessment.end)
    if _hospice(ctx, window) or _palliative(ctx, window):
        return True
    deceased = parse_point(ctx.data.patient.get("deceasedDateTime"))
    if deceased is not None and le(deceased, assessment.end, day=True) is True:
        return True
    return exists3(
        le(span.start, assessment.end, day=True)
        for c in diagnoses(
            ctx, BIPOLAR_DISORDER, PERSONALITY_DISORDER_EMOTIONALLY_LABILE, SCHIZOPHRENIA_OR_PSYCHOTIC_DISORDER,
            PERVASIVE_DEVELOPMENTAL_DISORDER,
        )
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )


def remission(ctx: Context, assessment: Span) -> bool:
    found = [(span.start.lo, o) for span, o in _phq9(ctx) if within(span.start, assessment, day=True) is True]
    if not found:
        return False
    found.sort(key=lambda item: item[0])
    score = value_number(found[-1][1])
    return score is not None and score < 5


def logic(ctx: Context) -> list[Criteria]:
    index = index_assessment(ctx)
    age = ctx.age_on(index.start.date() or index.start.lo.date()) if index is not None else None
    ip = index is not None and age is not None and age >= 12
    if not ip or index is None:
        return [Criteria({"initial_population": NONE})]
    assessment = assessment_period(index)
    return [
        Criteria(
            {
                "initial_population": ONE,
                "denominator_exclusion": flag(denominator_exclusion(ctx, assessment)),
                "numerator": flag(remission(ctx, assessment)),
            },
            strata={
                "Stratification_1_1": flag(age is not None and 12 <= age <= 17),
                "Stratification_1_2": flag(age is not None and age >= 18),
            },
        )
    ]


MEASURE = Measure(
    id="CMS159",
    title="Depression Remission at Twelve Months",
    description=__doc__ or "",
    groups=single_group(stratifiers=("Stratification_1_1", "Stratification_1_2")),
    valuesets=(
        BIPOLAR_DISORDER, CONTACT_OR_OFFICE_VISIT, DYSTHYMIA, MAJOR_DEPRESSION, PERSONALITY_DISORDER_EMOTIONALLY_LABILE,
        PERVASIVE_DEVELOPMENTAL_DISORDER, PHQ9_TOOLS, SCHIZOPHRENIA_OR_PSYCHOTIC_DISORDER, ENCOUNTER_INPATIENT,
        HOSPICE_CARE_AMBULATORY, HOSPICE_DIAGNOSIS, HOSPICE_ENCOUNTER, PALLIATIVE_CARE_DIAGNOSIS,
        PALLIATIVE_CARE_ENCOUNTER, PALLIATIVE_CARE_INTERVENTION,
    ),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS159FHIRDepRemissionat12Months",
    version="1.0.000",
)
