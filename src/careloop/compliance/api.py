"""APCM compliance over REST (/api/compliance/...): practice capabilities with suggested evidence, clinician
performance pathways, month coverage, and the patient-month evidence packet (PDF or FHIR Bundle).
Every route is role-checked and tenant-scoped; PHI reads are audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit.services import record_event
from careloop.compliance import rules, selectors, services
from careloop.compliance.choices import CapabilityKey
from careloop.compliance.models import ClinicianPathway, PracticeCapability
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import ValidationFailed

router = Router(tags=["compliance"])


def _actor(request: HttpRequest, permission: str) -> tuple[Actor, int]:
    actor = require_permission(actor_from_request(request), permission)
    assert actor.organization_id is not None
    return actor, actor.organization_id


def default_month(organization_id: int) -> str:
    return clock.month_of(clock.today(selectors.organization(organization_id).time_zone))


def checked_month(month: str, organization_id: int) -> str:
    month = month or default_month(organization_id)
    try:
        rules.parse_month(month)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field_errors={"month": "YYYY-MM"}) from exc
    return month


def capability_row(c: PracticeCapability) -> dict[str, Any]:
    return {"id": c.pk, "key": c.key, "effective_from": c.effective_from.isoformat(),
            "effective_to": c.effective_to.isoformat() if c.effective_to else None, "evidence": c.evidence,
            "evidence_link": c.evidence_link, "recorded_by": c.recorded_by}


def pathway_row(p: ClinicianPathway) -> dict[str, Any]:
    return {"id": p.pk, "practitioner_id": p.practitioner_id, "practitioner": str(p.practitioner),
            "npi": p.practitioner.npi, "performance_year": p.performance_year, "pathway": p.pathway,
            "evidence": p.evidence, "evidence_link": p.evidence_link}


def capability_board(organization_id: int, month: str) -> list[dict[str, Any]]:
    """One row per capability key: in force for the whole month?, the records, the platform's suggestion."""
    records = list(selectors.capability_records(organization_id=organization_id))
    first, last = rules.parse_month(month)
    in_force = rules.keys_in_force(selectors.capability_periods(organization_id=organization_id), first, last)
    suggested = rules.suggest_evidence(selectors.platform_signals(organization_id=organization_id, month=month),
                                       month)
    return [{"key": k, "label": label, "in_force": k in in_force, "suggested_evidence": suggested[k],
             "records": [capability_row(c) for c in records if c.key == k]}
            for k, label in CapabilityKey.choices]


class CapabilityIn(Schema):
    key: str
    effective_from: dt.date
    effective_to: dt.date | None = None
    evidence: str
    evidence_link: str = ""


class EndIn(Schema):
    effective_to: dt.date


class PathwayIn(Schema):
    practitioner_id: int
    performance_year: int
    pathway: str
    evidence: str = ""
    evidence_link: str = ""


@router.get("/capabilities")
def capabilities(request: HttpRequest, month: str = "") -> dict[str, Any]:
    _, org = _actor(request, "compliance.read")
    month = checked_month(month, org)
    return {"month": month, "capabilities": capability_board(org, month)}


@router.post("/capabilities")
def add_capability(request: HttpRequest, body: CapabilityIn) -> dict[str, Any]:
    actor, _ = _actor(request, "compliance.manage")
    return capability_row(services.record_capability(
        actor=actor, key=body.key, effective_from=body.effective_from, effective_to=body.effective_to,
        evidence=body.evidence, evidence_link=body.evidence_link))


@router.post("/capabilities/{capability_id}/end")
def end_capability(request: HttpRequest, capability_id: int, body: EndIn) -> dict[str, Any]:
    actor, _ = _actor(request, "compliance.manage")
    return capability_row(services.end_capability(actor=actor, capability_id=capability_id,
                                                  effective_to=body.effective_to))


@router.get("/pathways")
def list_pathways(request: HttpRequest, year: int | None = None) -> list[dict[str, Any]]:
    _, org = _actor(request, "compliance.read")
    return [pathway_row(p) for p in selectors.pathways(organization_id=org, year=year)]


@router.post("/pathways")
def add_pathway(request: HttpRequest, body: PathwayIn) -> dict[str, Any]:
    actor, _ = _actor(request, "compliance.manage")
    row = services.record_pathway(actor=actor, practitioner_id=body.practitioner_id,
                                  performance_year=body.performance_year, pathway=body.pathway,
                                  evidence=body.evidence, evidence_link=body.evidence_link)
    return pathway_row(selectors.pathways(organization_id=row.organization_id).get(pk=row.pk))


@router.get("/coverage")
def coverage(request: HttpRequest, month: str = "") -> dict[str, Any]:
    actor, org = _actor(request, "compliance.read")
    month = checked_month(month, org)
    summary = coverage_for(actor, org, month)
    return summary.as_json()


def coverage_for(actor: Actor, org: int, month: str) -> rules.CoverageSummary:
    """The month's coverage summary; the read is audited (the gap list names patients)."""
    first, last = rules.parse_month(month)
    as_of = min(last, clock.today(selectors.organization(org).time_zone))
    summary = selectors.coverage_summary(organization_id=org, month=month, as_of=as_of)
    record_event(actor=actor, organization_id=org, action="compliance.coverage_viewed", object_type="APCMCoverage",
                 object_id=month, detail={"patients": summary.patients,
                                          "gap_patients": sorted({g.patient_id for g in summary.gaps})[:500]})
    return summary


class AttestationIn(Schema):
    month: str
    statement: str


@router.post("/patients/{patient_id}/attestations")
def attest(request: HttpRequest, patient_id: int, body: AttestationIn) -> dict[str, Any]:
    actor, _ = _actor(request, "compliance.attest")
    row = services.attest_month(actor=actor, patient_id=patient_id, month=body.month, statement=body.statement)
    return {"id": row.pk, "patient_id": patient_id, "month": row.month, "statement": row.statement,
            "attested_by": row.attested_by}


@router.get("/patients/{patient_id}/packet")
def packet(request: HttpRequest, patient_id: int, month: str = "", format: str = "pdf") -> HttpResponse:
    actor, org = _actor(request, "compliance.packet")
    p = services.evidence_packet(actor=actor, patient_id=patient_id, month=checked_month(month, org), fmt=format)
    response = HttpResponse(p.content, content_type=p.content_type)
    response["Content-Disposition"] = f'attachment; filename="{p.filename}"'
    return response
