"""Audit trail over REST: a patient's trail as FHIR AuditEvent resources, and chain verification."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Router

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit import export, selectors
from careloop.audit.services import EventSpec, record_events

router = Router(tags=["audit"])


@router.get("/patients/{patient_id}/fhir")
def patient_audit_bundle(request: HttpRequest, patient_id: int) -> dict[str, Any]:
    actor = require_permission(actor_from_request(request), "audit.read")
    assert actor.organization_id is not None
    events = selectors.patient_audit_trail(organization_id=actor.organization_id, patient_id=patient_id)
    bundle = export.audit_bundle(list(events))
    with transaction.atomic():
        record_events(actor=actor, events=[EventSpec("audit.trail_exported", patient_id, "Patient", str(patient_id))])
    return bundle


@router.get("/verify")
def verify(request: HttpRequest) -> dict[str, Any]:
    require_permission(actor_from_request(request), "audit.verify")
    checked, problems = selectors.verify_all_chains()
    return {"rows_checked": checked, "ok": not problems, "problems": [p.__dict__ for p in problems]}
