"""CMS156 Use of High-Risk Medications in Older Adults (inverse: the numerators are the problem).

Patients 65 and older at the end of the period with a qualifying visit in it.
Numerator 1: more than one order of the same high-risk medication class (ordered on different days, or with
refills), anti-infectives supplied for more than 90 days in total, or digoxin / doxepin above an average daily
dose. Numerator 2: more than one antipsychotic (or benzodiazepine) order without a diagnosis that the drug treats,
from the year before the period to the first such order. Numerator 3: either. Exclusions: hospice, palliative care.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import (
    ANNUAL_WELLNESS_VISIT,
    CARE_SERVICES_LONG_TERM_RESIDENTIAL,
    DISCHARGE_SERVICES_NURSING_FACILITY,
    HOME_HEALTHCARE_SERVICES,
    NURSING_FACILITY_VISIT,
    OFFICE_VISIT,
    OPHTHALMOLOGICAL_SERVICES,
    PREVENTIVE_ESTABLISHED_18_UP,
    PREVENTIVE_INITIAL_18_UP,
    TELEPHONE_VISITS,
    VIRTUAL_ENCOUNTER,
    performed_during_period,
)
from careloop.quality.engine.exclusions import (
    HOSPICE_VALUESETS,
    PALLIATIVE_VALUESETS,
    has_hospice_services,
    has_palliative_care,
)
from careloop.quality.engine.fhir import Resource, parse_point, quantity
from careloop.quality.engine.medications import days_supplied, request_period
from careloop.quality.engine.period import Point, Span, day_start, exists3, overlaps, within
from careloop.quality.engine.qicore import CPT, RXNORM, diagnoses, is_order, is_verified, prevalence, requests
from careloop.quality.measures.base import DENEX, IP, NUMER, STANDARD, Criteria, GroupSpec, Measure, flag

_O = "2.16.840.1.113883.3.464.1003."
ALCOHOL_WITHDRAWAL = vsac(_O + "105.12.1209")
BENZODIAZEPINE_WITHDRAWAL = vsac(_O + "105.12.1208")
BIPOLAR_DISORDER = vsac("2.16.840.1.113883.3.67.1.101.1.128")
GENERALIZED_ANXIETY_DISORDER = vsac(_O + "105.12.1210")
REM_SLEEP_BEHAVIOR_DISORDER = vsac(_O + "105.12.1207")
SCHIZOPHRENIA = vsac(_O + "105.12.1205")
SEIZURE_DISORDER = vsac(_O + "105.12.1206")
DIGOXIN = vsac(_O + "1065")
DOXEPIN = vsac(_O + "1067")
ANTIINFECTIVES = vsac(_O + "196.12.1481")
ANTIPSYCHOTICS = vsac(_O + "196.12.1523")
BENZODIAZEPINES = vsac(_O + "196.12.1522")
SAME_CLASS_TWICE = tuple(
    vsac(_O + oid)
    for oid in (
        "1043", "1049", "1050", "1051", "196.11.1252", "1053", "1054", "1055", "1057", "1058", "1059", "1060",
        "196.12.1480", "1062", "1063", "1247", "1248",
    )
)
ERGOLOID = (RXNORM, "318179")
ESTABLISHED_MINIMAL_VISIT = (CPT, "99211")
ENCOUNTERS = (
    OFFICE_VISIT, OPHTHALMOLOGICAL_SERVICES, PREVENTIVE_ESTABLISHED_18_UP, DISCHARGE_SERVICES_NURSING_FACILITY,
    NURSING_FACILITY_VISIT, CARE_SERVICES_LONG_TERM_RESIDENTIAL, PREVENTIVE_INITIAL_18_UP, ANNUAL_WELLNESS_VISIT,
    HOME_HEALTHCARE_SERVICES, TELEPHONE_VISITS, VIRTUAL_ENCOUNTER,
)

# Strength per unit of the digoxin and doxepin products (RxNorm code: (value, unit)).
STRENGTH = {
    "393245": (0.05, "mg/mL"), "245273": (0.0625, "mg"), "204504": (0.1, "mg/mL"), "197604": (0.125, "mg"),
    "197606": (0.25, "mg"), "104208": (0.25, "mg/mL"), "966787": (3.0, "mg"), "966793": (6.0, "mg"),
    "1000048": (10.0, "mg"), "1000054": (10.0, "mg/mL"), "1000070": (25.0, "mg"), "1000076": (50.0, "mg"),
    "1000097": (75.0, "mg"), "1000058": (100.0, "mg"), "1000064": (150.0, "mg"),
}


def _authored(order: Mapping[str, Any]) -> Point | None:
    return parse_point(order.get("authoredOn"))


def _period_start(order: Mapping[str, Any]) -> Point | None:
    span = request_period(order)
    return span.start if span is not None else None


def more_than_one_order(ctx: Context, orders: list[Resource]) -> list[Resource]:
    """Orders in the period that have refills, or have another order on a different day (or, on the same day,
    with a different supply start in the period)."""
    mp = ctx.mp
    orders = [o for o in orders if is_order(o)]
    out = []
    for first in orders:
        authored = _authored(first)
        if authored is None or within(authored, mp) is not True:
            continue
        refills = (first.get("dispenseRequest") or {}).get("numberOfRepeatsAllowed")
        if isinstance(refills, int) and refills >= 1:
            out.append(first)
            continue
        for second in orders:
            other = _authored(second)
            if other is None or within(other, mp) is not True:
                continue
            if authored.date() != other.date():
                out.append(first)
                break
            start1, start2 = _period_start(first), _period_start(second)
            if (
                start1 is not None and start2 is not None and start1.date() != start2.date()
                and within(start1, mp) is True and within(start2, mp) is True
            ):
                out.append(first)
                break
    return out


def average_daily_dose(ctx: Context, order: Resource) -> float | None:
    """mg per day: quantity dispensed x strength per unit / days supplied."""
    codes = ctx.data.codes(order)
    strength = next((STRENGTH[c] for s, c in codes if s == RXNORM and c in STRENGTH), None)
    days = days_supplied(order)
    dispensed = (order.get("dispenseRequest") or {}).get("quantity")
    supply = quantity(dispensed)
    if strength is None or not days or supply is None:
        return None
    value, unit = strength
    if unit == "mg/mL" and (dispensed or {}).get("unit") != "mL":
        return None
    if unit == "mg" and supply.unit not in ("1",) and not supply.unit.startswith("{"):
        return None
    return supply.value * value / days


def numerator_1(ctx: Context) -> bool:
    for url in SAME_CLASS_TWICE:
        if more_than_one_order(ctx, requests(ctx, "MedicationRequest", url)):
            return True
    if more_than_one_order(ctx, requests(ctx, "MedicationRequest", codes=[ERGOLOID])):
        return True
    supplied = [days_supplied(o) for o in more_than_one_order(ctx, requests(ctx, "MedicationRequest", ANTIINFECTIVES))]
    known = [d for d in supplied if d is not None]
    if known and sum(known) > 90:
        return True
    for url, limit in ((DIGOXIN, 0.125), (DOXEPIN, 6.0)):
        high = [
            o for o in requests(ctx, "MedicationRequest", url)
            if (dose := average_daily_dose(ctx, o)) is not None and dose > limit
        ]
        if more_than_one_order(ctx, high):
            return True
    return False


def _without_indication(ctx: Context, drugs: str, indications: tuple[str, ...]) -> bool:
    orders = requests(ctx, "MedicationRequest", drugs)
    if not more_than_one_order(ctx, orders):
        return False
    starts = sorted(
        a.lo for o in orders if is_order(o) and (a := _authored(o)) is not None and within(a, ctx.mp) is True
    )
    index = Point.at(starts[0]) if starts else Point.at(day_start(ctx.period.last))
    window = Span(ctx.mp.start.add_months(-12), index)
    return not exists3(
        overlaps(span, window)
        for c in diagnoses(ctx, *indications)
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    )


def numerator_2(ctx: Context) -> bool:
    return _without_indication(ctx, ANTIPSYCHOTICS, (SCHIZOPHRENIA, BIPOLAR_DISORDER)) or _without_indication(
        ctx, BENZODIAZEPINES,
        (SEIZURE_DISORDER, REM_SLEEP_BEHAVIOR_DISORDER, BENZODIAZEPINE_WITHDRAWAL, ALCOHOL_WITHDRAWAL,
         GENERALIZED_ANXIETY_DISORDER),
    )


def logic(ctx: Context) -> list[Criteria]:
    age = ctx.age_at_end()
    ip = age is not None and age >= 65 and bool(
        performed_during_period(ctx, *ENCOUNTERS, codes=(ESTABLISHED_MINIMAL_VISIT,), day=False)
    )
    if not ip:
        return [Criteria({IP: flag(False)}) for _ in range(3)]
    excluded = flag(has_hospice_services(ctx) or has_palliative_care(ctx))
    n1, n2 = numerator_1(ctx), numerator_2(ctx)
    return [
        Criteria({IP: flag(True), DENEX: excluded, NUMER: flag(n1)}),
        Criteria({IP: flag(True), DENEX: excluded, NUMER: flag(n2)}),
        Criteria({IP: flag(True), DENEX: excluded, NUMER: flag(n1 or n2)}),
    ]


MEASURE = Measure(
    id="CMS156",
    title="Use of High-Risk Medications in Older Adults",
    description=__doc__ or "",
    groups=tuple(GroupSpec(f"Group_{i}", STANDARD) for i in (1, 2, 3)),
    valuesets=(
        *ENCOUNTERS, ALCOHOL_WITHDRAWAL, BENZODIAZEPINE_WITHDRAWAL, BIPOLAR_DISORDER, GENERALIZED_ANXIETY_DISORDER,
        REM_SLEEP_BEHAVIOR_DISORDER, SCHIZOPHRENIA, SEIZURE_DISORDER, DIGOXIN, DOXEPIN, ANTIINFECTIVES,
        ANTIPSYCHOTICS, BENZODIAZEPINES, *SAME_CLASS_TWICE, *HOSPICE_VALUESETS, *PALLIATIVE_VALUESETS,
    ),
    logic=logic,
    inverse=True,
    url="https://madie.cms.gov/Measure/CMS156FHIRHighRiskMedsElderly",
    version="1.0.000",
)
