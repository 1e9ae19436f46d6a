"""CMS165 Controlling High Blood Pressure.

Patients 18-85 at the end of the period with essential hypertension overlapping the first six months of the
period and a qualifying outpatient visit, whose most recent blood pressure in the period is below 140/90 (the
lowest systolic and the lowest diastolic of that day). Readings taken during an inpatient stay or an emergency
visit do not count. Exclusions: hospice, pregnancy / ESRD / kidney transplant / CKD 5, dialysis or transplant,
ESRD monthly services, 66-80 with advanced illness and frailty or 81+ with frailty, 66+ in a nursing home,
palliative care.
"""

from __future__ import annotations

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import ADULT_OUTPATIENT, adult_outpatient_encounters
from careloop.quality.engine.exclusions import (
    ENCOUNTER_INPATIENT,
    FRAILTY_VALUESETS,
    HOSPICE_VALUESETS,
    PALLIATIVE_VALUESETS,
    age_66_plus_in_nursing_home,
    age_66_to_80_frail_and_ill_or_81_plus_frail,
    has_hospice_services,
    has_palliative_care,
)
from careloop.quality.engine.fhir import Quantity, Resource, reference_id
from careloop.quality.engine.period import MS, Point, Span, exists3, le, overlaps, within
from careloop.quality.engine.qicore import (
    compare,
    diagnoses,
    encounters_performed,
    is_completed,
    is_final,
    is_verified,
    prevalence,
    resources,
)
from careloop.quality.engine.vitals import MM_HG, blood_pressures, diastolic, systolic
from careloop.quality.measures.base import Criteria, Measure, flag, single_group

CKD_STAGE_5 = vsac("2.16.840.1.113883.3.526.3.1002")
DIALYSIS_SERVICES = vsac("2.16.840.1.113883.3.464.1003.109.12.1013")
ED_VISIT = vsac("2.16.840.1.113883.3.464.1003.101.12.1010")
ESRD = vsac("2.16.840.1.113883.3.526.3.353")
ESRD_MONTHLY_OUTPATIENT = vsac("2.16.840.1.113883.3.464.1003.109.12.1014")
ESSENTIAL_HYPERTENSION = vsac("2.16.840.1.113883.3.464.1003.104.12.1011")
KIDNEY_TRANSPLANT = vsac("2.16.840.1.113883.3.464.1003.109.12.1012")
KIDNEY_TRANSPLANT_RECIPIENT = vsac("2.16.840.1.113883.3.464.1003.109.12.1029")
PREGNANCY = vsac("2.16.840.1.113883.3.526.3.378")

ACUTE_CLASSES = frozenset({"EMER", "IMP", "ACUTE", "NONAC", "PRENC", "SS"})


def has_hypertension(ctx: Context) -> bool:
    first_half = Span(ctx.mp.start, ctx.mp.start.add_months(6).shift(-MS))
    return exists3(
        overlaps(span, first_half)
        for c in diagnoses(ctx, ESSENTIAL_HYPERTENSION)
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )


def initial_population(ctx: Context) -> bool:
    age = ctx.age_at_end()
    return age is not None and 18 <= age <= 85 and has_hypertension(ctx) and bool(adult_outpatient_encounters(ctx))


def renal_or_pregnancy(ctx: Context) -> bool:
    mp, data = ctx.mp, ctx.data
    if exists3(
        overlaps(span, mp)
        for c in diagnoses(ctx, PREGNANCY, ESRD, KIDNEY_TRANSPLANT_RECIPIENT, CKD_STAGE_5)
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    ):
        return True
    if exists3(
        le(span.end, mp.end)
        for p in resources(ctx, "Procedure", KIDNEY_TRANSPLANT, DIALYSIS_SERVICES)
        if is_completed(p) and (span := data.span(p, "performed")) is not None
    ):
        return True
    return exists3(
        le(span.start, mp.end)
        for e in encounters_performed(ctx, ESRD_MONTHLY_OUTPATIENT)
        if (span := data.span(e, "period")) is not None
    )


def denominator_exclusion(ctx: Context) -> bool:
    return (
        has_hospice_services(ctx)
        or renal_or_pregnancy(ctx)
        or age_66_to_80_frail_and_ill_or_81_plus_frail(ctx)
        or age_66_plus_in_nursing_home(ctx)
        or has_palliative_care(ctx)
    )


def qualifying_readings(ctx: Context) -> list[tuple[Point, Resource]]:
    """Final BP readings in the period, not taken during an inpatient stay or ED visit: either no such encounter
    spans the reading's day, or the reading's own encounter is not an acute-care one."""
    mp, data = ctx.mp, ctx.data
    acute_spans = [
        span for e in encounters_performed(ctx, ENCOUNTER_INPATIENT, ED_VISIT)
        if (span := data.span(e, "period")) is not None
    ]
    out = []
    for bp in blood_pressures(ctx):
        when = data.latest(bp, "effective")
        if not is_final(bp) or when is None or within(when, mp, day=True) is not True:
            continue
        if not any(within(when, span, day=True) is True for span in acute_spans):  # outside acute care
            out.append((when, bp))
            continue
        encounter = data.get("Encounter", reference_id(bp.get("encounter")))
        own_class = (encounter or {}).get("class") or {}
        own_not_acute = encounter is not None and own_class.get("code") is not None and (
            own_class.get("code") not in ACUTE_CLASSES
        )
        if own_not_acute:
            out.append((when, bp))
    return out


def _lowest(values: list[Quantity | None]) -> Quantity | None:
    """``First(... sort asc)``: nulls sort first."""
    if any(v is None for v in values):
        return None
    return min(values, key=lambda q: q.value if q is not None else 0.0) if values else None


def controlled(ctx: Context) -> bool:
    readings = qualifying_readings(ctx)
    if not readings:
        return False
    last_day = max(when.lo.date() for when, _ in readings)
    that_day = [bp for when, bp in readings if when.lo.date() == last_day]
    low_systolic = _lowest([systolic(bp) for bp in that_day])
    low_diastolic = _lowest([diastolic(bp) for bp in that_day])
    return compare(low_systolic, "<", 140, MM_HG) is True and compare(low_diastolic, "<", 90, MM_HG) is True


def logic(ctx: Context) -> list[Criteria]:
    ip = initial_population(ctx)
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(ip and denominator_exclusion(ctx)),
                "numerator": flag(ip and controlled(ctx)),
            }
        )
    ]


MEASURE = Measure(
    id="CMS165",
    title="Controlling High Blood Pressure",
    description=__doc__ or "",
    groups=single_group(),
    valuesets=(
        *ADULT_OUTPATIENT, CKD_STAGE_5, DIALYSIS_SERVICES, ED_VISIT, ENCOUNTER_INPATIENT, ESRD,
        ESRD_MONTHLY_OUTPATIENT, ESSENTIAL_HYPERTENSION, KIDNEY_TRANSPLANT, KIDNEY_TRANSPLANT_RECIPIENT, PREGNANCY,
        *HOSPICE_VALUESETS, *FRAILTY_VALUESETS, *PALLIATIVE_VALUESETS,
    ),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS165FHIRControllingHighBP",
    version="1.0.000",
)
