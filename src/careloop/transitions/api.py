"""Transitions over REST (/api/transitions/...): board, episodes, checklist, medication reconciliation and the
Da Vinci unsolicited notification endpoint. Every route is role-checked, tenant-scoped and audited."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.audit.services import record_event
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.transitions import medrec, selectors, services, views_data
from careloop.transitions.notifications import BadNotification, receive_notification
from careloop.transitions.rules import Med

router = Router(tags=["transitions"])


def _actor(request: HttpRequest, permission: str) -> tuple[Actor, int]:
    actor = require_permission(actor_from_request(request), permission)
    assert actor.organization_id is not None
    return actor, actor.organization_id


class ChecklistIn(Schema):
    item: str
    note: str = ""


class MedIn(Schema):
    rxnorm: str = ""
    display: str = ""
    dosage: str = ""


class MedsIn(Schema):
    medications: list[MedIn]


@router.get("/board")
def board(request: HttpRequest) -> dict[str, Any]:
    actor, org = _actor(request, "transitions.read")
    out = views_data.board(organization_id=org, actor=actor)
    record_event(actor=actor, organization_id=org, action="transition.board_viewed", object_type="TransitionBoard",
                 detail={k: len(v) for k, v in out.items()})
    return out


@router.get("/episodes")
def list_episodes(request: HttpRequest, status: str = "", patient_id: int | None = None) -> dict[str, Any]:
    actor, org = _actor(request, "transitions.read")
    now = clock.now()
    rows = [views_data.episode_row(ep, now) for ep in
            selectors.episodes(organization_id=org, status=status, patient_id=patient_id)[:500]]
    record_event(actor=actor, organization_id=org, action="transition.listed", patient_id=patient_id,
                 object_type="TransitionEpisode", detail={"count": len(rows)})
    return {"results": rows}


@router.get("/episodes/{episode_id}")
def get_episode(request: HttpRequest, episode_id: int) -> dict[str, Any]:
    actor, org = _actor(request, "transitions.read")
    return views_data.episode_detail(organization_id=org, episode_id=episode_id, actor=actor)


@router.post("/episodes/{episode_id}/checklist")
def tick_checklist(request: HttpRequest, episode_id: int, payload: ChecklistIn) -> dict[str, Any]:
    actor, org = _actor(request, "transitions.write")
    ep = services.record_checklist_item(organization_id=org, episode_id=episode_id, item=payload.item,
                                        actor=actor, note=payload.note)
    return {"id": ep.pk, "status": ep.status}


@router.get("/episodes/{episode_id}/medication-reconciliation")
def worksheet(request: HttpRequest, episode_id: int) -> dict[str, Any]:
    actor, org = _actor(request, "transitions.read")
    ws = medrec.medication_worksheet(organization_id=org, episode_id=episode_id, actor=actor)
    ep = selectors.episode(organization_id=org, episode_id=episode_id)
    assert ep is not None
    services._audit(actor, ep, "transition.medications_viewed")
    return {"episode_id": ws.episode_id, "completed_at": ws.completed_at, "completed_by": ws.completed_by,
            "lines": [ln.__dict__ for ln in ws.lines]}


@router.post("/episodes/{episode_id}/discharge-medications")
def add_meds(request: HttpRequest, episode_id: int, payload: MedsIn) -> dict[str, int]:
    actor, org = _actor(request, "transitions.write")
    n = medrec.add_discharge_medications(organization_id=org, episode_id=episode_id, actor=actor,
                                         meds=[Med(m.rxnorm, m.display, m.dosage) for m in payload.medications])
    return {"added": n}


@router.post("/episodes/{episode_id}/medication-reconciliation/complete")
def complete_medrec(request: HttpRequest, episode_id: int) -> dict[str, Any]:
    actor, org = _actor(request, "transitions.medrec")
    ep = medrec.complete_medication_reconciliation(organization_id=org, episode_id=episode_id, actor=actor)
    return {"id": ep.pk, "medrec_at": ep.medrec_at, "status": ep.status}


def _outcome(status: int, severity: str, code: str, text: str, **extra: Any) -> HttpResponse:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code, "diagnostics": text}],
            **extra}
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/fhir+json")


@router.post("/notifications", openapi_extra={"requestBody": {"content": {"application/fhir+json": {
    "schema": {"type": "object"}}}}})
def notification(request: HttpRequest) -> HttpResponse:
    """A Da Vinci unsolicited notification Bundle (admit / transfer / discharge)."""
    actor, org = _actor(request, "transitions.notify")
    try:
        result = receive_notification(body=request.body, actor=actor)
    except BadNotification as exc:
        record_event(actor=actor, organization_id=org, action="transition.notification_rejected",
                     outcome="failure", detail={"reason": str(exc)[:300]})
        return _outcome(exc.status, "error", "invalid", str(exc))
    return _outcome(200, "information", "informational", f"{result.event} notification applied",
                    encounter_id=result.encounter_id, episode_id=result.episode_id, patient_id=result.patient_id)
