"""CMS138 Preventive Care and Screening: Tobacco Use: Screening and Cessation Intervention.

Patients 12 and older at the start of the period with two qualifying visits or one preventive visit.
Group 1: screened for tobacco use (most recent screening in the period says user or non-user).
Group 2: tobacco users (by that most recent screening) who received cessation counseling or pharmacotherapy in
the period or the 6 months before. Group 3: screened and, if a user, given an intervention.
Exclusion: hospice.
"""

from __future__ import annotations

from careloop.quality.engine.context import Context, vsac
from careloop.quality.engine.encounters import (
    ANNUAL_WELLNESS_VISIT,
    HOME_HEALTHCARE_SERVICES,
    NUTRITION_SERVICES,
    OCCUPATIONAL_THERAPY_EVALUATION,
    OFFICE_VISIT,
    OPHTHALMOLOGICAL_SERVICES,
    PHYSICAL_THERAPY_EVALUATION,
    PREVENTIVE_ESTABLISHED_0_17,
    PREVENTIVE_ESTABLISHED_18_UP,
    PREVENTIVE_GROUP_COUNSELING,
    PREVENTIVE_INDIVIDUAL_COUNSELING,
    PREVENTIVE_INITIAL_0_17,
    PREVENTIVE_INITIAL_18_UP,
    TELEPHONE_VISITS,
    VIRTUAL_ENCOUNTER,
    performed_during_period,
)
from careloop.quality.engine.exclusions import HOSPICE_VALUESETS, has_hospice_services
from careloop.quality.engine.fhir import Resource, has_code, parse_point, references
from careloop.quality.engine.medications import request_period
from careloop.quality.engine.period import Span, during, exists3, starts_during, within
from careloop.quality.engine.qicore import (
    CPT,
    ICD10CM,
    diagnoses,
    is_completed,
    is_medication_active,
    is_order,
    is_verified,
    prevalence,
    requests,
    resources,
    value_concept,
)
from careloop.quality.engine.social import smoking_status_observations
from careloop.quality.measures.base import DENEX, DENOM, IP, NUMER, STANDARD, Criteria, GroupSpec, Measure, flag

HEALTH_BEHAVIOR_ASSESSMENT = (CPT, "96156")
HEALTH_BEHAVIOR_INTERVENTION = (CPT, "96158")
POSTOPERATIVE_FOLLOW_UP = (CPT, "99024")
UNLISTED_PREVENTIVE_SERVICE = (CPT, "99429")
TOBACCO_ABUSE_COUNSELING = (ICD10CM, "Z71.6")
FULFILL = ("http://hl7.org/fhir/CodeSystem/task-code", "fulfill")

PSYCH_VISIT_DIAGNOSTIC_EVALUATION = vsac("2.16.840.1.113883.3.526.3.1492")
PSYCH_VISIT_PSYCHOTHERAPY = vsac("2.16.840.1.113883.3.526.3.1496")
PSYCHOANALYSIS = vsac("2.16.840.1.113883.3.526.3.1141")
SPEECH_AND_HEARING_EVALUATION = vsac("2.16.840.1.113883.3.526.3.1530")
TOBACCO_NON_USER = vsac("2.16.840.1.113883.3.526.3.1189")
TOBACCO_USE_CESSATION_COUNSELING = vsac("2.16.840.1.113883.3.526.3.509")
TOBACCO_USE_CESSATION_PHARMACOTHERAPY = vsac("2.16.840.1.113883.3.526.3.1190")
TOBACCO_USER = vsac("2.16.840.1.113883.3.526.3.1170")

PREVENTIVE_VISITS = (
    ANNUAL_WELLNESS_VISIT, PREVENTIVE_ESTABLISHED_18_UP, PREVENTIVE_INITIAL_18_UP, PREVENTIVE_ESTABLISHED_0_17,
    PREVENTIVE_INITIAL_0_17, PREVENTIVE_GROUP_COUNSELING, PREVENTIVE_INDIVIDUAL_COUNSELING, NUTRITION_SERVICES,
)
QUALIFYING_VISITS = (
    HOME_HEALTHCARE_SERVICES, OCCUPATIONAL_THERAPY_EVALUATION, OFFICE_VISIT, OPHTHALMOLOGICAL_SERVICES,
    PHYSICAL_THERAPY_EVALUATION, PSYCH_VISIT_DIAGNOSTIC_EVALUATION, PSYCH_VISIT_PSYCHOTHERAPY, PSYCHOANALYSIS,
    SPEECH_AND_HEARING_EVALUATION, TELEPHONE_VISITS, VIRTUAL_ENCOUNTER,
)


