"""CMS2 Preventive Care and Screening: Screening for Depression and Follow-Up Plan.

Patients 12 and older at the start of the period with a qualifying visit in it. Numerator: screened with an
age-appropriate standardized tool (adolescent tool for 12-16, adult tool for 18+, either at 17) on the visit
date or up to 14 days before, and the most recent screening is negative, or positive with a follow-up plan
(referral, follow-up procedure, or a depression medication) during the visit or up to 2 days after it.
Exclusion: bipolar disorder diagnosed before the visit. Exception: a documented medical or patient reason for
not screening, and no screening.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import PHYSICAL_THERAPY_EVALUATION, TELEPHONE_VISITS
from careloop.quality.engine.fhir import ORDER_INTENTS, Code, Resource, parse_point
from careloop.quality.engine.medications import request_period
from careloop.quality.engine.period import (
    Point,
    Span,
    during,
    exists3,
    lt,
    on_or_after_within,
    on_or_before_within,
    overlaps_after,
    within,
)
from careloop.quality.engine.profiles import SCREENING_ASSESSMENT
from careloop.quality.engine.qicore import (
    FINAL,
    LOINC,
    SNOMED,
    cancelled_observations,
    has_value,
    not_done_reason,
    observations,
    prevalence,
    problems,
    requests,
    resources,
    value_is,
)
from careloop.quality.measures.base import WITH_EXCEPTIONS, Criteria, Measure, flag, single_group

ADOLESCENT_DEPRESSION_MEDICATIONS = vsac("2.16.840.1.113883.3.526.3.1567")
ADULT_DEPRESSION_MEDICATIONS = vsac("2.16.840.1.113883.3.526.3.1566")
BIPOLAR_DISORDER = vsac("2.16.840.1.113883.3.67.1.101.1.128")
ENCOUNTER_TO_SCREEN_FOR_DEPRESSION = vsac("2.16.840.1.113883.3.600.1916")
FOLLOW_UP_ADOLESCENT_DEPRESSION = vsac("2.16.840.1.113883.3.526.3.1569")
FOLLOW_UP_ADULT_DEPRESSION = vsac("2.16.840.1.113883.3.526.3.1568")
MEDICAL_REASON = vsac("2.16.840.1.113883.3.526.3.1007")
REFERRAL_ADOLESCENT_DEPRESSION = vsac("2.16.840.1.113883.3.526.3.1570")
REFERRAL_ADULT_DEPRESSION = vsac("2.16.840.1.113883.3.526.3.1571")

ADOLESCENT_SCREENING = (LOINC, "73831-0")
ADULT_SCREENING = (LOINC, "73832-8")
SCREENING_DECLINED = (SNOMED, "720834000")
NEGATIVE = (SNOMED, "428171000124102")
POSITIVE = (SNOMED, "428181000124104")
FOURTEEN_DAYS = dt.timedelta(days=14)
TWO_DAYS = dt.timedelta(days=2)


class Tool:
    def __init__(self, code: Code, medications: str, referral: str, follow_up: str) -> None:
        self.code, self.medications, self.referral, self.follow_up = code, medications, referral, follow_up


ADOLESCENT = Tool(
    ADOLESCENT_SCREENING, ADOLESCENT_DEPRESSION_MEDICATIONS, REFERRAL_ADOLESCENT_DEPRESSION,
    FOLLOW_UP_ADOLESCENT_DEPRESSION,
)
ADULT = Tool(ADULT_SCREENING, ADULT_DEPRESSION_MEDICATIONS, REFERRAL_ADULT_DEPRESSION, FOLLOW_UP_ADULT_DEPRESSION)


def visits(ctx: Context) -> list[tuple[Resource, Span]]:
    def compute() -> list[tuple[Resource, Span]]:
        out = []
        for e in resources(ctx, "Encounter", ENCOUNTER_TO_SCREEN_FOR_DEPRESSION, PHYSICAL_THERAPY_EVALUATION,
                           TELEPHONE_VISITS):
            span = ctx.data.span(e, "period")
            if e.get("status") == "finished" and span is not None and during(span, ctx.mp, day=True) is True:
                out.append((e, span))
        return out

    return ctx.memo("cms2-visits", compute)


def _screenings(ctx: Context, tool: Tool) -> list[tuple[Span, Resource]]:
    """Final screenings with a result on a visit day or up to 14 days before it."""
    out = []
    for o in observations(ctx, SCREENING_ASSESSMENT, codes=[tool.code]):
        span = ctx.data.span(o, "effective")
        if span is None or o.get("status") not in FINAL or not has_value(o):
            continue
        if any(on_or_before_within(span.end, visit.start, FOURTEEN_DAYS, day=True) is True for _, visit in visits(ctx)):
            out.append((span, o))
    return out


def most_recent_screening(ctx: Context, tool: Tool) -> tuple[Span, Resource] | None:
    found = _screenings(ctx, tool)
    if not found:
        return None
    found.sort(key=lambda item: item[0].start.lo)
    return found[-1]


def _follow_ups(ctx: Context, tool: Tool, screening: tuple[Span, Resource]) -> list[Resource]:
    """Follow-up interventions for a positive screening: medication (whose supply runs past a visit within 14
    days of the screening), referral, or follow-up procedure."""
    span, observation = screening
    out: list[Resource] = []
    for m in requests(ctx, "MedicationRequest", tool.medications):
        period = request_period(m)
        if (
            m.get("status") in ("active", "completed")
            and m.get("intent") in ORDER_INTENTS
            and value_is(observation, POSITIVE)
            and period is not None
            and any(
                on_or_before_within(span.start, visit.start, FOURTEEN_DAYS, day=True) is True
                and overlaps_after(period, visit, day=True) is True
                for _, visit in visits(ctx)
            )
        ):
            out.append(m)
    out += [r for r in requests(ctx, "ServiceRequest", tool.referral) if r.get("status") in ("active", "completed")]
    out += [p for p in resources(ctx, "Procedure", tool.follow_up) if p.get("status") == "completed"]
    return out


def _intervention_start(ctx: Context, resource: Mapping[str, Any]) -> Point | None:
    performed = ctx.data.span(resource, "performed")
    return performed.start if performed is not None else parse_point(resource.get("authoredOn"))


def negative(ctx: Context, tool: Tool) -> bool:
    recent = most_recent_screening(ctx, tool)
    return recent is not None and value_is(recent[1], NEGATIVE)


def positive_with_follow_up(ctx: Context, tool: Tool) -> bool:
    recent = most_recent_screening(ctx, tool)
    if recent is None or not value_is(recent[1], POSITIVE):
        return False
    span = recent[0]
    for follow_up in _follow_ups(ctx, tool, recent):
        performed = ctx.data.span(follow_up, "performed")
        authored = parse_point(follow_up.get("authoredOn"))
        start = _intervention_start(ctx, follow_up)
        if start is None or within(start, ctx.mp, day=True) is not True:
            continue
        for _, visit in visits(ctx):
            if on_or_before_within(span.start, visit.start, FOURTEEN_DAYS, day=True) is not True:
                continue
            if (performed is not None and within(performed.start, visit) is True) or (
                authored is not None and on_or_after_within(authored, visit.end, TWO_DAYS, day=True) is True
            ):
                return True
    return False


def _met(ctx: Context, tool: Tool) -> bool:
    return negative(ctx, tool) or positive_with_follow_up(ctx, tool)


def numerator(ctx: Context, age: int) -> bool:
    if 12 <= age <= 16:
        return _met(ctx, ADOLESCENT)
    if age == 17:
        return _met(ctx, ADOLESCENT) or _met(ctx, ADULT)
    return age >= 18 and _met(ctx, ADULT)


def bipolar_before_visit(ctx: Context) -> bool:
    return exists3(
        lt(span.start, visit.start, day=True)
        for c in problems(ctx, BIPOLAR_DISORDER)
        if (span := prevalence(ctx, c)) is not None
        for _, visit in visits(ctx)
    )


def _reason_not_screened(ctx: Context, tool: Tool) -> bool:
    medical = ctx.vs(MEDICAL_REASON)
    for o in cancelled_observations(ctx, codes=[tool.code]):
        reason = not_done_reason(o)
        issued = parse_point(o.get("issued"))
        if (SCREENING_DECLINED in reason or not reason.isdisjoint(medical)) and issued is not None:
            if any(within(issued, visit, day=True) is True for _, visit in visits(ctx)):
                return True
    return False


def exception(ctx: Context) -> bool:
    return any(_reason_not_screened(ctx, tool) and not _screenings(ctx, tool) for tool in (ADOLESCENT, ADULT))


def logic(ctx: Context) -> list[Criteria]:
    age = ctx.age_at_start()
    ip = age is not None and age >= 12 and bool(visits(ctx))
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "denominator_exclusion": flag(ip and bipolar_before_visit(ctx)),
                "numerator": flag(ip and age is not None and numerator(ctx, age)),
                "denominator_exception": flag(ip and exception(ctx)),
            }
        )
    ]


MEASURE = Measure(
    id="CMS2",
    title="Preventive Care and Screening: Screening for Depression and Follow-Up Plan",
    description=__doc__ or "",
    groups=single_group(WITH_EXCEPTIONS),
    valuesets=(
        ADOLESCENT_DEPRESSION_MEDICATIONS, ADULT_DEPRESSION_MEDICATIONS, BIPOLAR_DISORDER,
        ENCOUNTER_TO_SCREEN_FOR_DEPRESSION, FOLLOW_UP_ADOLESCENT_DEPRESSION, FOLLOW_UP_ADULT_DEPRESSION,
        MEDICAL_REASON, PHYSICAL_THERAPY_EVALUATION, REFERRAL_ADOLESCENT_DEPRESSION, REFERRAL_ADULT_DEPRESSION,
        TELEPHONE_VISITS,
    ),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS2FHIRPCSDepScreenAndFollowUp",
    version="1.0.000",
)
