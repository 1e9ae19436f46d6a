"""Programs over REST: designated care-team member, eligibility, enrollment and consent (FHIR Consent export),
QMB periods, device days and the enroll-first list. Every route is role-checked, tenant-scoped and audited."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit.services import EventSpec, record_event, record_events
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.errors import NotFound
from careloop.programs import eligibility, selectors, services
from careloop.programs.consent_fhir import consent_resource
from careloop.programs.models import Enrollment
from careloop.registry.models import Patient

router = Router(tags=["programs"])


class DesignationOut(Schema):
    id: int
    patient_id: int
    user_id: int
    username: str
    since: dt.date
    until: dt.date | None
    reason: str


class DesignationIn(Schema):
    user_id: int
    since: dt.date | None = None
    reason: str = ""


class DesignationsOut(Schema):
    current: DesignationOut | None
    history: list[DesignationOut]


def _out(row: object) -> dict[str, object]:
    return {
        "id": row.pk,  # type: ignore[attr-defined]
        "patient_id": row.patient_id,  # type: ignore[attr-defined]
        "user_id": row.user_id,  # type: ignore[attr-defined]
        "username": row.user.username,  # type: ignore[attr-defined]
        "since": row.since,  # type: ignore[attr-defined]
        "until": row.until,  # type: ignore[attr-defined]
        "reason": row.reason,  # type: ignore[attr-defined]
    }


@router.get("/patients/{patient_id}/designated-member", response=DesignationsOut)
def designated_member(request: HttpRequest, patient_id: int) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "patient.read")
    assert actor.organization_id is not None
    if not Patient.objects.filter(organization_id=actor.organization_id, pk=patient_id).exists():
        raise NotFound("patient not found")
    history = list(selectors.designation_history(organization_id=actor.organization_id, patient_id=patient_id))
    current = next((r for r in history if r.until is None), None)
    with transaction.atomic():
        record_event(actor=actor, action="care_member.viewed", patient_id=patient_id, object_type="Patient",
                     object_id=str(patient_id))
    return {"current": _out(current) if current else None, "history": [_out(r) for r in history]}


@router.post("/patients/{patient_id}/designated-member", response=DesignationOut)
def designate(request: HttpRequest, patient_id: int, body: DesignationIn) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "care_member.designate")
    assert actor.organization_id is not None
    row = services.designate_care_member(
        organization_id=actor.organization_id, patient_id=patient_id, user_id=body.user_id, since=body.since,
        reason=body.reason, actor=actor,
    )
    row = selectors.designation_history(organization_id=actor.organization_id, patient_id=patient_id).get(pk=row.pk)
    return _out(row)


# ---------- eligibility, enrollment, consent, QMB ----------


class DecisionOut(Schema):
    program: str
    eligible: bool
    level: str
    rule_ids: list[str]
    signals: list[str]
    facts: dict[str, object]
    ruleset: str


class EligibilityOut(Schema):
    patient_id: int
    month: str
    decisions: list[DecisionOut]


class ConsentBody(Schema):
    method: str
    disclosures: list[str]
    obtained_by_user_id: int | None = None
    obtained_at: dt.datetime | None = None
    evidence: str = ""


class EnrollIn(Schema):
    program: str
    billing_practitioner_id: int
    start: dt.date | None = None
    consent: ConsentBody


class EnrollmentOut(Schema):
    id: int
    patient_id: int
    program: str
    start: dt.date
    end: dt.date | None
    billing_practitioner_id: int
    designated_user_id: int | None
    initiating_visit: str
    initiating_visit_on: dt.date | None
    consent_method: str
    consent_disclosures: list[str]
    consent_obtained_at: dt.datetime | None
    consent_obtained_by: str


class DisenrollIn(Schema):
    requested_on: dt.date | None = None
    reason: str = ""


class QmbImportIn(Schema):
    format: str
    content: str
    source_name: str = "api"


class QmbImportOut(Schema):
    created: int
    updated: int
    unchanged: int
    unmatched: int
    rejected: int


class QmbIn(Schema):
    start: dt.date
    end: dt.date | None = None
    evidence: str
    source: str = "manual"


class DeviceDayIn(Schema):
    kind: str
    day: dt.date
    readings: int = 1


class EnrollFirstRowOut(Schema):
    patient_id: int
    name: str
    program: str
    level: str
    tier: str
    value: float
    score: float


class EnrollFirstOut(Schema):
    month: str
    capacity: int
    enrolled: int
    free: int
    eligible_not_enrolled: int
    rows: list[EnrollFirstRowOut]


class RunOut(Schema):
    month: str
    patients: int
    decisions: int
    eligible: dict[str, int]
    levels: dict[str, int]


def _patient_or_404(organization_id: int, patient_id: int) -> Patient:
    patient = Patient.objects.filter(organization_id=organization_id, pk=patient_id).first()
    if patient is None:
        raise NotFound("patient not found")
    return patient


def _this_month(organization_id: int) -> str:
    org = Organization.objects.get(pk=organization_id)
    return clock.month_of(clock.today(org.time_zone))


def enrollment_out(row: Enrollment) -> dict[str, object]:
    consent = getattr(row, "consent", None)
    return {
        "id": row.pk, "patient_id": row.patient_id, "program": row.program, "start": row.start, "end": row.end,
        "billing_practitioner_id": row.billing_practitioner_id,
        "designated_user_id": row.designation.user_id if row.designation else None,
        "initiating_visit": row.initiating_visit, "initiating_visit_on": row.initiating_visit_on,
        "consent_method": consent.method if consent else "", "consent_disclosures": consent.disclosures if consent
        else [], "consent_obtained_at": consent.obtained_at if consent else None,
        "consent_obtained_by": consent.obtained_by.username if consent else "",
    }


@router.get("/patients/{patient_id}/eligibility", response=EligibilityOut)
def patient_eligibility(request: HttpRequest, patient_id: int, month: str | None = None) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "program.read")
    assert actor.organization_id is not None
    _patient_or_404(actor.organization_id, patient_id)
    month = month or _this_month(actor.organization_id)
    eligibility.parse_month(month)
    rows = selectors.eligibility_for(organization_id=actor.organization_id, patient_id=patient_id, month=month)
    record_event(actor=actor, action="eligibility.viewed", patient_id=patient_id, object_type="Patient",
                 object_id=str(patient_id), detail={"month": month})
    return {"patient_id": patient_id, "month": month, "decisions": [
        {"program": r.program, "eligible": r.eligible, "level": r.level, "rule_ids": r.rule_ids,
         "signals": r.signals, "facts": r.facts, "ruleset": r.ruleset} for r in rows]}


@router.get("/patients/{patient_id}/enrollments", response=list[EnrollmentOut])
def patient_enrollments(request: HttpRequest, patient_id: int) -> list[dict[str, object]]:
    actor = require_permission(actor_from_request(request), "program.read")
    assert actor.organization_id is not None
    _patient_or_404(actor.organization_id, patient_id)
    rows = list(selectors.enrollments_for(organization_id=actor.organization_id, patient_id=patient_id))
    record_event(actor=actor, action="enrollment.viewed", patient_id=patient_id, object_type="Patient",
                 object_id=str(patient_id))
    return [enrollment_out(r) for r in rows]


@router.post("/patients/{patient_id}/enrollments", response=EnrollmentOut)
def enroll(request: HttpRequest, patient_id: int, body: EnrollIn) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "program.enroll")
    assert actor.organization_id is not None and actor.user_id is not None
    row = services.enroll_patient(
        organization_id=actor.organization_id, patient_id=patient_id, program=body.program,
        billing_practitioner_id=body.billing_practitioner_id, start=body.start, actor=actor,
        consent=services.ConsentIn(
            method=body.consent.method, disclosures=tuple(body.consent.disclosures),
            obtained_by_user_id=body.consent.obtained_by_user_id or actor.user_id,
            obtained_at=body.consent.obtained_at or clock.now(), evidence=body.consent.evidence,
        ),
    )
    found = selectors.enrollment(organization_id=actor.organization_id, enrollment_id=row.pk)
    assert found is not None
    return enrollment_out(found)


@router.post("/enrollments/{enrollment_id}/disenroll", response=EnrollmentOut)
def disenroll(request: HttpRequest, enrollment_id: int, body: DisenrollIn) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "program.enroll")
    assert actor.organization_id is not None
    services.disenroll_patient(organization_id=actor.organization_id, enrollment_id=enrollment_id,
                               requested_on=body.requested_on, reason=body.reason, actor=actor)
    found = selectors.enrollment(organization_id=actor.organization_id, enrollment_id=enrollment_id)
    assert found is not None
    return enrollment_out(found)


@router.get("/enrollments/{enrollment_id}/consent.fhir")
def consent_fhir(request: HttpRequest, enrollment_id: int) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "program.read")
    assert actor.organization_id is not None
    row = selectors.enrollment(organization_id=actor.organization_id, enrollment_id=enrollment_id)
    consent = getattr(row, "consent", None) if row is not None else None
    if row is None or consent is None:
        raise NotFound("consent not found")
    org = Organization.objects.get(pk=actor.organization_id)
    p, pr = row.patient, row.billing_practitioner
    record_event(actor=actor, action="consent.exported", patient_id=row.patient_id, object_type="ProgramConsent",
                 object_id=str(consent.pk))
    return consent_resource(
        consent_id=consent.pk, patient_fhir_id=p.fhir_id, patient_name=f"{p.given} {p.family}",
        organization_name=org.name, program=row.program, method=consent.method, disclosures=consent.disclosures,
        obtained_at=consent.obtained_at.isoformat(), obtained_by=consent.obtained_by.username,
        start=row.start.isoformat(), end=row.end.isoformat() if row.end else None, practitioner_npi=pr.npi,
        practitioner_name=str(pr),
    )


@router.get("/enroll-first", response=EnrollFirstOut)
def enroll_first(request: HttpRequest, month: str | None = None, limit: int = 50) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "program.read")
    assert actor.organization_id is not None
    month = month or _this_month(actor.organization_id)
    eligibility.parse_month(month)
    result = selectors.enroll_first(organization_id=actor.organization_id, month=month, limit=min(max(limit, 1), 500))
    record_events(actor=actor, events=[EventSpec("enroll_first.viewed", r.patient_id, "Patient", str(r.patient_id))
                                       for r in result.rows] or [EventSpec("enroll_first.viewed")])
    return {**result.__dict__, "rows": [r.__dict__ for r in result.rows]}


@router.post("/eligibility/run", response=RunOut)
def run_eligibility(request: HttpRequest, month: str) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "program.eligibility_run")
    assert actor.organization_id is not None
    run = eligibility.compute_eligibility(organization_id=actor.organization_id, month=month, actor=actor)
    return run.__dict__


@router.post("/qmb/import", response=QmbImportOut)
def qmb_import(request: HttpRequest, body: QmbImportIn) -> dict[str, int]:
    actor = require_permission(actor_from_request(request), "qmb.manage")
    assert actor.organization_id is not None
    r = services.import_qmb(organization_id=actor.organization_id, text=body.content, fmt=body.format, actor=actor,
                            source_name=body.source_name)
    return {"created": r.counts.created, "updated": r.counts.updated, "unchanged": r.counts.unchanged,
            "unmatched": r.unmatched, "rejected": r.rejected}


@router.post("/patients/{patient_id}/qmb", response=QmbImportOut)
def qmb_enter(request: HttpRequest, patient_id: int, body: QmbIn) -> dict[str, int]:
    actor = require_permission(actor_from_request(request), "qmb.manage")
    assert actor.organization_id is not None
    c = services.record_qmb_period(organization_id=actor.organization_id, patient_id=patient_id, start=body.start,
                                   end=body.end, evidence=body.evidence, source=body.source, actor=actor)
    return {"created": c.created, "updated": c.updated, "unchanged": c.unchanged, "unmatched": 0, "rejected": 0}


@router.post("/patients/{patient_id}/device-days")
def device_day(request: HttpRequest, patient_id: int, body: DeviceDayIn) -> dict[str, object]:
    actor = require_permission(actor_from_request(request), "program.enroll")
    assert actor.organization_id is not None
    row = services.record_device_day(organization_id=actor.organization_id, patient_id=patient_id, kind=body.kind,
                                     day=body.day, readings=body.readings, actor=actor)
    return {"id": row.pk, "kind": row.kind, "day": row.day.isoformat(), "readings": row.readings}