def initial_population(ctx: Context) -> bool:
    age = ctx.age_at_start()
    if age is None or age < 12:
        return False
    qualifying = performed_during_period(
        ctx, *QUALIFYING_VISITS, codes=(HEALTH_BEHAVIOR_INTERVENTION, HEALTH_BEHAVIOR_ASSESSMENT)
    )
    if len(qualifying) >= 2:
        return True
    return bool(
        performed_during_period(ctx, *PREVENTIVE_VISITS, codes=(UNLISTED_PREVENTIVE_SERVICE, POSTOPERATIVE_FOLLOW_UP))
    )


def most_recent_screening(ctx: Context) -> Resource | None:
    """The last final smoking-status observation in the period, by start of its effective time."""
    mp, data = ctx.mp, ctx.data
    found: list[tuple[object, Resource]] = []
    for o in smoking_status_observations(ctx):
        span = data.span(o, "effective")
        if o.get("status") == "final" and span is not None and during(span, mp, day=True) is True:
            found.append((span.start.lo, o))
    if not found:
        return None
    found.sort(key=lambda item: item[0])  # type: ignore[arg-type, return-value]
    return found[-1][1]


def _lookback(ctx: Context) -> Span:
    return Span(ctx.mp.start.add_months(-6), ctx.mp.end)


def cessation_intervention(ctx: Context) -> bool:
    window, data = _lookback(ctx), ctx.data
    if exists3(
        during(span, window, day=True)
        for p in resources(ctx, "Procedure", TOBACCO_USE_CESSATION_COUNSELING)
        if is_completed(p) and (span := data.span(p, "performed")) is not None
    ):
        return True
    if exists3(
        starts_during(span, window, day=True)
        for c in diagnoses(ctx, codes=[TOBACCO_ABUSE_COUNSELING])
        if is_verified(c) and (span := prevalence(ctx, c)) is not None
    ):
        return True
    pharmacotherapy = requests(ctx, "MedicationRequest", TOBACCO_USE_CESSATION_PHARMACOTHERAPY)
    rejected = [t for t in data.all("Task") if t.get("status") == "rejected" and has_code(t.get("code"), FULFILL)]
    if exists3(
        within(authored, window, day=True)
        for m in pharmacotherapy
        if is_order(m)
        and (authored := parse_point(m.get("authoredOn"))) is not None
        and not any(references(t.get("focus"), m) for t in rejected)
    ):
        return True
    return exists3(
        during(span, window, day=True)
        for m in pharmacotherapy
        if is_medication_active(m) and (span := request_period(m)) is not None
    )


def logic(ctx: Context) -> list[Criteria]:
    ip = initial_population(ctx)
    if not ip:
        return [Criteria({IP: flag(False)}) for _ in range(3)]
    screening = most_recent_screening(ctx)
    codes = value_concept(screening) if screening is not None else frozenset()
    non_user = not codes.isdisjoint(ctx.vs(TOBACCO_NON_USER))
    user = not codes.isdisjoint(ctx.vs(TOBACCO_USER))
    excluded = flag(has_hospice_services(ctx))
    intervention = user and cessation_intervention(ctx)
    return [
        Criteria({IP: flag(True), DENOM: flag(True), DENEX: excluded, NUMER: flag(non_user or user)}),
        Criteria({IP: flag(True), DENOM: flag(user), DENEX: excluded, NUMER: flag(intervention)}),
        Criteria({IP: flag(True), DENOM: flag(True), DENEX: excluded, NUMER: flag(non_user or intervention)}),
    ]


MEASURE = Measure(
    id="CMS138",
    title="Preventive Care and Screening: Tobacco Use: Screening and Cessation Intervention",
    description=__doc__ or "",
    groups=tuple(GroupSpec(f"Group_{i}", STANDARD) for i in (1, 2, 3)),
    valuesets=(
        *PREVENTIVE_VISITS, *QUALIFYING_VISITS, TOBACCO_NON_USER, TOBACCO_USE_CESSATION_COUNSELING,
        TOBACCO_USE_CESSATION_PHARMACOTHERAPY, TOBACCO_USER, *HOSPICE_VALUESETS,
    ),
    logic=logic,
    url="https://madie.cms.gov/Measure/CMS138FHIRTobaccoScrnCessation",
    version="1.0.000",
)
