"""CMS139 Falls: Screening for Future Fall Risk.

Patients 65 and older at the start of the period with a qualifying visit in it, screened for future fall risk
during the period. Exclusion: hospice.
"""

from __future__ import annotations

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import (
    ANNUAL_WELLNESS_VISIT,
    CARE_SERVICES_LONG_TERM_RESIDENTIAL,
    DISCHARGE_SERVICES_NURSING_FACILITY,
    HOME_HEALTHCARE_SERVICES,
    NURSING_FACILITY_VISIT,
    OCCUPATIONAL_THERAPY_EVALUATION,
    OFFICE_VISIT,
    OPHTHALMOLOGICAL_SERVICES,
    PHYSICAL_THERAPY_EVALUATION,
    PREVENTIVE_ESTABLISHED_18_UP,
    PREVENTIVE_INDIVIDUAL_COUNSELING,
    PREVENTIVE_INITIAL_18_UP,
    TELEPHONE_VISITS,
    VIRTUAL_ENCOUNTER,
    performed_during_period,
)
from careloop.quality.engine.exclusions import HOSPICE_VALUESETS, has_hospice_services
from careloop.quality.engine.period import during, exists3
from careloop.quality.engine.profiles import SCREENING_ASSESSMENT
from careloop.quality.engine.qicore import is_final, observations
from careloop.quality.measures.base import Criteria, Measure, flag, single_group

AUDIOLOGY_VISIT = vsac("2.16.840.1.113883.3.464.1003.101.12.1066")
FALLS_SCREENING = vsac("2.16.840.1.113883.3.464.1003.118.12.1028")
ENCOUNTERS = (
    OFFICE_VISIT, ANNUAL_WELLNESS_VISIT, PREVENTIVE_ESTABLISHED_18_UP, PREVENTIVE_INITIAL_18_UP,
    HOME_HEALTHCARE_SERVICES, OPHTHALMOLOGICAL_SERVICES, PREVENTIVE_INDIVIDUAL_COUNSELING,
    DISCHARGE_SERVICES_NURSING_FACILITY, NURSING_FACILITY_VISIT, CARE_SERVICES_LONG_TERM_RESIDENTIAL,
    AUDIOLOGY_VISIT, TELEPHONE_VISITS, VIRTUAL_ENCOUNTER, PHYSICAL_THERAPY_EVALUATION, OCCUPATIONAL_THERAPY_EVALUATION,
)


def screened(ctx: Context) -> bool:
    return exists3(
        during(span, ctx.mp, day=True)
        for o in observations(ctx, SCREENING_ASSESSMENT, FALLS_SCREENING)
        if is_final(o) and (span := ctx.data.span(o, "effective")) is not None
    )


def logic(ctx: Context) -> list[Criteria]:
    age = ctx.age_at_start()
    ip = age is not None and age >= 65 and bool(performed_during_period(ctx, *ENCOUNTERS))
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(ip and has_hospice_services(ctx)),
                "numerator": flag(ip and screened(ctx)),
            }
        )
    ]


MEASURE = Measure(
    id="CMS139",
    title="Falls: Screening for Future Fall Risk",
    description=__doc__ or "",
    groups=single_group(),
    valuesets=(*ENCOUNTERS, FALLS_SCREENING, *HOSPICE_VALUESETS),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS139FHIRFallRiskScreening",
    version="1.0.000",
)
