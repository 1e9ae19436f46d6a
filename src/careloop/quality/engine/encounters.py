"""Encounter value sets shared by the ambulatory measures, and the common qualifying-visit definitions."""

from __future__ import annotations

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.fhir import Resource
from careloop.quality.engine.period import during
from careloop.quality.engine.qicore import cached_retrieve, is_encounter_performed

OFFICE_VISIT = vsac("2.16.840.1.113883.3.464.1003.101.12.1001")
ANNUAL_WELLNESS_VISIT = vsac("2.16.840.1.113883.3.526.3.1240")
PREVENTIVE_ESTABLISHED_18_UP = vsac("2.16.840.1.113883.3.464.1003.101.12.1025")
PREVENTIVE_INITIAL_18_UP = vsac("2.16.840.1.113883.3.464.1003.101.12.1023")
PREVENTIVE_ESTABLISHED_0_17 = vsac("2.16.840.1.113883.3.464.1003.101.12.1024")
PREVENTIVE_INITIAL_0_17 = vsac("2.16.840.1.113883.3.464.1003.101.12.1022")
PREVENTIVE_GROUP_COUNSELING = vsac("2.16.840.1.113883.3.464.1003.101.12.1027")
PREVENTIVE_INDIVIDUAL_COUNSELING = vsac("2.16.840.1.113883.3.464.1003.101.12.1026")
HOME_HEALTHCARE_SERVICES = vsac("2.16.840.1.113883.3.464.1003.101.12.1016")
VIRTUAL_ENCOUNTER = vsac("2.16.840.1.113883.3.464.1003.101.12.1089")
TELEPHONE_VISITS = vsac("2.16.840.1.113883.3.464.1003.101.12.1080")
NUTRITION_SERVICES = vsac("2.16.840.1.113883.3.464.1003.1006")
OPHTHALMOLOGICAL_SERVICES = vsac("2.16.840.1.113883.3.526.3.1285")
NURSING_FACILITY_VISIT = vsac("2.16.840.1.113883.3.464.1003.101.12.1012")
DISCHARGE_SERVICES_NURSING_FACILITY = vsac("2.16.840.1.113883.3.464.1003.101.12.1013")
CARE_SERVICES_LONG_TERM_RESIDENTIAL = vsac("2.16.840.1.113883.3.464.1003.101.12.1014")
PHYSICAL_THERAPY_EVALUATION = vsac("2.16.840.1.113883.3.526.3.1022")
OCCUPATIONAL_THERAPY_EVALUATION = vsac("2.16.840.1.113883.3.526.3.1011")
OUTPATIENT_CONSULTATION = vsac("2.16.840.1.113883.3.464.1003.101.12.1008")

ADULT_OUTPATIENT = (
    OFFICE_VISIT,
    ANNUAL_WELLNESS_VISIT,
    PREVENTIVE_ESTABLISHED_18_UP,
    PREVENTIVE_INITIAL_18_UP,
    HOME_HEALTHCARE_SERVICES,
    VIRTUAL_ENCOUNTER,
    TELEPHONE_VISITS,
)


def _performed_in_period(ctx: Context, day: bool) -> set[int]:
    """The finished encounters (by ``id``) whose period lies within (the days of) the measurement period: worked
    out once per patient, then each kind of visit is a retrieve filtered by it."""
    def compute() -> set[int]:
        mp, data = ctx.mp, ctx.data
        return {
            id(e)
            for e in data.all("Encounter")
            if is_encounter_performed(e)
            and (span := data.span(e, "period")) is not None
            and during(span, mp, day=day) is True
        }

    return ctx.memo("encounters-performed-in-period-day" if day else "encounters-performed-in-period", compute)


def performed_during_period(ctx: Context, *urls: str, codes: tuple[tuple[str, str], ...] = (),
                            day: bool = True) -> list[Resource]:
    """Finished encounters of the given kinds whose period lies within (the days of) the measurement period."""
    inside = _performed_in_period(ctx, day)
    return [e for e in cached_retrieve(ctx, "Encounter", urls, codes) if id(e) in inside]


def adult_outpatient_encounters(ctx: Context) -> list[Resource]:
    """AdultOutpatientEncounters ``Qualifying Encounters``."""
    return ctx.memo("adult-outpatient", lambda: performed_during_period(ctx, *ADULT_OUTPATIENT))
