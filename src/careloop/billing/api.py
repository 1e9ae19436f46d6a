"""Billing over REST (/api/billing/): month summary and explained decisions, one patient-month with its trace,
the run, the CSV. Role-checked, tenant-scoped, audited. The 837P route is in careloop.interop.x12.views."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit.services import EventSpec, record_event, record_events
from careloop.billing import exports, selectors, services
from careloop.billing.views import evidence_provider
from careloop.clinics.models import Organization
from careloop.core.errors import NotFound

router = Router(tags=["billing"])


class LineOut(Schema):
    id: int
    code: str
    units: int
    status: str
    practitioner_id: int | None
    service_date: str | None
    diagnoses: list[str]
    rule_ids: list[str]
    reason: str
    allowed_amount: str
    patient_share: str
    place_of_service: str


class RowOut(Schema):
    patient_id: int
    name: str
    revision: int
    billable: list[LineOut]
    denied: list[LineOut]
    flagged: list[LineOut]
    warnings: list[dict[str, Any]]
    allowed: str
    patient_share: str


class MonthOut(Schema):
    month: str
    patients: int
    billable_lines: int
    denied: int
    flagged: int
    corrections: int
    allowed: str
    patient_share: str
    by_code: dict[str, int]
    total: int
    rows: list[RowOut]


class CorrectionOut(Schema):
    at: dt.datetime
    from_revision: int
    to_revision: int
    reason: str
    voided: list[dict[str, Any]]
    added: list[dict[str, Any]]


class DecisionOut(Schema):
    patient_id: int
    month: str
    revision: int
    ruleset: str
    facts_hash: str
    facts: dict[str, Any]
    decision: dict[str, Any]
    lines: list[LineOut]
    corrections: list[CorrectionOut]


class RunIn(Schema):
    month: str


def _org(actor: Any) -> Organization:
    return Organization.objects.get(pk=actor.organization_id)


@router.get("/months/{month}", response=MonthOut)
def month(request: HttpRequest, month: str, status: str = "", limit: int = 200, offset: int = 0) -> dict[str, Any]:
    actor = require_permission(actor_from_request(request), "billing.view")
    assert actor.organization_id is not None
    selectors.month_bounds(month)
    rows, total = selectors.month_rows(organization_id=actor.organization_id, month=month, status=status,
                                       limit=max(1, min(limit, 1000)), offset=max(0, offset))
    s = selectors.month_summary(organization_id=actor.organization_id, month=month)
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("billing.month_viewed", r.patient_id, "PatientMonth",
                                                     f"{r.patient_id}:{month}") for r in rows])
    return {
        "month": month, "patients": s.patients, "billable_lines": s.billable_lines, "denied": s.denied,
        "flagged": s.flagged, "corrections": s.corrections, "allowed": str(s.allowed),
        "patient_share": str(s.patient_share), "by_code": s.by_code, "total": total,
        "rows": [{**r.__dict__, "allowed": str(r.allowed), "patient_share": str(r.patient_share)} for r in rows],
    }


@router.get("/months/{month}/patients/{patient_id}", response=DecisionOut)
def patient_month(request: HttpRequest, month: str, patient_id: int) -> dict[str, Any]:
    actor = require_permission(actor_from_request(request), "billing.view")
    assert actor.organization_id is not None
    selectors.month_bounds(month)
    d = selectors.decision_for(organization_id=actor.organization_id, patient_id=patient_id, month=month)
    if d is None:
        raise NotFound("no billing decision for this patient and month")
    lines = selectors.lines(organization_id=actor.organization_id, month=month, patient_id=patient_id,
                            statuses=["billable", "denied", "flagged", "void"])
    with transaction.atomic():
        record_event(actor=actor, action="billing.decision_viewed", patient_id=patient_id,
                     object_type="PatientMonthDecision", object_id=str(d.pk))
    return {
        "patient_id": patient_id, "month": month, "revision": d.revision, "ruleset": d.ruleset,
        "facts_hash": d.facts_hash, "facts": d.facts, "decision": d.decision,
        "lines": [selectors._line_json(ln) for ln in lines],
        "corrections": list(selectors.corrections(organization_id=actor.organization_id, month=month,
                                                  patient_id=patient_id).values(
            "at", "from_revision", "to_revision", "reason", "voided", "added")),
    }


@router.post("/runs", response=dict[str, Any])
def run(request: HttpRequest, body: RunIn) -> dict[str, Any]:
    actor = require_permission(actor_from_request(request), "billing.run")
    counts = services.run_billing_month(organization=_org(actor), month=body.month, actor=actor,
                                        evidence=evidence_provider())
    return counts.as_json()


@router.get("/months/{month}/claims.csv")
def month_csv(request: HttpRequest, month: str) -> HttpResponse:
    actor = require_permission(actor_from_request(request), "billing.export")
    assert actor.organization_id is not None
    selectors.month_bounds(month)
    response = HttpResponse(exports.month_csv(organization_id=actor.organization_id, month=month, actor=actor),
                            content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="careloop-claims-{month}.csv"'
    return response
