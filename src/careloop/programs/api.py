"""Programs over REST. This issue: the patient's designated care-team member. Role-checked, scoped, audited."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit.services import record_event
from careloop.core.errors import NotFound
from careloop.programs import selectors, services
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
