"""CMS122 Diabetes: Glycemic Status Assessment Greater Than 9% (inverse: the numerator is poor control).

Patients 18-75 at the end of the period with diabetes (an encounter diagnosis overlapping the period) and a
qualifying visit. Numerator: the most recent glycemic status assessment (HbA1c or GMI) in the period is > 9.0%,
has no result, or there is none. Exclusions: hospice, 66+ with advanced illness and frailty, 66+ in a nursing
home, palliative care.
"""

from __future__ import annotations

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import (
    ANNUAL_WELLNESS_VISIT,
    HOME_HEALTHCARE_SERVICES,
    NUTRITION_SERVICES,
    OFFICE_VISIT,
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
from careloop.quality.engine.period import exists3, overlaps, within
from careloop.quality.engine.profiles import LAB_RESULT
from careloop.quality.engine.qicore import (
    CPT,
    HCPCS,
    LOINC,
    encounter_diagnoses,
    has_value,
    is_final,
    is_verified,
    observations,
    prevalence,
    value_quantity,
)
from careloop.quality.measures.base import Criteria, Measure, flag, single_group

DIABETES = vsac("2.16.840.1.113883.3.464.1003.103.12.1001")
HBA1C_LAB_TEST = vsac("2.16.840.1.113883.3.464.1003.198.12.1013")
GLUCOSE_MANAGEMENT_INDICATOR = (LOINC, "97506-0")
MEDICAL_NUTRITION_THERAPY = (
    (CPT, "97802"), (CPT, "97803"), (CPT, "97804"), (HCPCS, "G0270"), (HCPCS, "G0271"),
)
ENCOUNTERS = (
    OFFICE_VISIT, ANNUAL_WELLNESS_VISIT, PREVENTIVE_ESTABLISHED_18_UP, PREVENTIVE_INITIAL_18_UP,
    HOME_HEALTHCARE_SERVICES, NUTRITION_SERVICES, TELEPHONE_VISITS,
)


def initial_population(ctx: Context) -> bool:
    age = ctx.age_at_end()
    if age is None or not 18 <= age <= 75:
        return False
    if not performed_during_period(ctx, *ENCOUNTERS, codes=MEDICAL_NUTRITION_THERAPY):
        return False
    return exists3(
        overlaps(span, ctx.mp, day=True)
        for c in encounter_diagnoses(ctx, DIABETES)
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )


def poor_control(ctx: Context) -> bool:
    """Most recent HbA1c/GMI day in the period: the lowest reading that day is > 9%, or has no result; or none."""
    mp, data = ctx.mp, ctx.data
    readings = []
    for o in observations(ctx, LAB_RESULT, HBA1C_LAB_TEST, codes=[GLUCOSE_MANAGEMENT_INDICATOR]):
        when = data.latest(o, "effective")
        if is_final(o) and when is not None and within(when, mp, day=True) is True:
            readings.append((when, o))
    if not readings:
        return True
    last_day = max(when.lo.date() for when, _ in readings)
    # Sorted by the value as a Quantity, nulls first (a reading without a quantity is the "lowest").
    that_day = [(value_quantity(o), o) for when, o in readings if when.lo.date() == last_day]
    that_day.sort(key=lambda item: (item[0] is not None, item[0].value if item[0] is not None else 0.0))
    lowest, observation = that_day[0]
    if not has_value(observation):
        return True  # most recent assessment without a result
    return lowest is not None and lowest.unit == "%" and lowest.value > 9


def logic(ctx: Context) -> list[Criteria]:
    ip = initial_population(ctx)
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(ip and standard_frailty_exclusions(ctx)),
                "numerator": flag(ip and poor_control(ctx)),
            }
        )
    ]


MEASURE = Measure(
    id="CMS122",
    title="Diabetes: Glycemic Status Assessment Greater Than 9%",
    description=__doc__ or "",
    groups=single_group(),
    valuesets=(*ENCOUNTERS, DIABETES, HBA1C_LAB_TEST, *HOSPICE_VALUESETS, *FRAILTY_VALUESETS, *PALLIATIVE_VALUESETS),
    logic=logic,
    inverse=True,
    url="https://madie.cms.gov/Measure/CMS122FHIRDiabetesAssessGT9Pct",
    version="1.0.000",
)
