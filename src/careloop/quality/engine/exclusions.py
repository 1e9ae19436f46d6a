"""Exclusions shared across measures: hospice, palliative care, advanced illness and frailty, long-term care.

Written from the shared eCQM libraries' specifications (Hospice 6.18, PalliativeCare 1.18,
AdvancedIllnessandFrailty 1.27) for the measurement period of the context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.fhir import has_code, parse_point
from careloop.quality.engine.medications import request_period
from careloop.quality.engine.period import (
    Span,
    ends_during,
    exists3,
    le,
    overlaps,
    starts_during,
    within,
)
from careloop.quality.engine.profiles import SCREENING_ASSESSMENT, SIMPLE_OBSERVATION
from careloop.quality.engine.qicore import (
    LOINC,
    SNOMED,
    diagnoses,
    encounters_performed,
    is_completed,
    is_final,
    is_medication_active,
    is_order,
    is_symptom,
    is_verified,
    observations,
    prevalence,
    requests,
    resources,
    value_concept,
    value_is,
)

ENCOUNTER_INPATIENT = vsac("2.16.840.1.113883.3.666.5.307")
HOSPICE_CARE_AMBULATORY = vsac("2.16.840.1.113883.3.526.3.1584")
HOSPICE_ENCOUNTER = vsac("2.16.840.1.113883.3.464.1003.1003")
HOSPICE_DIAGNOSIS = vsac("2.16.840.1.113883.3.464.1003.1165")
PALLIATIVE_CARE_ENCOUNTER = vsac("2.16.840.1.113883.3.464.1003.101.12.1090")
PALLIATIVE_CARE_INTERVENTION = vsac("2.16.840.1.113883.3.464.1003.198.12.1135")
PALLIATIVE_CARE_DIAGNOSIS = vsac("2.16.840.1.113883.3.464.1003.1167")
ADVANCED_ILLNESS = vsac("2.16.840.1.113883.3.464.1003.110.12.1082")
DEMENTIA_MEDICATIONS = vsac("2.16.840.1.113883.3.464.1003.196.12.1510")
FRAILTY_DEVICE = vsac("2.16.840.1.113883.3.464.1003.118.12.1300")
FRAILTY_DIAGNOSIS = vsac("2.16.840.1.113883.3.464.1003.113.12.1074")
FRAILTY_ENCOUNTER = vsac("2.16.840.1.113883.3.464.1003.101.12.1088")
FRAILTY_SYMPTOM = vsac("2.16.840.1.113883.3.464.1003.113.12.1075")

HOSPICE_VALUESETS = (ENCOUNTER_INPATIENT, HOSPICE_CARE_AMBULATORY, HOSPICE_ENCOUNTER, HOSPICE_DIAGNOSIS)
PALLIATIVE_VALUESETS = (PALLIATIVE_CARE_ENCOUNTER, PALLIATIVE_CARE_INTERVENTION, PALLIATIVE_CARE_DIAGNOSIS)
FRAILTY_VALUESETS = (
    ADVANCED_ILLNESS, DEMENTIA_MEDICATIONS, FRAILTY_DEVICE, FRAILTY_DIAGNOSIS, FRAILTY_ENCOUNTER, FRAILTY_SYMPTOM,
)

DISCHARGE_TO_HOME_FOR_HOSPICE = (SNOMED, "428361000124107")
DISCHARGE_TO_FACILITY_FOR_HOSPICE = (SNOMED, "428371000124100")
HOSPICE_CARE_MDS = (LOINC, "45755-6")
YES = (SNOMED, "373066001")
FACIT_PAL = (LOINC, "71007-9")
HOUSING_STATUS = (LOINC, "71802-3")
LIVES_IN_NURSING_HOME = (SNOMED, "160734000")
MEDICAL_EQUIPMENT_USED = (LOINC, "98181-1")


def discharged_to_hospice(encounter: Mapping[str, Any]) -> bool:
    disposition = (encounter.get("hospitalization") or {}).get("dischargeDisposition")
    return has_code(disposition, DISCHARGE_TO_HOME_FOR_HOSPICE) or has_code(
        disposition, DISCHARGE_TO_FACILITY_FOR_HOSPICE
    )


def has_hospice_services(ctx: Context) -> bool:
    """Hospice ``Has Hospice Services``: discharge to hospice, a hospice encounter, an MDS hospice 'yes', an
    ambulatory hospice order or procedure, or a hospice diagnosis, in (or overlapping) the window."""
    mp, data = ctx.mp, ctx.data

    def compute() -> bool:
        if any(
            discharged_to_hospice(e) and ends_during(span, mp, day=True) is True
            for e in encounters_performed(ctx, ENCOUNTER_INPATIENT)
            if (span := data.span(e, "period")) is not None
        ):
            return True
        if exists3(
            overlaps(span, mp, day=True)
            for e in encounters_performed(ctx, HOSPICE_ENCOUNTER)
            if (span := data.span(e, "period")) is not None
        ):
            return True
        if exists3(
            overlaps(span, mp, day=True)
            for o in observations(ctx, SCREENING_ASSESSMENT, codes=[HOSPICE_CARE_MDS])
            if is_final(o) and value_is(o, YES) and (span := data.span(o, "effective")) is not None
        ):
            return True
        if exists3(
            within(point, mp, day=True)
            for r in requests(ctx, "ServiceRequest", HOSPICE_CARE_AMBULATORY)
            if is_order(r) and (point := parse_point(r.get("authoredOn"))) is not None
        ):
            return True
        if exists3(
            overlaps(span, mp, day=True)
            for p in resources(ctx, "Procedure", HOSPICE_CARE_AMBULATORY)
            if is_completed(p) and (span := data.span(p, "performed")) is not None
        ):
            return True
        return exists3(
            overlaps(span, mp, day=True)
            for c in diagnoses(ctx, HOSPICE_DIAGNOSIS)
            if is_verified(c) and (span := prevalence(ctx, c)) is not None
        )

    return ctx.memo("hospice", compute)


def has_palliative_care(ctx: Context) -> bool:
    """PalliativeCare ``Has Palliative Care in the Measurement Period``."""
    mp, data = ctx.mp, ctx.data

    def compute() -> bool:
        if exists3(
            overlaps(span, mp, day=True)
            for o in observations(ctx, SCREENING_ASSESSMENT, codes=[FACIT_PAL])
            if is_final(o) and (span := data.span(o, "effective")) is not None
        ):
            return True
        if exists3(
            overlaps(span, mp, day=True)
            for c in diagnoses(ctx, PALLIATIVE_CARE_DIAGNOSIS)
            if is_verified(c) and (span := prevalence(ctx, c)) is not None
        ):
            return True
        if exists3(
            overlaps(span, mp, day=True)
            for e in encounters_performed(ctx, PALLIATIVE_CARE_ENCOUNTER)
            if (span := data.span(e, "period")) is not None
        ):
            return True
        return exists3(
            overlaps(span, mp, day=True)
            for p in resources(ctx, "Procedure", PALLIATIVE_CARE_INTERVENTION)
            if is_completed(p) and (span := data.span(p, "performed")) is not None
        )

    return ctx.memo("palliative", compute)


def has_frailty(ctx: Context) -> bool:
    """AdvancedIllnessandFrailty ``Has Criteria Indicating Frailty``."""
    mp, data = ctx.mp, ctx.data

    def compute() -> bool:
        if exists3(
            within(point, mp, day=True)
            for d in requests(ctx, "DeviceRequest", FRAILTY_DEVICE)
            if is_order(d) and (point := parse_point(d.get("authoredOn"))) is not None
        ):
            return True
        frailty_device = ctx.vs(FRAILTY_DEVICE)
        if exists3(
            ends_during(span, mp, day=True)
            for o in observations(ctx, SCREENING_ASSESSMENT, codes=[MEDICAL_EQUIPMENT_USED])
            if is_final(o)
            and not value_concept(o).isdisjoint(frailty_device)
            and (span := data.span(o, "effective")) is not None
        ):
            return True
        if exists3(
            overlaps(span, mp, day=True)
            for c in diagnoses(ctx, FRAILTY_DIAGNOSIS)
            if is_verified(c) and (span := prevalence(ctx, c)) is not None
        ):
            return True
        if exists3(
            overlaps(span, mp, day=True)
            for e in encounters_performed(ctx, FRAILTY_ENCOUNTER)
            if (span := data.span(e, "period")) is not None
        ):
            return True
        return exists3(
            overlaps(span, mp, day=True)
            for o in observations(ctx, SIMPLE_OBSERVATION, FRAILTY_SYMPTOM)
            if is_symptom(o) and (span := data.span(o, "effective")) is not None
        )

    return ctx.memo("frailty", compute)


def _year_before_and_period(ctx: Context) -> Span:
    mp = ctx.mp
    return Span(mp.start.add_months(-12), mp.end)


def has_advanced_illness(ctx: Context) -> bool:
    """Advanced illness diagnosis starting in the year before or during the measurement period."""
    window = _year_before_and_period(ctx)
    return exists3(
        starts_during(span, window, day=True)
        for c in diagnoses(ctx, ADVANCED_ILLNESS)
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )


def has_dementia_medications(ctx: Context) -> bool:
    """An active dementia medication order whose supply period overlaps the year before or the period."""
    window = _year_before_and_period(ctx)
    return exists3(
        overlaps(span, window, day=True)
        for m in requests(ctx, "MedicationRequest", DEMENTIA_MEDICATIONS)
        if is_medication_active(m) and (span := request_period(m)) is not None
    )


def advanced_illness_or_dementia(ctx: Context) -> bool:
    return ctx.memo("advanced-illness", lambda: has_advanced_illness(ctx) or has_dementia_medications(ctx))


def age_66_plus_with_advanced_illness_and_frailty(ctx: Context) -> bool:
    """``Is Age 66 or Older with Advanced Illness and Frailty``."""
    age = ctx.age_at_end()
    return age is not None and age >= 66 and has_frailty(ctx) and advanced_illness_or_dementia(ctx)


def age_66_to_80_frail_and_ill_or_81_plus_frail(ctx: Context) -> bool:
    """``Is Age 66 to 80 with Advanced Illness and Frailty or Is Age 81 or Older with Frailty``."""
    age = ctx.age_at_end()
    if age is None or age < 66:
        return False
    if age >= 81:
        return has_frailty(ctx)
    return has_frailty(ctx) and advanced_illness_or_dementia(ctx)


def age_66_plus_in_nursing_home(ctx: Context) -> bool:
    """``Is Age 66 or Older Living Long Term in a Nursing Home``: the latest housing-status assessment on or before
    the end of the period says the patient lives in a nursing home."""
    age = ctx.age_at_end()
    if age is None or age < 66:
        return False
    mp, data = ctx.mp, ctx.data
    candidates = []
    for o in observations(ctx, SCREENING_ASSESSMENT, codes=[HOUSING_STATUS]):
        span = data.span(o, "effective")
        if is_final(o) and span is not None and le(span.end, mp.end, day=True) is True:
            candidates.append((span.end.lo, o))
    if not candidates:
        return False
    candidates.sort(key=lambda item: item[0])
    return value_is(candidates[-1][1], LIVES_IN_NURSING_HOME)


def standard_frailty_exclusions(ctx: Context) -> bool:
    """Hospice, 66+ with advanced illness and frailty, 66+ in a nursing home, or palliative care."""
    return (
        has_hospice_services(ctx)
        or age_66_plus_with_advanced_illness_and_frailty(ctx)
        or age_66_plus_in_nursing_home(ctx)
        or has_palliative_care(ctx)
    )

