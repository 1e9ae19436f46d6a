"""CMS50 Closing the Referral Loop: Receipt of Specialist Report.

Patients with a visit (or a behavioral / neuropsychological service) in the period who were referred by the
practice in its first ten months: the first such referral. Numerator: the referring clinician received the
consultant's report for that referral (a completed fulfilment Task, after the referral, within the period).
"""

from __future__ import annotations

import datetime as dt

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import (
    OFFICE_VISIT,
    OPHTHALMOLOGICAL_SERVICES,
    PREVENTIVE_ESTABLISHED_0_17,
    PREVENTIVE_ESTABLISHED_18_UP,
    PREVENTIVE_INITIAL_0_17,
    PREVENTIVE_INITIAL_18_UP,
)
from careloop.quality.engine.fhir import Resource, concept_codes, parse_point, references
from careloop.quality.engine.period import Point, Span, day_start, during, gt, within
from careloop.quality.engine.qicore import CPT, encounters, requests, resources
from careloop.quality.measures.base import NO_EXCLUSIONS, Criteria, Measure, flag, single_group

BEHAVIORAL_NEUROPSYCH_ASSESSMENT = vsac("2.16.840.1.113883.3.526.3.1023")
CONSULTANT_REPORT = vsac("2.16.840.1.113883.3.464.1003.121.12.1006")
PSYCH_VISIT_DIAGNOSTIC_EVALUATION = vsac("2.16.840.1.113883.3.526.3.1492")
REFERRAL = vsac("2.16.840.1.113883.3.464.1003.101.12.1046")
INTERVENTION_CODES = ((CPT, "96112"), (CPT, "96156"), (CPT, "96136"), (CPT, "96138"), (CPT, "90839"))
ENCOUNTERS = (
    OFFICE_VISIT, OPHTHALMOLOGICAL_SERVICES, PREVENTIVE_ESTABLISHED_18_UP, PREVENTIVE_INITIAL_0_17,
    PREVENTIVE_INITIAL_18_UP, PREVENTIVE_ESTABLISHED_0_17,
)
FULFILL = ("http://hl7.org/fhir/CodeSystem/task-code", "fulfill")


def seen(ctx: Context) -> bool:
    mp, data = ctx.mp, ctx.data
    if any(
        e.get("status") == "finished" and (span := data.span(e, "period")) is not None
        and during(span, mp, day=True) is True
        for e in encounters(ctx, *ENCOUNTERS)
    ):
        return True
    return any(
        p.get("status") == "completed" and (span := data.span(p, "performed")) is not None
        and during(span, mp, day=True) is True
        for p in resources(ctx, "Procedure", BEHAVIORAL_NEUROPSYCH_ASSESSMENT, PSYCH_VISIT_DIAGNOSTIC_EVALUATION,
                           codes=INTERVENTION_CODES)
    )


def first_referral(ctx: Context) -> Resource | None:
    window = Span(ctx.mp.start, Point.at(day_start(dt.date(ctx.period.first.year, 10, 31))))
    found = []
    for r in requests(ctx, "ServiceRequest", REFERRAL):
        authored = parse_point(r.get("authoredOn"))
        if (
            r.get("status") in ("active", "completed")
            and r.get("intent") == "order"
            and authored is not None
            and within(authored, window, day=True) is True
        ):
            found.append((authored.lo, r))
    if not found:
        return None
    found.sort(key=lambda item: item[0])
    return found[0][1]


def report_received(ctx: Context, referral: Resource) -> bool:
    authored = parse_point(referral.get("authoredOn"))
    consultant_report = ctx.vs(CONSULTANT_REPORT)
    for task in resources(ctx, "Task", codes=[FULFILL]):
        span = ctx.data.span(task, "executionPeriod")
        if (
            task.get("status") == "completed"
            and not concept_codes(task.get("reasonCode")).isdisjoint(consultant_report)
            and (references(task.get("focus"), referral) or references(task.get("basedOn") or [], referral))
            and span is not None
            and authored is not None
            and gt(span.end, authored) is True
            and within(span.end, ctx.mp, day=True) is True
        ):
            return True
    return False


def logic(ctx: Context) -> list[Criteria]:
    referral = first_referral(ctx)
    ip = referral is not None and seen(ctx)
    return [
        Criteria(
            {
                "initial_population": flag(ip),
                "numerator": flag(ip and referral is not None and report_received(ctx, referral)),
            }
        )
    ]


MEASURE = Measure(
    id="CMS50",
    title="Closing the Referral Loop: Receipt of Specialist Report",
    description=__doc__ or "",
    groups=single_group(NO_EXCLUSIONS),
    valuesets=(*ENCOUNTERS, BEHAVIORAL_NEUROPSYCH_ASSESSMENT, CONSULTANT_REPORT, PSYCH_VISIT_DIAGNOSTIC_EVALUATION,
               REFERRAL),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS50FHIRReceiptofSpecialistReport",
    version="1.0.000",
)
